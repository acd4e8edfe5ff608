//! Outbound sends: at-least-once with client-minted ids, acks matched by id, bounded
//! resends after a drop, terminal chat closure, and a reason for every failure.

use serde::{Deserialize, Serialize};

use crate::protocol::{send_codes, Ack, SendFailure};

use super::dedupe::Recent;

/// Bounds of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Most sends waiting at once (PROTOCOL.md reference: 128).
    pub capacity: usize,
    /// Most times one frame is written to a socket.
    pub max_attempts: u32,
    /// Oldest a send may get before it fails, in ms.
    pub max_age_ms: i64,
    /// How long an in-flight send waits for its ack, in ms.
    pub ack_timeout_ms: i64,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits {
            capacity: 128,
            max_attempts: 5,
            max_age_ms: 5 * 60_000,
            ack_timeout_ms: 15_000,
        }
    }
}

/// A send waiting for its ack: plain data, so the queue can be persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedSend {
    /// `msg-<ULID>`.
    pub message_id: String,
    /// Where it goes.
    pub chat_id: String,
    /// The uplink's trace id.
    pub trace_id: String,
    /// The exact encoded frame; resends reuse it byte for byte.
    pub frame: String,
    /// When the app asked to send (ms).
    pub created_at: i64,
    /// How many times it was written to a socket.
    pub attempts: u32,
    /// When it was last written (ms), if it is in flight on the current socket.
    pub in_flight_since: Option<i64>,
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendErrorKind {
    /// The server answered `message.error`.
    Rejected,
    /// The chat was closed for sending by an earlier terminal error.
    ChatClosed,
    /// No ack within the ack timeout.
    AckTimeout,
    /// The ack carried another message id.
    AckMismatch,
    /// Too many attempts or too old.
    Expired,
    /// The outbox is full.
    QueueFull,
    /// The client was closed or logged out.
    Closed,
    /// The send could not be built (no secure random source, bad input).
    Invalid,
}

/// A failed send, with everything the app needs to explain it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendError {
    /// The class of failure.
    pub kind: SendErrorKind,
    /// The server's code, for `Rejected` and `ChatClosed`.
    pub code: Option<String>,
    /// Human-readable reason.
    pub reason: String,
    /// The message id.
    pub message_id: String,
    /// The chat.
    pub chat_id: String,
    /// The uplink trace id.
    pub trace_id: String,
}

/// A send the server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// The message id.
    pub message_id: String,
    /// Server acceptance time (ms).
    pub accepted_at: i64,
}

/// The end of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Which send.
    pub message_id: String,
    /// Accepted, or why not.
    pub outcome: Result<Accepted, SendError>,
}

/// How many closed chats are remembered (**ours**): the server names the chat ids, so
/// the map is capped; a forgotten one is learned again from the server's next refusal.
pub const MAX_CLOSED_CHATS: usize = 256;

/// The reason a chat was closed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClosedChat {
    code: String,
    reason: String,
}

/// The queue of sends, in the order they were made.
#[derive(Debug)]
pub struct Outbox {
    sends: Vec<QueuedSend>,
    closed_chats: Recent<ClosedChat>,
    limits: OutboxLimits,
}

impl Outbox {
    /// An empty outbox with these limits.
    pub fn new(limits: OutboxLimits) -> Self {
        Outbox {
            sends: Vec::new(),
            closed_chats: Recent::new(MAX_CLOSED_CHATS),
            limits,
        }
    }

    /// Sends still waiting (queued or in flight), oldest first.
    pub fn pending(&self) -> &[QueuedSend] {
        &self.sends
    }

    fn failure(
        send: &QueuedSend,
        kind: SendErrorKind,
        code: Option<String>,
        reason: String,
    ) -> Completion {
        Completion {
            message_id: send.message_id.clone(),
            outcome: Err(SendError {
                kind,
                code,
                reason,
                message_id: send.message_id.clone(),
                chat_id: send.chat_id.clone(),
                trace_id: send.trace_id.clone(),
            }),
        }
    }

    /// Queues `send`, or fails it at once (chat closed, queue full, duplicate id).
    pub fn enqueue(&mut self, send: QueuedSend) -> Result<(), Box<Completion>> {
        if let Some(closed) = self.closed_chats.get(&send.chat_id) {
            let reason = format!("chat is closed for sending: {}", closed.reason);
            return Err(Box::new(Self::failure(
                &send,
                SendErrorKind::ChatClosed,
                Some(closed.code.clone()),
                reason,
            )));
        }
        if self.sends.iter().any(|s| s.message_id == send.message_id) {
            let reason = "a send with this message id is already pending".to_owned();
            return Err(Box::new(Self::failure(
                &send,
                SendErrorKind::Invalid,
                None,
                reason,
            )));
        }
        if self.sends.len() >= self.limits.capacity {
            let reason = format!("send queue is full ({} pending)", self.sends.len());
            return Err(Box::new(Self::failure(
                &send,
                SendErrorKind::QueueFull,
                None,
                reason,
            )));
        }
        self.sends.push(send);
        Ok(())
    }

    /// The frames to write now (everything not in flight), marked in flight at `now`.
    pub fn take_unsent(&mut self, now: i64) -> Vec<String> {
        self.sends
            .iter_mut()
            .filter(|s| s.in_flight_since.is_none())
            .map(|s| {
                s.in_flight_since = Some(now);
                s.attempts += 1;
                s.frame.clone()
            })
            .collect()
    }

    fn remove(&mut self, index: usize) -> QueuedSend {
        self.sends.remove(index)
    }

    /// Matches an ack by trace id, then by message id. An ack whose message id differs
    /// from the matched send's fails that send; an ack matching nothing is ignored.
    pub fn on_ack(&mut self, trace_id: &str, ack: &Ack) -> Option<Completion> {
        let by_trace = self
            .sends
            .iter()
            .position(|s| !trace_id.is_empty() && s.trace_id == trace_id);
        let index = by_trace.or_else(|| {
            self.sends
                .iter()
                .position(|s| s.message_id == ack.message_id)
        })?;
        let send = self.remove(index);
        if send.message_id != ack.message_id {
            let reason = format!(
                "ack message_id mismatch: expected {} got {}",
                send.message_id, ack.message_id
            );
            return Some(Self::failure(
                &send,
                SendErrorKind::AckMismatch,
                None,
                reason,
            ));
        }
        Some(Completion {
            message_id: send.message_id,
            outcome: Ok(Accepted {
                message_id: ack.message_id.clone(),
                accepted_at: ack.accepted_at,
            }),
        })
    }

    /// A `message.error`: fails the matching send (by message id, else trace id); a
    /// terminal code also closes the chat and fails everything queued for it.
    pub fn on_send_error(
        &mut self,
        trace_id: &str,
        chat_id: Option<&str>,
        failure: &SendFailure,
    ) -> Vec<Completion> {
        let mut done = Vec::new();
        let matched = self
            .sends
            .iter()
            .position(|s| failure.message_id.as_deref() == Some(s.message_id.as_str()))
            .or_else(|| {
                self.sends
                    .iter()
                    .position(|s| !trace_id.is_empty() && s.trace_id == trace_id)
            });
        let chat = chat_id
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .or_else(|| matched.map(|i| self.sends[i].chat_id.clone()));
        if let Some(index) = matched {
            let send = self.remove(index);
            let reason = failure.hint().to_owned();
            done.push(Self::failure(
                &send,
                SendErrorKind::Rejected,
                Some(failure.code.clone()),
                reason,
            ));
        }
        if let Some(chat) = chat.filter(|_| send_codes::is_terminal(&failure.code)) {
            let closed = ClosedChat {
                code: failure.code.clone(),
                reason: failure.hint().to_owned(),
            };
            let (dead, alive): (Vec<_>, Vec<_>) =
                self.sends.drain(..).partition(|s| s.chat_id == chat);
            self.sends = alive;
            for send in dead {
                let reason = format!("chat is closed for sending: {}", closed.reason);
                done.push(Self::failure(
                    &send,
                    SendErrorKind::ChatClosed,
                    Some(closed.code.clone()),
                    reason,
                ));
            }
            self.closed_chats.insert(&chat, closed);
        }
        done
    }

    /// The socket went away: in-flight sends go back to the queue to be re-sent with the
    /// same frame, unless they have used up their attempts.
    pub fn on_disconnect(&mut self) -> Vec<Completion> {
        let max_attempts = self.limits.max_attempts;
        let mut done = Vec::new();
        self.sends.retain_mut(|send| {
            send.in_flight_since = None;
            if send.attempts >= max_attempts {
                let reason = format!("not acknowledged after {} attempts", send.attempts);
                done.push(Self::failure(send, SendErrorKind::Expired, None, reason));
                return false;
            }
            true
        });
        done
    }

    /// Fails sends whose ack is overdue or that are too old.
    pub fn on_tick(&mut self, now: i64) -> Vec<Completion> {
        let limits = self.limits;
        let mut done = Vec::new();
        self.sends.retain(|send| {
            if send
                .in_flight_since
                .is_some_and(|at| now - at >= limits.ack_timeout_ms)
            {
                let reason = format!("no ack within {} s", limits.ack_timeout_ms / 1000);
                done.push(Self::failure(send, SendErrorKind::AckTimeout, None, reason));
                return false;
            }
            if now - send.created_at >= limits.max_age_ms {
                let reason = format!("not delivered within {} s", limits.max_age_ms / 1000);
                done.push(Self::failure(send, SendErrorKind::Expired, None, reason));
                return false;
            }
            true
        });
        done
    }

    /// Fails every pending send with `reason` (logout, explicit close).
    pub fn fail_all(&mut self, reason: &str) -> Vec<Completion> {
        self.sends
            .drain(..)
            .map(|send| Self::failure(&send, SendErrorKind::Closed, None, reason.to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(id: &str, chat: &str, at: i64) -> QueuedSend {
        QueuedSend {
            message_id: id.into(),
            chat_id: chat.into(),
            trace_id: format!("t-{id}"),
            frame: format!("frame-{id}"),
            created_at: at,
            attempts: 0,
            in_flight_since: None,
        }
    }

    fn ack(id: &str) -> Ack {
        Ack {
            message_id: id.into(),
            accepted_at: 77,
        }
    }

    fn failure(code: &str) -> SendFailure {
        SendFailure {
            code: code.into(),
            reason: Some("nope".into()),
            message: None,
            message_id: None,
        }
    }

    fn kind(c: &Completion) -> SendErrorKind {
        c.outcome.as_ref().unwrap_err().kind
    }

    #[test]
    fn a_matching_ack_resolves_and_a_mismatched_one_fails() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send("m1", "c", 0)).unwrap();
        outbox.enqueue(send("m2", "c", 0)).unwrap();
        assert_eq!(outbox.take_unsent(1), ["frame-m1", "frame-m2"]);
        let done = outbox.on_ack("t-m1", &ack("m1")).unwrap();
        assert_eq!(
            done.outcome,
            Ok(Accepted {
                message_id: "m1".into(),
                accepted_at: 77
            })
        );
        let done = outbox.on_ack("t-m2", &ack("m-other")).unwrap();
        assert_eq!(kind(&done), SendErrorKind::AckMismatch);
        assert!(outbox.on_ack("t-x", &ack("unknown")).is_none());
        assert!(outbox.pending().is_empty());
    }

    #[test]
    fn a_drop_resends_the_same_frame_until_attempts_run_out() {
        let limits = OutboxLimits {
            max_attempts: 2,
            ..Default::default()
        };
        let mut outbox = Outbox::new(limits);
        outbox.enqueue(send("m1", "c", 0)).unwrap();
        assert_eq!(outbox.take_unsent(0), ["frame-m1"]);
        assert!(
            outbox.take_unsent(0).is_empty(),
            "in flight is not re-sent on the same socket"
        );
        assert!(outbox.on_disconnect().is_empty());
        assert_eq!(outbox.take_unsent(5), ["frame-m1"], "same frame, same id");
        let done = outbox.on_disconnect();
        assert_eq!(kind(&done[0]), SendErrorKind::Expired);
        assert!(done[0]
            .outcome
            .as_ref()
            .unwrap_err()
            .reason
            .contains("2 attempts"));
    }

    #[test]
    fn overdue_acks_and_old_queued_sends_fail_on_tick() {
        let limits = OutboxLimits {
            ack_timeout_ms: 100,
            max_age_ms: 1_000,
            ..Default::default()
        };
        let mut outbox = Outbox::new(limits);
        outbox.enqueue(send("flying", "c", 0)).unwrap();
        outbox.take_unsent(0);
        outbox.enqueue(send("queued", "c", 0)).unwrap();
        assert!(outbox.on_tick(99).is_empty());
        let done = outbox.on_tick(100);
        assert_eq!((done.len(), kind(&done[0])), (1, SendErrorKind::AckTimeout));
        assert!(outbox.on_tick(999).is_empty());
        assert_eq!(kind(&outbox.on_tick(1_000)[0]), SendErrorKind::Expired);
    }

    #[test]
    fn a_terminal_error_closes_the_chat_and_fails_its_queue() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send("m1", "dead", 0)).unwrap();
        outbox.enqueue(send("m2", "dead", 0)).unwrap();
        outbox.enqueue(send("m3", "alive", 0)).unwrap();
        let done = outbox.on_send_error("t-m1", Some("dead"), &failure(send_codes::NOT_A_MEMBER));
        assert_eq!(done.len(), 2);
        let first = done[0].outcome.as_ref().unwrap_err();
        assert_eq!(
            (first.kind, first.code.as_deref(), first.reason.as_str()),
            (SendErrorKind::Rejected, Some("not_a_member"), "nope")
        );
        assert_eq!(
            (first.chat_id.as_str(), first.trace_id.as_str()),
            ("dead", "t-m1")
        );
        assert_eq!(kind(&done[1]), SendErrorKind::ChatClosed);
        assert_eq!(outbox.pending().len(), 1);
        let later = outbox.enqueue(send("m4", "dead", 1)).unwrap_err();
        assert_eq!(kind(&later), SendErrorKind::ChatClosed);
        assert!(later.outcome.unwrap_err().reason.contains("nope"));
    }

    #[test]
    fn a_non_terminal_error_fails_only_its_send_and_unmatched_terminal_still_closes() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send("m1", "c", 0)).unwrap();
        outbox.enqueue(send("m2", "c", 0)).unwrap();
        let mut by_id = failure(send_codes::INVALID_PAYLOAD);
        by_id.message_id = Some("m2".into());
        let done = outbox.on_send_error("", Some("c"), &by_id);
        assert_eq!((done.len(), done[0].message_id.as_str()), (1, "m2"));
        let done = outbox.on_send_error(
            "t-none",
            Some("other"),
            &failure(send_codes::CHAT_NOT_FOUND),
        );
        assert!(done.is_empty());
        assert_eq!(
            kind(&outbox.enqueue(send("m5", "other", 0)).unwrap_err()),
            SendErrorKind::ChatClosed
        );
    }

    #[test]
    fn the_queue_is_bounded_and_ids_are_unique() {
        let mut outbox = Outbox::new(OutboxLimits {
            capacity: 1,
            ..Default::default()
        });
        outbox.enqueue(send("m1", "c", 0)).unwrap();
        assert_eq!(
            kind(&outbox.enqueue(send("m1", "c", 0)).unwrap_err()),
            SendErrorKind::Invalid
        );
        assert_eq!(
            kind(&outbox.enqueue(send("m2", "c", 0)).unwrap_err()),
            SendErrorKind::QueueFull
        );
        let done = outbox.fail_all("logged out");
        assert_eq!((done.len(), kind(&done[0])), (1, SendErrorKind::Closed));
    }

    #[test]
    fn queued_sends_are_plain_serialisable_data() {
        let original = send("m1", "c", 5);
        let text = serde_json::to_string(&original).unwrap();
        assert_eq!(serde_json::from_str::<QueuedSend>(&text).unwrap(), original);
    }
}
