//! Many tabs, one connection: the tab coordinator machine and the typed wire the tabs
//! of one account speak over their channel. Per account, the tab holding the leader lock
//! owns the socket; followers relay sends and typing to it and receive its events back.
//! Without Web Locks or BroadcastChannel a tab connects alone ("solo").

mod coordinator;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::protocol::{Fragment, ReplyContext};
use crate::session::{Accepted, SendError};

pub use coordinator::{Coordinator, CoordinatorConfig, Effect, Role, FORWARDED_EVENTS};

/// A follower's send, written by the leader with the same message id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
/// a rotation re-reads the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventJson(Box<RawValue>);

impl EventJson {
    /// `text` if it is one JSON value.
    pub fn from_text(text: String) -> Option<Self> {
        RawValue::from_string(text).ok().map(EventJson)
    }

    /// `value` serialised.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Option<Self> {
        serde_json::value::to_raw_value(value).ok().map(EventJson)
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
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
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A message read from the channel; `None` for anything that is not one.
    pub fn decode(text: &str) -> Option<TabWire> {
        serde_json::from_str(text).ok()
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
        serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| TabWire::decode(message.get()))
            .collect()
    }
}
