//! What the hub checks before it stores or relays a frame, so one user cannot send
//! another a frame that makes a client index past a message or hold unbounded ids:
//! ids are bounded, a streaming mutation stays within the message it grows, and a
//! message has a bounded number of fragments. A refused frame is answered with
//! `message.error` code [`BAD_REQUEST`] and never relayed.

use std::collections::{HashMap, VecDeque};

use clawchat_wasm::protocol::{Event, Frame, StreamPayload, StreamPhase};

/// The `message.error` code for a frame the hub refuses to relay (PROTOCOL.md §4).
pub const BAD_REQUEST: &str = "bad_request";
/// Longest accepted id and most fragments in a message: the SDK's own bounds.
pub use clawchat_wasm::protocol::bounds::{MAX_FRAGMENTS, MAX_ID_BYTES};
/// Streams of one socket whose fragment count is remembered; the oldest is forgotten
/// first, and a forgotten stream is held to [`MAX_FRAGMENTS`] only.
pub const MAX_TRACKED_STREAMS: usize = 1024;

/// Why a frame was refused (a fixed text, safe to send back and log).
pub type Refusal = &'static str;

/// The routing fields of a frame that did not decode, read leniently.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Routing {
    /// The sender's trace id ("" when unreadable).
    #[serde(default)]
    pub trace_id: String,
    /// The chat, when readable.
    #[serde(default)]
    pub chat_id: Option<String>,
}

/// Reads `trace_id` and `chat_id` from `text`, whatever else is wrong with it.
pub fn routing_of(text: &str) -> Routing {
    serde_json::from_str(text).unwrap_or_default()
}

/// `id` if it is short enough to echo back in an error, else `""`.
pub fn echoable(id: &str) -> &str {
    if id.len() <= MAX_ID_BYTES {
        id
    } else {
        ""
    }
}

/// A message or stream frame names its message. (Lengths of ids, fragment counts and
/// indexes are already bounded by the SDK's `decode`.)
pub fn check_ids(frame: &Frame) -> Result<(), Refusal> {
    let message_id = match &frame.event {
        Event::Send(p) | Event::Reply(p) => &p.message_id,
        Event::Stream(_, p) => &p.message_id,
        _ => return Ok(()),
    };
    if message_id.is_empty() {
        return Err("missing message_id");
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
                    .map_or(0, |m| m.target_fragment_index)
                    .try_into()
                    .unwrap_or(usize::MAX);
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
                target_fragment_index: t as u64,
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
    fn long_ids_are_not_echoed_and_a_message_id_is_required() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let ok = "x".repeat(MAX_ID_BYTES);
        assert_eq!(echoable(&long), "");
        assert_eq!(echoable(&ok), ok);
        let ping = Frame::new(
            Event::Ping(clawchat_wasm::json::RawJson::empty_object()),
            "t",
            0,
        );
        assert!(check_ids(&ping).is_ok());
        let empty = Frame::new(
            Event::Stream(StreamPhase::Add, stream("", Some(0), 1)),
            "t",
            0,
        );
        assert!(check_ids(&empty).is_err());
    }
}
