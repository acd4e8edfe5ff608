//! Many tabs, one connection: the tab coordinator machine and the typed wire the tabs
//! of one account speak over their channel. Per account, the tab holding the leader lock
//! owns the socket; followers relay sends and typing to it and receive its events back.
//! Without Web Locks or BroadcastChannel a tab connects alone ("solo").

mod codec;
mod coordinator;
#[cfg(test)]
mod tests;

use crate::json::{self, ToJson};
use crate::protocol::{Fragment, ReplyContext};
use crate::session::{Accepted, SendError};

pub use coordinator::{Coordinator, CoordinatorConfig, Effect, Role, FORWARDED_EVENTS};

/// A follower's send, written by the leader with the same message id.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedSend {
    /// The id minted by the follower.
    pub message_id: String,
    /// Where it goes.
    pub chat_id: String,
    /// The body.
    pub fragments: Vec<Fragment>,
    /// The reply context, for replies.
    pub reply: Option<ReplyContext>,
}

/// What the tabs of one account say to each other. Never carries a token: a tab told of
/// a rotation re-reads the store. On the channel each is a JSON object with one key,
/// the message's snake_case name (`{"hello":{"tab":"…"}}`), or for [`TabWire::Rotated`]
/// the bare string `"rotated"`: the shape serde's derive gave it, which tabs of other
/// builds of the same origin read.
#[derive(Debug, Clone, PartialEq)]
pub enum TabWire {
    /// A follower is here (at start, and again to each new leader).
    Hello {
        /// The follower's tab id.
        tab: String,
    },
    /// A follower left.
    Bye {
        /// The follower's tab id.
        tab: String,
    },
    /// A tab became the leader.
    Leader {
        /// The leader's tab id.
        tab: String,
    },
    /// A follower's send.
    Send {
        /// The follower's tab id.
        from: String,
        /// The send.
        send: RelayedSend,
    },
    /// The leader took a relayed send: it settles it from now on.
    Received {
        /// The follower's tab id.
        to: String,
        /// The send.
        message_id: String,
    },
    /// A follower's typing change.
    Typing {
        /// The chat.
        chat_id: String,
        /// Started or stopped.
        is_typing: bool,
    },
    /// The end of a relayed send.
    Settled {
        /// The follower's tab id.
        to: String,
        /// The send.
        message_id: String,
        /// Accepted, or why not.
        outcome: Result<Accepted, SendError>,
    },
    /// An event the leader emitted, for the followers.
    Event {
        /// The event name (one of [`FORWARDED_EVENTS`]).
        name: String,
        /// Its payload, as the leader's own handlers got it.
        payload: EventJson,
    },
    /// A rotated pair was persisted: re-read the store.
    Rotated,
    /// The account was logged out.
    LoggedOut {
        /// The refresh code, or 0 for an explicit logout.
        code: i64,
        /// Why.
        reason: String,
    },
}

/// An event payload as JSON text, carried verbatim from the leader's `JSON.stringify` to
/// each follower's one `JSON.parse`: relayed without being decoded or re-encoded.
#[derive(Debug, Clone)]
pub struct EventJson(String);

impl EventJson {
    /// `text` if it is one JSON value (whitespace around it is dropped).
    pub fn from_text(text: String) -> Option<Self> {
        let mut reader = json::Reader::new(&text);
        let value = reader.raw().ok()?;
        reader.finish().ok()?;
        Some(EventJson(value.to_owned()))
    }

    /// `value` as JSON.
    pub fn of<T: ToJson + ?Sized>(value: &T) -> Self {
        EventJson(json::to_string(value))
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl PartialEq for EventJson {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl TabWire {
    /// The message as the JSON text posted on the channel.
    pub fn encode(&self) -> String {
        json::to_string(self)
    }

    /// A message read from the channel; `None` for anything that is not one.
    pub fn decode(text: &str) -> Option<TabWire> {
        json::from_str(text).ok()
    }

    /// Encoded messages as the text of one post: a single message as it is, several as
    /// a JSON array of them (each `postMessage` costs a fixed ~0.1 ms in Chromium). Only
    /// relayed events are batched: tabs of builds before batching ignore arrays.
    pub fn batch(mut encoded: Vec<String>) -> String {
        match encoded.len() {
            1 => encoded.pop().unwrap_or_default(),
            _ => format!("[{}]", encoded.join(",")),
        }
    }

    /// The messages of one post (see [`TabWire::batch`]), in order; what does not parse
    /// is left out.
    pub fn unbatch(text: &str) -> Vec<TabWire> {
        if !text.trim_start().starts_with('[') {
            return TabWire::decode(text).into_iter().collect();
        }
        json::from_str::<Vec<codec::Raw<'_>>>(text)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| TabWire::decode(message.0))
            .collect()
    }
}
