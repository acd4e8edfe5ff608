//! What the hub checks before it stores or relays a frame, so one user cannot send
//! another a frame that makes a client index past a message or hold unbounded ids:
//! ids are bounded, a streaming mutation stays within the message it grows, and a
//! message has a bounded number of fragments. A refused frame is answered with
//! `message.error` code [`BAD_REQUEST`] and never relayed.

use std::collections::{HashMap, VecDeque};

use clawchat_wasm::protocol::{Event, Frame, StreamPayload, StreamPhase};

/// The `message.error` code for a frame the hub refuses to relay (PROTOCOL.md §4).
pub const BAD_REQUEST: &str = "bad_request";
/// Longest accepted `message_id`, `chat_id` or `trace_id`, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Most fragments one message (or one stream) may have.
pub const MAX_FRAGMENTS: usize = 256;
/// Streams of one socket whose fragment count is remembered; the oldest is forgotten
/// first, and a forgotten stream is held to [`MAX_FRAGMENTS`] only.
pub const MAX_TRACKED_STREAMS: usize = 1024;

/// Why a frame was refused (a fixed text, safe to send back and log).
pub type Refusal = &'static str;

/// `id` if it is short enough to echo back in an error, else `""`.
pub fn echoable(id: &str) -> &str {
    if id.len() <= MAX_ID_BYTES {
        id
    } else {
        ""
    }
}

/// The ids every frame may carry: `trace_id` and `chat_id` within [`MAX_ID_BYTES`], and
/// the `message_id` of a message or stream frame non-empty and within it too.
pub fn check_ids(frame: &Frame) -> Result<(), Refusal> {
    if frame.trace_id.len() > MAX_ID_BYTES {
        return Err("trace_id too long");
    }
    if frame
        .chat_id
        .as_deref()
        .is_some_and(|c| c.len() > MAX_ID_BYTES)
    {
        return Err("chat_id too long");
    }
    let message_id = match &frame.event {
        Event::Send(p) | Event::Reply(p) => &p.message_id,
        Event::Stream(_, p) => &p.message_id,
        _ => return Ok(()),
    };
    if message_id.is_empty() {
        return Err("missing message_id");
    }
    if message_id.len() > MAX_ID_BYTES {
        return Err("message_id too long");
    }
    Ok(())
}

/// A complete message's body: at most [`MAX_FRAGMENTS`] fragments.
pub fn check_fragment_count(count: usize) -> Result<(), Refusal> {
    if count > MAX_FRAGMENTS {
        Err("too many fragments")
    } else {
        Ok(())
    }
}

/// The fragment count of the streams one socket is sending, as far as the hub has
/// seen them, to check each `message.add` against.
#[derive(Debug, Default)]
pub struct StreamTracker {
    counts: HashMap<String, usize>,
    order: VecDeque<String>,
}

impl StreamTracker {
    /// Checks one streaming frame and, when it passes, records what it changes.
    pub fn admit(&mut self, phase: StreamPhase, payload: &StreamPayload) -> Result<(), Refusal> {
        check_fragment_count(payload.fragments.len())?;
        let id = &payload.message_id;
        match phase {
            StreamPhase::Created => self.remember(id, payload.fragments.len()),
            StreamPhase::Add => {
                let target = payload
                    .mutation
                    .as_ref()
                    .map_or(0, |m| m.target_fragment_index);
                let known = self.counts.get(id).copied();
                // A stream created on an earlier socket is unknown here: bound it only.
                if target > known.unwrap_or(MAX_FRAGMENTS - 1) {
                    return Err("target_fragment_index past the end of the message");
                }
                if let Some(count) = known {
                    let grown = if payload.fragments.is_empty() {
                        count
                    } else {
                        count.max(target + 1)
                    };
                    check_fragment_count(grown)?;
                    self.counts.insert(id.clone(), grown);
                }
            }
            StreamPhase::Done | StreamPhase::Failed => {
                if self.counts.remove(id).is_some() {
                    self.order.retain(|known| known != id);
                }
            }
        }
        Ok(())
    }

    fn remember(&mut self, id: &str, count: usize) {
        if self.counts.insert(id.to_owned(), count).is_none() {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > MAX_TRACKED_STREAMS {
            if let Some(oldest) = self.order.pop_front() {
                self.counts.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clawchat_wasm::protocol::{Fragment, Mutation};

    fn stream(id: &str, target: Option<usize>, fragments: usize) -> StreamPayload {
        StreamPayload {
            message_id: id.into(),
            sequence: 1,
            message_mode: None,
            mutation: target.map(|t| Mutation {
                kind: "append".into(),
                target_fragment_index: t,
            }),
            fragments: (0..fragments).map(|_| Fragment::text("x")).collect(),
            streaming: None,
        }
    }

    #[test]
    fn an_add_may_grow_a_fragment_or_append_one_but_not_skip_ahead() {
        let mut streams = StreamTracker::default();
        streams
            .admit(StreamPhase::Created, &stream("m", None, 1))
            .unwrap();
        assert!(streams
            .admit(StreamPhase::Add, &stream("m", Some(0), 1))
            .is_ok());
        assert!(streams
            .admit(StreamPhase::Add, &stream("m", Some(1), 1))
            .is_ok());
        assert!(streams
            .admit(StreamPhase::Add, &stream("m", Some(3), 1))
            .is_err());
        assert!(streams
            .admit(StreamPhase::Add, &stream("m", Some(4_294_967_295), 1))
            .is_err());
        streams
            .admit(StreamPhase::Done, &stream("m", None, 0))
            .unwrap();
        assert!(streams.counts.is_empty() && streams.order.is_empty());
    }

    #[test]
    fn unknown_streams_and_whole_messages_are_bounded() {
        let mut streams = StreamTracker::default();
        assert!(streams
            .admit(StreamPhase::Add, &stream("x", Some(255), 1))
            .is_ok());
        assert!(streams
            .admit(StreamPhase::Add, &stream("x", Some(256), 1))
            .is_err());
        assert!(streams
            .admit(StreamPhase::Created, &stream("y", None, 257))
            .is_err());
        streams
            .admit(StreamPhase::Created, &stream("z", None, 256))
            .unwrap();
        assert!(streams
            .admit(StreamPhase::Add, &stream("z", Some(256), 1))
            .is_err());
        assert!(check_fragment_count(256).is_ok() && check_fragment_count(257).is_err());
    }

    #[test]
    fn the_tracker_forgets_the_oldest_streams_first() {
        let mut streams = StreamTracker::default();
        for i in 0..MAX_TRACKED_STREAMS + 10 {
            streams
                .admit(StreamPhase::Created, &stream(&i.to_string(), None, 1))
                .unwrap();
        }
        assert_eq!(streams.counts.len(), MAX_TRACKED_STREAMS);
        assert!(!streams.counts.contains_key("0"));
    }

    #[test]
    fn ids_are_bounded_and_long_ones_are_not_echoed() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let ok = "x".repeat(MAX_ID_BYTES);
        assert_eq!(echoable(&long), "");
        assert_eq!(echoable(&ok), ok);
        let ping = |trace: &str| Frame::new(Event::Ping(serde_json::json!({})), trace, 0);
        assert!(check_ids(&ping(&ok)).is_ok());
        assert!(check_ids(&ping(&long)).is_err());
        assert!(check_ids(&ping("t").in_chat(long.as_str())).is_err());
        let typed = Frame::new(
            Event::Stream(StreamPhase::Add, stream(&long, Some(0), 1)),
            "t",
            0,
        );
        assert!(check_ids(&typed).is_err());
        let empty = Frame::new(
            Event::Stream(StreamPhase::Add, stream("", Some(0), 1)),
            "t",
            0,
        );
        assert!(check_ids(&empty).is_err());
    }
}
