//! The local message cache, its pure part: what an entry is (the `message` event's
//! payload), how stored rows and the server's history items become entries (untrusted
//! input: bounded, a bad one is an error, never a panic), their order, the trim to the
//! newest N per chat, and the paging of `history()`. The stores (IndexedDB, memory) and
//! the driver only move entries around.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::protocol::bounds::{self, MAX_ID_BYTES, MAX_MENTIONS, MAX_NAME_BYTES, MAX_SAFE_INTEGER};
use crate::protocol::{decode, Event, MAX_FRAME_BYTES};
use crate::session::inbound::{origin_of, to_message};
use crate::session::{InboundMessage, Origin};

/// Messages kept per chat unless the app says otherwise (`cacheSize`).
pub const DEFAULT_CAPACITY: usize = 200;
/// The largest `cacheSize`.
pub const MAX_CAPACITY: usize = 1_000;
/// Messages per `history()` page unless the app says otherwise.
pub const DEFAULT_PAGE: usize = 50;
/// The largest `history()` page (`limit`).
pub const MAX_PAGE: usize = 100;

/// Why a stored row or a history item was not taken. Never holds message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// Not a message at all (missing or mistyped fields), or not one of the asked chat.
    Shape(String),
    /// A field past its bound (named, never shown).
    OutOfBounds(&'static str),
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryError::Shape(m) => write!(f, "cached message malformed: {m}"),
            EntryError::OutOfBounds(field) => {
                write!(f, "cached message malformed: {field} out of bounds")
            }
        }
    }
}

/// One cached message: the `message` event's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry(pub InboundMessage);

fn bounded(field: &'static str, value: &str, max: usize) -> Result<(), EntryError> {
    (value.len() <= max)
        .then_some(())
        .ok_or(EntryError::OutOfBounds(field))
}

impl Entry {
    /// The chat it belongs to.
    pub fn chat_id(&self) -> &str {
        &self.0.origin.chat_id
    }

    /// Its message id.
    pub fn message_id(&self) -> &str {
        &self.0.message_id
    }

    /// Where it sorts: server time, then id.
    fn position(&self) -> (i64, &str) {
        (self.0.sent_at, &self.0.message_id)
    }

    /// The stored row: the payload plus the account key (the store's key is account,
    /// chat and message id). Never a token.
    pub fn row(&self, account_key: &str) -> Value {
        let mut value = serde_json::to_value(&self.0).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut value {
            fields.insert("accountKey".into(), account_key.into());
        }
        value
    }

    /// Checks a row read back from a store (anything may be there).
    pub fn parse(row: Value) -> Result<Entry, EntryError> {
        let message: InboundMessage =
            serde_json::from_value(row).map_err(|e| EntryError::Shape(shape(&e)))?;
        Entry::checked(message)
    }

    /// The message if every id, name, count and number is within the protocol's bounds.
    fn checked(message: InboundMessage) -> Result<Entry, EntryError> {
        let origin = &message.origin;
        if message.message_id.trim().is_empty() || origin.chat_id.trim().is_empty() {
            return Err(EntryError::Shape("a blank id".into()));
        }
        bounded("messageId", &message.message_id, MAX_ID_BYTES)?;
        bounded("chatId", &origin.chat_id, MAX_ID_BYTES)?;
        bounded("senderId", &origin.sender_id, MAX_ID_BYTES)?;
        bounded("senderName", &origin.sender_name, MAX_NAME_BYTES)?;
        bounded("text", &message.text, MAX_FRAME_BYTES)?;
        if message.mentions.len() > MAX_MENTIONS {
            return Err(EntryError::OutOfBounds("mentions"));
        }
        if message.sent_at.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(EntryError::OutOfBounds("sentAt"));
        }
        let fragments = bounds::fragments(&message.fragments);
        let reply = message.reply.as_ref().map_or(Ok(()), |r| {
            bounded("reply.messageId", &r.message_id, MAX_ID_BYTES)?;
            bounded("reply.nickName", &r.nick_name, MAX_NAME_BYTES)?;
            bounded("reply.text", &r.text, MAX_FRAME_BYTES)?;
            bounds::fragments(&r.fragments).map_err(|_| EntryError::OutOfBounds("reply"))
        });
        fragments.map_err(|_| EntryError::OutOfBounds("fragments"))?;
        reply.map(|()| Entry(message))
    }

    /// An item of `GET /v1/chats/{id}/messages` (the frame as delivered): a
    /// `message.send` or `message.reply` of `chat_id`, ours included.
    pub fn from_history(
        item: &Value,
        chat_id: &str,
        own_user_id: &str,
    ) -> Result<Entry, EntryError> {
        let frame = decode(&item.to_string()).map_err(|e| EntryError::Shape(e.to_string()))?;
        let origin =
            origin_of(&frame).ok_or_else(|| EntryError::Shape("no chat or sender".into()))?;
        if origin.chat_id != chat_id {
            return Err(EntryError::Shape("another chat's message".into()));
        }
        let sent_at = frame.emitted_at;
        match frame.event {
            Event::Send(payload) | Event::Reply(payload) if payload.is_normal_mode() => {
                Entry::checked(to_message(origin, payload, sent_at, own_user_id))
            }
            _ => Err(EntryError::Shape("not a message".into())),
        }
    }

    /// Our own send of `chat_id` (its stored uplink `frame`), accepted at `accepted_at`.
    /// The uplink carries no chat type: `chat_type` is the caller's best knowledge.
    pub fn from_sent(frame: &str, origin: Origin, accepted_at: i64) -> Result<Entry, EntryError> {
        let frame = decode(frame).map_err(|e| EntryError::Shape(e.to_string()))?;
        match frame.event {
            Event::Send(payload) | Event::Reply(payload) => {
                let own = origin.sender_id.clone();
                Entry::checked(to_message(origin, payload, accepted_at, &own))
            }
            _ => Err(EntryError::Shape("not a message".into())),
        }
    }
}

/// A serde error without the values it quotes.
fn shape(err: &serde_json::Error) -> String {
    crate::protocol::redact_quoted(&err.to_string())
}

/// `entries` oldest first (server time, then id), each message id once (the later
/// copy wins: a fill from the server replaces what this device stored).
pub fn chronological(entries: Vec<Entry>) -> Vec<Entry> {
    let mut at: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    let mut unique: Vec<Entry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match at.get(entry.message_id()).and_then(|&i| unique.get_mut(i)) {
            Some(kept) => *kept = entry,
            None => {
                at.insert(entry.message_id().to_owned(), unique.len());
                unique.push(entry);
            }
        }
    }
    unique.sort_by(|a, b| a.position().cmp(&b.position()));
    unique
}

/// The message ids to delete so that a chat keeps its newest `capacity`: `rows` are
/// `(sentAt, messageId)` as stored, in any order (a row without a time sorts oldest).
pub fn excess(mut rows: Vec<(i64, String)>, capacity: usize) -> Vec<String> {
    let over = rows.len().saturating_sub(capacity);
    rows.sort();
    rows.into_iter().take(over).map(|(_, id)| id).collect()
}

/// One page of a chat's cached messages (`entries` chronological): the newest `limit`
/// older than the message `before` (the newest of all without it), oldest first. Empty
/// when the cache has nothing older, or does not hold `before`: then the server is asked.
pub fn page(entries: &[Entry], before: Option<&str>, limit: usize) -> Vec<Entry> {
    let end = match before {
        None => entries.len(),
        Some(id) => match entries.iter().position(|e| e.message_id() == id) {
            Some(at) => at,
            None => return Vec::new(),
        },
    };
    let older = entries.get(..end).unwrap_or_default();
    older
        .get(older.len().saturating_sub(limit)..)
        .unwrap_or_default()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChatType;
    use serde_json::json;

    fn origin(chat: &str, sender: &str) -> Origin {
        Origin {
            chat_id: chat.into(),
            chat_type: ChatType::Group,
            sender_id: sender.into(),
            sender_name: sender.into(),
        }
    }

    fn entry(id: &str, at: i64) -> Entry {
        Entry(InboundMessage {
            message_id: id.into(),
            origin: origin("c1", "ann"),
            fragments: vec![crate::protocol::Fragment::text(id)],
            text: id.into(),
            mentions: Vec::new(),
            mentions_me: false,
            mentions_all: false,
            reply: None,
            sent_at: at,
        })
    }

    fn ids(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(Entry::message_id).collect()
    }

    #[test]
    fn a_row_round_trips_with_its_account_key_and_no_more() {
        let row = entry("m1", 5).row("acct");
        assert_eq!(row["accountKey"], "acct");
        assert_eq!(
            (row["chatId"].as_str(), row["sentAt"].as_i64()),
            (Some("c1"), Some(5))
        );
        assert_eq!(Entry::parse(row), Ok(entry("m1", 5)));
    }

    #[test]
    fn corrupt_rows_are_typed_errors_never_panics() {
        let good = entry("m1", 5).row("acct");
        let mut blank = good.clone();
        blank["messageId"] = json!(" ");
        let mut long = good.clone();
        long["senderId"] = json!("x".repeat(MAX_ID_BYTES + 1));
        let mut huge_time = good.clone();
        huge_time["sentAt"] = json!(1u64 << 60);
        let mut many = good.clone();
        many["fragments"] = json!(vec![json!({"kind": "text", "text": ""}); 300]);
        assert!(matches!(Entry::parse(blank), Err(EntryError::Shape(_))));
        assert_eq!(Entry::parse(long), Err(EntryError::OutOfBounds("senderId")));
        assert_eq!(
            Entry::parse(huge_time),
            Err(EntryError::OutOfBounds("sentAt"))
        );
        assert_eq!(
            Entry::parse(many),
            Err(EntryError::OutOfBounds("fragments"))
        );
        for row in [json!(null), json!([]), json!({"messageId": 1}), json!("m")] {
            assert!(matches!(Entry::parse(row), Err(EntryError::Shape(_))));
        }
    }

    #[test]
    fn the_order_is_by_time_then_id_and_a_later_copy_replaces_an_earlier() {
        let mut refreshed = entry("m2", 20);
        refreshed.0.text = "from the server".into();
        let list = chronological(vec![
            entry("m3", 20),
            entry("m2", 20),
            entry("m1", 30),
            refreshed,
        ]);
        assert_eq!(ids(&list), ["m2", "m3", "m1"]);
        assert_eq!(list[0].0.text, "from the server");
    }

    #[test]
    fn the_trim_keeps_the_newest_n_and_drops_timeless_rows_first() {
        let rows = vec![
            (30, "c".to_owned()),
            (10, "a".into()),
            (0, "bad".into()),
            (20, "b".into()),
        ];
        assert_eq!(excess(rows.clone(), 2), ["bad", "a"]);
        assert!(excess(rows.clone(), 4).is_empty());
        assert_eq!(excess(rows, 0).len(), 4);
    }

    #[test]
    fn pages_go_back_from_the_newest_and_an_unknown_before_asks_the_server() {
        let all: Vec<Entry> = (1..=5).map(|i| entry(&format!("m{i}"), i)).collect();
        assert_eq!(ids(&page(&all, None, 2)), ["m4", "m5"]);
        assert_eq!(ids(&page(&all, Some("m4"), 2)), ["m2", "m3"]);
        assert_eq!(ids(&page(&all, Some("m2"), 2)), ["m1"]);
        assert!(page(&all, Some("m1"), 2).is_empty());
        assert!(page(&all, Some("elsewhere"), 2).is_empty());
        assert!(page(&[], None, 2).is_empty());
        assert_eq!(page(&all, None, 100).len(), 5);
    }

    fn item(event: &str, id: &str, chat: &str, sender: &str) -> Value {
        json!({"version": "2", "event": event, "emitted_at": 7, "chat_id": chat, "chat_type": "group",
            "sender": {"id": sender, "type": "direct", "nick_name": "Ann"}, "accepted_at": 8,
            "payload": {"message_id": id, "message_mode": "normal",
                "message": {"body": {"fragments": [{"kind": "text", "text": "hi"}]}, "context": {"mentions": []}}}})
    }

    #[test]
    fn history_items_become_messages_ours_included_and_strays_are_refused() {
        let theirs =
            Entry::from_history(&item("message.send", "m1", "c1", "ann"), "c1", "me").unwrap();
        assert_eq!((theirs.0.text.as_str(), theirs.0.sent_at), ("hi", 7));
        assert_eq!(theirs.0.origin.sender_name, "Ann");
        let ours =
            Entry::from_history(&item("message.reply", "m2", "c1", "me"), "c1", "me").unwrap();
        assert_eq!(ours.0.origin.sender_id, "me");
        for (bad, chat) in [
            (item("message.send", "m3", "c2", "ann"), "c1"),
            (item("typing.update", "m4", "c1", "ann"), "c1"),
            (json!({"event": "message.send"}), "c1"),
            (json!([1, 2]), "c1"),
            (
                item("message.send", &"x".repeat(MAX_ID_BYTES + 1), "c1", "ann"),
                "c1",
            ),
        ] {
            assert!(Entry::from_history(&bad, chat, "me").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_acked_send_becomes_our_message_at_its_acceptance_time() {
        let frame = item("message.send", "m9", "c1", "me").to_string();
        let entry = Entry::from_sent(&frame, origin("c1", "me"), 99).unwrap();
        assert_eq!(
            (entry.message_id(), entry.0.sent_at, entry.0.text.as_str()),
            ("m9", 99, "hi")
        );
        assert!(Entry::from_sent("{", origin("c1", "me"), 1).is_err());
    }
}
