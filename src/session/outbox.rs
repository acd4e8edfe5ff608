//! Outbound sends: at-least-once with client-minted ids, acks matched by id, resent on
//! every new connection until acked, terminally rejected or too old, and a reason for
//! every failure. Each send has a durable form, [`OutboxRow`], that the shell stores
//! before the send is first written and removes when it ends.

use std::fmt;

use crate::json;
use crate::protocol::{decode, ids, send_codes, Ack, Event, Fragment, SendFailure};

use super::clock::Now;

use super::dedupe::Recent;

mod codec;

pub use codec::{stored_message_id, StoredRow};

/// Bounds of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Most sends waiting at once (PROTOCOL.md reference: 128).
    pub capacity: usize,
    /// Oldest a send may get before it fails, in ms (**ours**: a durable queue keeps a
    /// send for a day, across reloads).
    pub max_age_ms: i64,
    /// How long an in-flight send waits for its ack before it is *unconfirmed*, in ms.
    pub ack_timeout_ms: i64,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits {
            capacity: 128,
            max_age_ms: 24 * 60 * 60_000,
            ack_timeout_ms: 15_000,
        }
    }
}

/// Where a queued send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Its row is being stored; it is not written to a socket before that is done.
    Saving,
    /// Stored; written on every new connection until it ends.
    Queued,
    /// Written, but no ack came in time (or the server failed to store it): it may have
    /// been delivered. Written again, same id and frame, on the next connection.
    Unconfirmed,
}

/// A send waiting for its ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSend {
    /// `msg-<ULID>`.
    pub message_id: String,
    /// Where it goes.
    pub chat_id: String,
    /// The uplink's trace id.
    pub trace_id: String,
    /// The exact encoded frame; resends reuse it byte for byte.
    pub frame: String,
    /// When the app asked to send, on the wall clock (kept in the row, for age across
    /// reloads).
    pub created_at: i64,
    /// When the app asked to send, on the monotonic clock (for age in this page).
    pub created_mono: i64,
    /// How many times it was written to a socket (informational: there is no cap).
    pub attempts: u32,
    /// When it was last written (monotonic ms), if it is in flight on the current socket.
    pub in_flight_since: Option<i64>,
    /// Where it stands.
    pub status: SendStatus,
}

impl QueuedSend {
    /// Its durable form.
    pub fn row(&self) -> OutboxRow {
        OutboxRow {
            message_id: self.message_id.clone(),
            chat_id: self.chat_id.clone(),
            trace_id: self.trace_id.clone(),
            frame: self.frame.clone(),
            created_at: self.created_at,
            status: match self.status {
                SendStatus::Unconfirmed => RowStatus::Unconfirmed,
                SendStatus::Saving | SendStatus::Queued => RowStatus::Queued,
            },
        }
    }
}

/// The stored status of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// Not known to have reached the server.
    Queued,
    /// Written and not acked in time: may have been delivered.
    Unconfirmed,
}

/// A queued send as stored (IndexedDB or memory): plain serialisable data, restored with
/// [`OutboxRow::parse`] after a reload or by the tab that becomes leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// `msg-<ULID>` (the store's key).
    pub message_id: String,
    /// Where it goes.
    pub chat_id: String,
    /// The uplink's trace id (acks are matched on it).
    pub trace_id: String,
    /// The exact encoded frame, written again byte for byte.
    pub frame: String,
    /// When the app asked to send (wall-clock epoch ms).
    pub created_at: i64,
    /// Its status.
    pub status: RowStatus,
}

/// Why a stored row was not restored. Never holds the frame or message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// Not a row at all (missing or mistyped fields).
    Shape(String),
    /// The message id is not `msg-<ULID>`.
    MessageId,
    /// The chat id is blank.
    ChatId,
    /// The creation time is not a positive epoch time.
    CreatedAt,
    /// The frame does not decode.
    Frame(String),
    /// The frame is not a `message.send` or `message.reply`.
    NotASend,
    /// The frame disagrees with the row on this field.
    Mismatch(&'static str),
    /// A send with this id is already queued.
    AlreadyPending,
    /// The queue is full; the row stays stored but is not loaded.
    QueueFull,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::Shape(detail) => write!(f, "not an outbox row: {detail}"),
            RowError::MessageId => f.write_str("outbox row: message id is not msg-<ULID>"),
            RowError::ChatId => f.write_str("outbox row: blank chat id"),
            RowError::CreatedAt => f.write_str("outbox row: bad creation time"),
            RowError::Frame(detail) => write!(f, "outbox row: frame does not decode: {detail}"),
            RowError::NotASend => f.write_str("outbox row: frame is not a send or reply"),
            RowError::Mismatch(field) => write!(f, "outbox row: frame and row differ on {field}"),
            RowError::AlreadyPending => f.write_str("outbox row: already pending"),
            RowError::QueueFull => f.write_str("outbox row: queue full, left in the store"),
        }
    }
}

impl std::error::Error for RowError {}

impl OutboxRow {
    /// Reads and validates a stored row (its JSON text): every field checked, the frame
    /// decoded and matched against the row. A corrupt row is an error, never a panic.
    pub fn parse(text: &str) -> Result<OutboxRow, RowError> {
        let row: OutboxRow = json::from_str(text).map_err(|e| RowError::Shape(e.to_string()))?;
        if !ids::is_message_id(&row.message_id) {
            return Err(RowError::MessageId);
        }
        if row.chat_id.trim().is_empty() {
            return Err(RowError::ChatId);
        }
        if row.created_at <= 0 {
            return Err(RowError::CreatedAt);
        }
        let frame = decode(&row.frame).map_err(|e| RowError::Frame(e.to_string()))?;
        let (Event::Send(payload) | Event::Reply(payload)) = &frame.event else {
            return Err(RowError::NotASend);
        };
        if payload.message_id != row.message_id {
            return Err(RowError::Mismatch("message_id"));
        }
        if frame.chat_id.as_deref() != Some(row.chat_id.as_str()) {
            return Err(RowError::Mismatch("chat_id"));
        }
        if frame.trace_id != row.trace_id {
            return Err(RowError::Mismatch("trace_id"));
        }
        Ok(row)
    }
}

/// A queued send as the app sees it (`pending()`): where it goes, what it says, where
/// it stands. Built from a stored row, so any tab (or a reloaded page) can list it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSend {
    /// The message id.
    pub message_id: String,
    /// The chat.
    pub chat_id: String,
    /// The plain text of the message.
    pub text: String,
    /// Its fragments.
    pub fragments: Vec<Fragment>,
    /// The message replied to, for replies.
    pub reply_to: Option<String>,
    /// When the app asked to send (wall-clock epoch ms).
    pub created_at: i64,
    /// Not known to have reached the server (`queued`) or maybe delivered
    /// (`unconfirmed`).
    pub status: RowStatus,
}

impl OutboxRow {
    /// The app's view of this row (a frame that does not decode shows no content).
    pub fn pending_send(&self) -> PendingSend {
        let payload = decode(&self.frame)
            .ok()
            .and_then(|frame| match frame.event {
                Event::Send(payload) | Event::Reply(payload) => Some(payload),
                _ => None,
            });
        let (fragments, reply_to) = payload
            .map(|p| {
                let reply = p.message.context.reply.map(|r| r.reply_to_msg_id);
                (p.message.body.fragments, reply)
            })
            .unwrap_or_default();
        PendingSend {
            message_id: self.message_id.clone(),
            chat_id: self.chat_id.clone(),
            text: crate::session::inbound::plain_text(&fragments),
            fragments,
            reply_to,
            created_at: self.created_at,
            status: self.status,
        }
    }
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendErrorKind {
    /// The server answered `message.error`.
    Rejected,
    /// The chat was closed for sending by an earlier terminal error.
    ChatClosed,
    /// The ack carried another message id.
    AckMismatch,
    /// Older than the queue's maximum age.
    Expired,
    /// The outbox is full.
    QueueFull,
    /// The client was closed or logged out.
    Closed,
    /// The send could not be built (no secure random source, bad input).
    Invalid,
    /// Relayed from another tab, and the tab owning the connection did not take or settle
    /// it in time (it may still have been delivered).
    Relay,
    /// The client was freed before the send ended: it may still go (a stored send goes
    /// with the account's next client).
    Freed,
}

/// A failed send, with everything the app needs to explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A send that may or may not have been delivered: still queued, written again on the
/// next connection with the same id (the server coalesces a duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    /// The message id.
    pub message_id: String,
    /// The chat.
    pub chat_id: String,
    /// The uplink trace id.
    pub trace_id: String,
    /// Why it is unconfirmed.
    pub reason: String,
}

/// What happened to a queued send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ended (and left the queue).
    Finished(Completion),
    /// It became unconfirmed; its row changed.
    Unconfirmed(Unconfirmed, OutboxRow),
}

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

    /// Sends still waiting (saving, queued, in flight or unconfirmed), oldest first.
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

    fn closed_failure(send: &QueuedSend, closed: &ClosedChat) -> Completion {
        let reason = format!("chat is closed for sending: {}", closed.reason);
        Self::failure(
            send,
            SendErrorKind::ChatClosed,
            Some(closed.code.clone()),
            reason,
        )
    }

    /// Queues `send`, or fails it at once (chat closed, queue full, duplicate id).
    pub fn enqueue(&mut self, send: QueuedSend) -> Result<(), Box<Completion>> {
        if let Some(closed) = self.closed_chats.get(&send.chat_id) {
            return Err(Box::new(Self::closed_failure(&send, closed)));
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

    /// The row of `message_id` is stored: the send may now be written. False when there
    /// is no such send waiting for its row.
    pub fn saved(&mut self, message_id: &str) -> bool {
        match self
            .sends
            .iter_mut()
            .find(|s| s.message_id == message_id && s.status == SendStatus::Saving)
        {
            Some(send) => {
                send.status = SendStatus::Queued;
                true
            }
            None => false,
        }
    }

    /// Loads a stored row (already on disk: no save needed). Its age counts from its
    /// wall-clock creation time as read `now` (a creation time in the future counts as
    /// new); from then on it ages on the monotonic clock. A row for a chat closed in
    /// this session ends at once.
    pub fn restore(&mut self, row: OutboxRow, now: Now) -> Result<Option<Completion>, RowError> {
        if self.sends.iter().any(|s| s.message_id == row.message_id) {
            return Err(RowError::AlreadyPending);
        }
        let age = now.wall.saturating_sub(row.created_at).max(0);
        let send = QueuedSend {
            created_mono: now.mono.saturating_sub(age),
            status: match row.status {
                RowStatus::Queued => SendStatus::Queued,
                RowStatus::Unconfirmed => SendStatus::Unconfirmed,
            },
            message_id: row.message_id,
            chat_id: row.chat_id,
            trace_id: row.trace_id,
            frame: row.frame,
            created_at: row.created_at,
            attempts: 0,
            in_flight_since: None,
        };
        if let Some(closed) = self.closed_chats.get(&send.chat_id) {
            return Ok(Some(Self::closed_failure(&send, closed)));
        }
        if self.sends.len() >= self.limits.capacity {
            return Err(RowError::QueueFull);
        }
        self.sends.push(send);
        Ok(None)
    }

    /// The frames to write now (stored and not in flight), marked in flight at `now`
    /// (monotonic ms).
    pub fn take_unsent(&mut self, now: i64) -> Vec<String> {
        self.sends
            .iter_mut()
            .filter(|s| s.in_flight_since.is_none() && s.status != SendStatus::Saving)
            .map(|s| {
                s.in_flight_since = Some(now);
                s.attempts = s.attempts.saturating_add(1);
                s.frame.clone()
            })
            .collect()
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
        let send = self.sends.remove(index);
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

    /// A `message.error`, matched by message id, else trace id. A retryable code leaves
    /// the send queued and unconfirmed; any other ends it; a chat-closing code also
    /// closes the chat and ends everything queued for it.
    pub fn on_send_error(
        &mut self,
        trace_id: &str,
        chat_id: Option<&str>,
        failure: &SendFailure,
    ) -> Vec<Outcome> {
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
            let reason = format!("{}: {}", failure.code, failure.hint());
            if send_codes::is_retryable(&failure.code) {
                done.extend(Self::unconfirm(&mut self.sends[index], reason));
            } else {
                let send = self.sends.remove(index);
                done.push(Outcome::Finished(Self::failure(
                    &send,
                    SendErrorKind::Rejected,
                    Some(failure.code.clone()),
                    failure.hint().to_owned(),
                )));
            }
        }
        if let Some(chat) = chat.filter(|_| send_codes::is_terminal(&failure.code)) {
            let closed = ClosedChat {
                code: failure.code.clone(),
                reason: failure.hint().to_owned(),
            };
            let (dead, alive): (Vec<_>, Vec<_>) =
                self.sends.drain(..).partition(|s| s.chat_id == chat);
            self.sends = alive;
            done.extend(
                dead.iter()
                    .map(|send| Outcome::Finished(Self::closed_failure(send, &closed))),
            );
            self.closed_chats.insert(&chat, closed);
        }
        done
    }

    fn unconfirm(send: &mut QueuedSend, reason: String) -> Option<Outcome> {
        if send.status == SendStatus::Unconfirmed {
            return None;
        }
        send.status = SendStatus::Unconfirmed;
        let note = Unconfirmed {
            message_id: send.message_id.clone(),
            chat_id: send.chat_id.clone(),
            trace_id: send.trace_id.clone(),
            reason,
        };
        Some(Outcome::Unconfirmed(note, send.row()))
    }

    /// The socket went away: every send is written again on the next connection, with
    /// the same frame. Nothing fails for it: drops do not count against a send.
    pub fn on_disconnect(&mut self) {
        for send in &mut self.sends {
            send.in_flight_since = None;
        }
    }

    /// `now` is monotonic ms. An overdue ack makes its send unconfirmed (it stays, and
    /// goes again on the next connection); a send older than the maximum age ends.
    pub fn on_tick(&mut self, now: i64) -> Vec<Outcome> {
        let limits = self.limits;
        let mut done = Vec::new();
        self.sends.retain_mut(|send| {
            if now - send.created_mono >= limits.max_age_ms {
                let reason = format!("not delivered within {} s", limits.max_age_ms / 1000);
                let failure = Self::failure(send, SendErrorKind::Expired, None, reason);
                done.push(Outcome::Finished(failure));
                return false;
            }
            if send
                .in_flight_since
                .is_some_and(|at| now - at >= limits.ack_timeout_ms)
            {
                let reason = format!(
                    "no ack within {} s; sent again on the next connection",
                    limits.ack_timeout_ms / 1000
                );
                done.extend(Self::unconfirm(send, reason));
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
    use crate::protocol::{Fragment, Frame, MessageBody, MessageContent, MessagePayload};
    use serde_json::{json, Value};

    use crate::json::ToJson;

    /// `value`'s JSON as a `serde_json::Value`, to edit in tests.
    fn to_value<T: ToJson>(value: &T) -> Value {
        serde_json::from_str(&json::to_string(value)).unwrap()
    }

    fn id(n: u128) -> String {
        ids::message_id(1_700_000_000_000, n)
    }

    fn frame_for(message_id: &str, chat: &str, trace: &str) -> String {
        let payload = MessagePayload {
            message_id: message_id.into(),
            message_mode: "normal".into(),
            message: MessageContent {
                body: MessageBody {
                    fragments: vec![Fragment::text("secret words")],
                },
                context: Default::default(),
            },
            streaming: None,
        };
        Frame::new(Event::Send(payload), trace, 1)
            .in_chat(chat)
            .encode_uplink()
    }

    fn send(n: u128, chat: &str, at: i64) -> QueuedSend {
        let message_id = id(n);
        let trace_id = format!("t-{n}");
        QueuedSend {
            frame: frame_for(&message_id, chat, &trace_id),
            message_id,
            chat_id: chat.into(),
            trace_id,
            created_at: 1_700_000_000_000 + at,
            created_mono: at,
            attempts: 0,
            in_flight_since: None,
            status: SendStatus::Queued,
        }
    }

    fn ack(n: u128) -> Ack {
        Ack {
            message_id: id(n),
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

    fn finished(o: &Outcome) -> &Completion {
        match o {
            Outcome::Finished(c) => c,
            other => panic!("finished expected, got {other:?}"),
        }
    }

    fn kind(o: &Outcome) -> SendErrorKind {
        finished(o).outcome.as_ref().unwrap_err().kind
    }

    fn completion_kind(c: &Completion) -> SendErrorKind {
        c.outcome.as_ref().unwrap_err().kind
    }

    #[test]
    fn a_matching_ack_resolves_and_a_mismatched_one_fails() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send(1, "c", 0)).unwrap();
        outbox.enqueue(send(2, "c", 0)).unwrap();
        assert_eq!(outbox.take_unsent(1).len(), 2);
        let done = outbox.on_ack("t-1", &ack(1)).unwrap();
        assert_eq!(
            done.outcome,
            Ok(Accepted {
                message_id: id(1),
                accepted_at: 77
            })
        );
        let done = outbox.on_ack("t-2", &ack(9)).unwrap();
        assert_eq!(completion_kind(&done), SendErrorKind::AckMismatch);
        assert!(outbox.on_ack("t-x", &ack(5)).is_none());
        assert!(outbox.pending().is_empty());
    }

    #[test]
    fn a_send_is_not_written_before_its_row_is_saved() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        let mut saving = send(1, "c", 0);
        saving.status = SendStatus::Saving;
        outbox.enqueue(saving).unwrap();
        assert!(outbox.take_unsent(0).is_empty());
        assert!(outbox.saved(&id(1)));
        assert!(!outbox.saved(&id(1)), "once");
        assert_eq!(outbox.take_unsent(0).len(), 1);
    }

    #[test]
    fn drops_never_fail_a_send_and_every_connection_writes_the_same_frame() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send(1, "c", 0)).unwrap();
        let first = outbox.take_unsent(0);
        assert!(
            outbox.take_unsent(0).is_empty(),
            "in flight is not re-sent on the same socket"
        );
        for n in 1..=50 {
            outbox.on_disconnect();
            assert_eq!(outbox.take_unsent(n), first, "same frame, same id");
        }
        assert_eq!(outbox.pending()[0].attempts, 51);
        assert!(outbox
            .on_tick(60_000)
            .iter()
            .all(|o| !matches!(o, Outcome::Finished(_))));
    }

    #[test]
    fn an_overdue_ack_makes_the_send_unconfirmed_once_and_it_goes_again_after_a_drop() {
        let limits = OutboxLimits {
            ack_timeout_ms: 100,
            ..Default::default()
        };
        let mut outbox = Outbox::new(limits);
        outbox.enqueue(send(1, "c", 0)).unwrap();
        let frame = outbox.take_unsent(0);
        assert!(outbox.on_tick(99).is_empty());
        let done = outbox.on_tick(100);
        let [Outcome::Unconfirmed(note, row)] = &done[..] else {
            panic!("{done:?}")
        };
        assert_eq!(
            (note.message_id.as_str(), row.status),
            (id(1).as_str(), RowStatus::Unconfirmed)
        );
        assert!(outbox.on_tick(500).is_empty(), "reported once");
        assert!(
            outbox.take_unsent(500).is_empty(),
            "not again on this socket"
        );
        outbox.on_disconnect();
        assert_eq!(outbox.take_unsent(600), frame);
        assert!(outbox.on_ack("t-1", &ack(1)).unwrap().outcome.is_ok());
    }

    #[test]
    fn only_age_ends_a_send_and_age_is_monotonic() {
        let limits = OutboxLimits {
            max_age_ms: 1_000,
            ..Default::default()
        };
        let mut outbox = Outbox::new(limits);
        outbox.enqueue(send(1, "c", 0)).unwrap();
        assert!(outbox.on_tick(999).is_empty());
        let done = outbox.on_tick(1_000);
        assert_eq!(kind(&done[0]), SendErrorKind::Expired);
        assert_eq!(OutboxLimits::default().max_age_ms, 86_400_000);
    }

    #[test]
    fn a_chat_closing_error_closes_the_chat_and_fails_its_queue() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send(1, "dead", 0)).unwrap();
        outbox.enqueue(send(2, "dead", 0)).unwrap();
        outbox.enqueue(send(3, "alive", 0)).unwrap();
        let done = outbox.on_send_error("t-1", Some("dead"), &failure(send_codes::NOT_MEMBER));
        assert_eq!(done.len(), 2);
        let first = finished(&done[0]).outcome.as_ref().unwrap_err();
        assert_eq!(
            (first.kind, first.code.as_deref(), first.reason.as_str()),
            (SendErrorKind::Rejected, Some("not_member"), "nope")
        );
        assert_eq!(
            (first.chat_id.as_str(), first.trace_id.as_str()),
            ("dead", "t-1")
        );
        assert_eq!(kind(&done[1]), SendErrorKind::ChatClosed);
        assert_eq!(outbox.pending().len(), 1);
        let later = outbox.enqueue(send(4, "dead", 1)).unwrap_err();
        assert_eq!(completion_kind(&later), SendErrorKind::ChatClosed);
        assert!(later.outcome.unwrap_err().reason.contains("nope"));
    }

    #[test]
    fn every_listed_code_ends_only_its_send() {
        for code in [
            send_codes::BAD_REQUEST,
            send_codes::CAPABILITY_MISSING,
            send_codes::UNSUPPORTED_VERSION,
            send_codes::MESSAGE_TOO_LARGE,
            send_codes::MESSAGE_ID_TOO_LONG,
            send_codes::INVALID_PAYLOAD,
        ] {
            let mut outbox = Outbox::new(OutboxLimits::default());
            outbox.enqueue(send(1, "c", 0)).unwrap();
            outbox.enqueue(send(2, "c", 0)).unwrap();
            let mut by_id = failure(code);
            by_id.message_id = Some(id(2));
            let done = outbox.on_send_error("", Some("c"), &by_id);
            assert_eq!(done.len(), 1, "{code}");
            assert_eq!(finished(&done[0]).message_id, id(2), "{code}");
            assert_eq!(kind(&done[0]), SendErrorKind::Rejected, "{code}");
            assert!(outbox.enqueue(send(3, "c", 0)).is_ok(), "{code}: chat open");
        }
    }

    #[test]
    fn an_unmatched_chat_closing_error_still_closes_the_chat() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        let done = outbox.on_send_error(
            "t-none",
            Some("other"),
            &failure(send_codes::CHAT_NOT_FOUND),
        );
        assert!(done.is_empty());
        assert_eq!(
            completion_kind(&outbox.enqueue(send(5, "other", 0)).unwrap_err()),
            SendErrorKind::ChatClosed
        );
    }

    #[test]
    fn a_storage_failure_on_the_server_leaves_the_send_unconfirmed_and_queued() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        outbox.enqueue(send(1, "c", 0)).unwrap();
        outbox.take_unsent(0);
        let done = outbox.on_send_error("t-1", Some("c"), &failure(send_codes::INTERNAL));
        assert!(matches!(&done[..], [Outcome::Unconfirmed(..)]));
        assert_eq!(outbox.pending()[0].status, SendStatus::Unconfirmed);
        outbox.on_disconnect();
        assert_eq!(outbox.take_unsent(1).len(), 1);
    }

    #[test]
    fn the_queue_is_bounded_and_ids_are_unique() {
        let mut outbox = Outbox::new(OutboxLimits {
            capacity: 1,
            ..Default::default()
        });
        outbox.enqueue(send(1, "c", 0)).unwrap();
        assert_eq!(
            completion_kind(&outbox.enqueue(send(1, "c", 0)).unwrap_err()),
            SendErrorKind::Invalid
        );
        assert_eq!(
            completion_kind(&outbox.enqueue(send(2, "c", 0)).unwrap_err()),
            SendErrorKind::QueueFull
        );
        let done = outbox.fail_all("logged out");
        assert_eq!(
            (done.len(), completion_kind(&done[0])),
            (1, SendErrorKind::Closed)
        );
    }

    #[test]
    fn rows_round_trip_and_restore_with_their_wall_clock_age() {
        let original = send(1, "c", 0);
        let row = original.row();
        let value = to_value(&row);
        assert_eq!(value["messageId"], json!(id(1)));
        assert_eq!(value["status"], json!("queued"));
        let parsed = OutboxRow::parse(&value.to_string()).unwrap();
        assert_eq!(parsed, row);

        let limits = OutboxLimits {
            max_age_ms: 10_000,
            ..Default::default()
        };
        let mut outbox = Outbox::new(limits);
        // Reloaded 4 s after the send; this page's monotonic clock starts near 0.
        let now = Now::new(50, row.created_at + 4_000);
        assert_eq!(outbox.restore(parsed.clone(), now), Ok(None));
        assert_eq!(outbox.restore(parsed, now), Err(RowError::AlreadyPending));
        let restored = &outbox.pending()[0];
        assert_eq!(
            (restored.status, restored.frame.as_str()),
            (SendStatus::Queued, original.frame.as_str())
        );
        assert!(outbox.on_tick(50 + 5_999).is_empty());
        assert_eq!(kind(&outbox.on_tick(50 + 6_000)[0]), SendErrorKind::Expired);
    }

    #[test]
    fn a_row_lists_its_text_and_a_broken_frame_lists_no_content() {
        let row = send(1, "c", 0).row();
        let view = row.pending_send();
        assert_eq!(
            (
                view.message_id.as_str(),
                view.chat_id.as_str(),
                view.text.as_str()
            ),
            (id(1).as_str(), "c", "secret words")
        );
        assert_eq!(
            (view.created_at, view.status),
            (row.created_at, RowStatus::Queued)
        );
        assert_eq!(view.reply_to, None);
        let value = to_value(&view);
        assert_eq!(value["status"], json!("queued"));
        assert_eq!(value["fragments"][0]["text"], json!("secret words"));
        let broken = OutboxRow {
            frame: "{".into(),
            ..row
        };
        assert_eq!(broken.pending_send().text, "");
    }

    #[test]
    fn a_row_from_the_future_counts_as_new() {
        let mut outbox = Outbox::new(OutboxLimits::default());
        let mut row = send(1, "c", 0).row();
        row.status = RowStatus::Unconfirmed;
        outbox
            .restore(row.clone(), Now::new(0, row.created_at - 3_600_000))
            .unwrap();
        assert_eq!(outbox.pending()[0].created_mono, 0);
        assert_eq!(outbox.pending()[0].status, SendStatus::Unconfirmed);
    }

    #[test]
    fn corrupt_rows_are_typed_errors_never_panics() {
        let good = to_value(&send(1, "c", 0).row());
        let with = |key: &str, v: Value| {
            let mut row = good.clone();
            row[key] = v;
            row
        };
        let other_frame = frame_for(&id(2), "c", "t-1");
        let ping = r#"{"version":"2","event":"ping","trace_id":"t-1","payload":{}}"#;
        let cases = [
            (json!(null), "not an outbox row"),
            (json!("text"), "not an outbox row"),
            (json!({}), "not an outbox row"),
            (with("createdAt", json!("soon")), "not an outbox row"),
            (with("status", json!("lost")), "not an outbox row"),
            (with("messageId", json!("msg-short")), "message id"),
            (with("chatId", json!("  ")), "chat"),
            (with("createdAt", json!(-5)), "creation"),
            (with("frame", json!("{not json")), "decode"),
            (with("frame", json!(ping)), "not a send"),
            (with("frame", json!(other_frame)), "message_id"),
            (with("chatId", json!("elsewhere")), "chat_id"),
            (with("traceId", json!("t-other")), "trace_id"),
        ];
        for (value, expect) in cases {
            let err = OutboxRow::parse(&value.to_string()).unwrap_err();
            assert!(err.to_string().contains(expect), "{value}: {err}");
            assert!(
                !err.to_string().contains("secret"),
                "no message text: {err}"
            );
        }
    }

    #[test]
    fn every_truncated_or_retyped_row_is_an_error() {
        let good = to_value(&send(1, "c", 0).row());
        let frame = good["frame"].as_str().unwrap().to_owned();
        for cut in (0..frame.len()).filter(|c| frame.is_char_boundary(*c)) {
            let mut row = good.clone();
            row["frame"] = json!(&frame[..cut]);
            assert!(OutboxRow::parse(&row.to_string()).is_err(), "{cut}");
        }
        let odd = [
            json!(null),
            json!(1e300),
            json!(-1),
            json!([]),
            json!({}),
            json!("x"),
            json!(true),
        ];
        for key in [
            "messageId",
            "chatId",
            "traceId",
            "frame",
            "createdAt",
            "status",
        ] {
            for value in &odd {
                let mut row = good.clone();
                row[key] = value.clone();
                assert!(
                    OutboxRow::parse(&row.to_string()).is_err(),
                    "{key} = {value}"
                );
            }
        }
        assert!(OutboxRow::parse(&good.to_string()).is_ok());
    }
}
