//! The local message cache, its pure part: what an entry is (the `message` event's
//! payload), how it is stored (as the downlink frame it came in, so a row read back is
//! decoded and bounded exactly like a frame from the socket: untrusted input, a bad one
//! is an error, never a panic), how the server's history items and our acked sends
//! become entries, their order and the trim to the newest N per chat (`history()`'s page
//! is `history_page`). The stores (IndexedDB, memory) and the driver only move rows
//! around.

use std::collections::HashMap;
use std::fmt;

use crate::protocol::{
    decode, ChatType, Event, Frame, MessageBody, MessageContent, MessageContext, MessagePayload,
    ReplyContext, ReplyPreview, Sender,
};
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
pub struct EntryError(pub String);

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cached message malformed: {}", self.0)
    }
}

fn malformed(why: impl Into<String>) -> EntryError {
    EntryError(why.into())
}

/// A stored row: the store's key (account, chat, message id), the time it sorts by,
/// and the message as a downlink frame. Never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The chat.
    pub chat_id: String,
    /// The message id.
    pub message_id: String,
    /// Server time (ms): the trim keeps the newest.
    pub sent_at: i64,
    /// The message as the frame that delivered it (`encode_downlink`).
    pub frame: String,
}

/// One cached message: the `message` event's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry(pub InboundMessage);

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
    pub fn position(&self) -> (i64, &str) {
        (self.0.sent_at, &self.0.message_id)
    }

    /// The row to store.
    pub fn row(&self) -> Row {
        let m = &self.0;
        let reply = m.reply.as_ref().map(|r| ReplyContext {
            reply_to_msg_id: r.message_id.clone(),
            reply_preview: ReplyPreview {
                id: r.message_id.clone(),
                nick_name: r.nick_name.clone(),
                fragments: r.fragments.clone(),
            },
        });
        let payload = MessagePayload {
            message_id: m.message_id.clone(),
            message_mode: "normal".into(),
            message: MessageContent {
                body: MessageBody {
                    fragments: m.fragments.clone(),
                },
                context: MessageContext {
                    mentions: m.mentions.clone(),
                    reply,
                },
            },
            streaming: None,
        };
        let event = match m.reply {
            Some(_) => Event::Reply(payload),
            None => Event::Send(payload),
        };
        let mut frame = Frame::new(event, "", m.sent_at).in_chat(m.origin.chat_id.clone());
        frame.chat_type = Some(m.origin.chat_type);
        frame.sender = Some(Sender {
            id: m.origin.sender_id.clone(),
            kind: "direct".into(),
            nick_name: m.origin.sender_name.clone(),
        });
        Row {
            chat_id: m.origin.chat_id.clone(),
            message_id: m.message_id.clone(),
            sent_at: m.sent_at,
            frame: frame.encode_downlink(),
        }
    }

    /// A row read back from a store (anything may be there), for the user `own_user_id`.
    pub fn from_row(row: &Row, own_user_id: &str) -> Result<Entry, EntryError> {
        let entry = Entry::from_frame(&row.frame, &row.chat_id, own_user_id)?;
        match entry.message_id() == row.message_id {
            true => Ok(entry),
            false => Err(malformed("the frame is another message")),
        }
    }

    /// An item of `GET /v1/chats/{id}/messages` (the frame as delivered): a
    /// `message.send` or `message.reply` of `chat_id`, ours included.
    pub fn from_history(item: &str, chat_id: &str, own_user_id: &str) -> Result<Entry, EntryError> {
        Entry::from_frame(item, chat_id, own_user_id)
    }

    /// A downlink message frame of `chat_id`, decoded and bounded like one from the socket.
    fn from_frame(text: &str, chat_id: &str, own_user_id: &str) -> Result<Entry, EntryError> {
        let frame = decode(text).map_err(|e| malformed(e.to_string()))?;
        let origin = origin_of(&frame).ok_or_else(|| malformed("no chat or sender"))?;
        if origin.chat_id != chat_id {
            return Err(malformed("another chat's message"));
        }
        let sent_at = frame.emitted_at;
        match frame.event {
            Event::Send(payload) | Event::Reply(payload) if payload.is_normal_mode() => {
                Ok(Entry(to_message(origin, payload, sent_at, own_user_id)))
            }
            _ => Err(malformed("not a message")),
        }
    }

    /// Our own send (its stored uplink `frame`, which has no sender or chat type: those
    /// are `origin`), accepted at `accepted_at`.
    pub fn from_sent(frame: &str, origin: Origin, accepted_at: i64) -> Result<Entry, EntryError> {
        let frame = decode(frame).map_err(|e| malformed(e.to_string()))?;
        match frame.event {
            Event::Send(payload) | Event::Reply(payload) => {
                let own = origin.sender_id.clone();
                Ok(Entry(to_message(origin, payload, accepted_at, &own)))
            }
            _ => Err(malformed("not a message")),
        }
    }
}

/// One chat's `entries` oldest first (server time, then id), each message id once (the
/// later copy wins: a fill from the server replaces what this device stored). Our acked
/// sends are stored as "direct" (an uplink has no chat type): if the server stamped any
/// message of the chat "group", they all are.
pub fn chronological(entries: Vec<Entry>) -> Vec<Entry> {
    let mut unique = latest_oldest_first(entries, Entry::position);
    if unique
        .iter()
        .any(|e| e.0.origin.chat_type == ChatType::Group)
    {
        for entry in &mut unique {
            entry.0.origin.chat_type = ChatType::Group;
        }
    }
    unique
}

/// `items` each id once, the later copy kept, oldest first: `position` tells an item's
/// server time and id.
pub fn latest_oldest_first<T>(items: Vec<T>, position: fn(&T) -> (i64, &str)) -> Vec<T> {
    let order = latest_order(&items.iter().map(position).collect::<Vec<_>>());
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

/// The indexes of the last copy of each id in `positions` (time, id), oldest first: the
/// part of [`latest_oldest_first`] that does not depend on the items' type (one instance).
pub(super) fn latest_order(positions: &[(i64, &str)]) -> Vec<usize> {
    let mut last: HashMap<String, usize> = HashMap::with_capacity(positions.len());
    for (i, (_, id)) in positions.iter().enumerate() {
        match last.get_mut(*id) {
            Some(slot) => *slot = i,
            None => {
                last.insert((*id).to_owned(), i);
            }
        }
    }
    let mut order: Vec<(i64, &str)> = positions
        .iter()
        .enumerate()
        .filter(|(i, (_, id))| last.get(*id) == Some(i))
        .map(|(_, position)| *position)
        .collect();
    sort_oldest_first(&mut order);
    order
        .iter()
        .filter_map(|(_, id)| last.get(*id).copied())
        .collect()
}

/// How many messages a chat of the memory cache may hold before it is trimmed back to
/// `capacity`, since a trim sorts the whole chat: a quarter more, so that a busy chat is
/// sorted and trimmed once every `capacity / 4` messages, not on every one. Reads hold
/// to `capacity`. (IndexedDB pages wait longer: `message_pages::compaction_threshold`.)
pub const fn trim_threshold(capacity: usize) -> usize {
    capacity.saturating_add(capacity / 4)
}

/// The message ids to delete so that a chat keeps its newest `capacity`: `rows` are
/// `(sentAt, messageId)` as stored, in any order (a row without a time sorts oldest).
pub fn excess(rows: Vec<(i64, String)>, capacity: usize) -> Vec<String> {
    let over = rows.len().saturating_sub(capacity);
    let mut keys: Vec<(i64, &str)> = rows.iter().map(|(at, id)| (*at, id.as_str())).collect();
    sort_oldest_first(&mut keys);
    keys.into_iter()
        .take(over)
        .map(|(_, id)| id.to_owned())
        .collect()
}

/// Sorts `(time, id)` keys oldest first (ties by id). Every sort of the cache goes
/// through this one function, so the module carries one instance of the sort (each
/// instance is about 2.5 KB of wasm).
pub fn sort_oldest_first(keys: &mut [(i64, &str)]) {
    keys.sort_unstable();
}

/// The most chats cached per account (a server can open any number of chats): past it,
/// the chats whose newest message is oldest are forgotten.
pub const MAX_CHATS: usize = 256;

/// A text message `id` from "ann" in the group chat `chat` at `at`, for the stores' tests.
#[cfg(test)]
pub(crate) fn text_entry(chat: &str, id: &str, at: i64) -> Entry {
    Entry(InboundMessage {
        message_id: id.into(),
        origin: Origin {
            chat_id: chat.into(),
            chat_type: ChatType::Group,
            sender_id: "ann".into(),
            sender_name: "ann".into(),
        },
        fragments: vec![crate::protocol::Fragment::text(id)],
        text: id.into(),
        mentions: Vec::new(),
        mentions_me: false,
        mentions_all: false,
        reply: None,
        sent_at: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::Fragment;
    use crate::session::ReplyInfo;
    use serde_json::{json, Value};

    fn origin(chat: &str, sender: &str) -> Origin {
        Origin {
            chat_id: chat.into(),
            chat_type: ChatType::Group,
            sender_id: sender.into(),
            sender_name: sender.into(),
        }
    }

    fn entry(id: &str, at: i64) -> Entry {
        text_entry("c1", id, at)
    }

    fn ids(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(Entry::message_id).collect()
    }

    #[test]
    fn a_row_round_trips_with_reply_and_mentions() {
        let mut message = entry("m1", 5);
        message.0.mentions =
            vec![crate::json::from_str(r#"{"user_id":"me","display":"@me"}"#).unwrap()];
        message.0.mentions_me = true;
        message.0.reply = Some(ReplyInfo {
            message_id: "m0".into(),
            nick_name: "Bo".into(),
            fragments: vec![Fragment::text("earlier")],
            text: "earlier".into(),
        });
        let row = message.row();
        assert_eq!(
            (row.chat_id.as_str(), row.message_id.as_str(), row.sent_at),
            ("c1", "m1", 5)
        );
        assert_eq!(Entry::from_row(&row, "me"), Ok(message));
    }

    #[test]
    fn corrupt_rows_are_typed_errors_never_panics() {
        let good = entry("m1", 5).row();
        let other_id = Row {
            message_id: "m2".into(),
            ..good.clone()
        };
        let other_chat = Row {
            chat_id: "c2".into(),
            ..good.clone()
        };
        let long = Entry({
            let mut m = entry("m1", 5).0;
            m.origin.sender_id = "x".repeat(300);
            m
        })
        .row();
        for bad in [
            other_id,
            other_chat,
            long,
            Row {
                frame: "{".into(),
                ..good.clone()
            },
            Row {
                frame: String::new(),
                ..good.clone()
            },
            Row {
                frame: json!({"event": "typing.update", "chat_id": "c1", "sender": {"id": "a"}, "payload": {"is_typing": true}}).to_string(),
                ..good.clone()
            },
        ] {
            assert!(Entry::from_row(&bad, "me").is_err(), "{bad:?}");
        }
        assert!(Entry::from_row(&good, "me").is_ok());
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
    fn our_sends_stored_as_direct_take_the_group_type_of_their_chat() {
        let mut ours = entry("m1", 1);
        ours.0.origin.chat_type = ChatType::Direct;
        let list = chronological(vec![ours.clone(), entry("m2", 2)]);
        assert!(list.iter().all(|e| e.0.origin.chat_type == ChatType::Group));
        let alone = chronological(vec![ours]);
        assert_eq!(alone[0].0.origin.chat_type, ChatType::Direct);
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
        assert_eq!((trim_threshold(3), trim_threshold(200)), (3, 250));
    }

    fn item(event: &str, id: &str, chat: &str, sender: &str) -> Value {
        json!({"version": "2", "event": event, "emitted_at": 7, "chat_id": chat, "chat_type": "group",
            "sender": {"id": sender, "type": "direct", "nick_name": "Ann"}, "accepted_at": 8,
            "payload": {"message_id": id, "message_mode": "normal",
                "message": {"body": {"fragments": [{"kind": "text", "text": "hi"}]}, "context": {"mentions": []}}}})
    }

    #[test]
    fn history_items_become_messages_ours_included_and_strays_are_refused() {
        let theirs = Entry::from_history(
            &item("message.send", "m1", "c1", "ann").to_string(),
            "c1",
            "me",
        )
        .unwrap();
        assert_eq!((theirs.0.text.as_str(), theirs.0.sent_at), ("hi", 7));
        assert_eq!(theirs.0.origin.sender_name, "Ann");
        let ours = Entry::from_history(
            &item("message.reply", "m2", "c1", "me").to_string(),
            "c1",
            "me",
        )
        .unwrap();
        assert_eq!(ours.0.origin.sender_id, "me");
        let long_id = "x".repeat(300);
        for (bad, chat) in [
            (item("message.send", "m3", "c2", "ann"), "c1"),
            (item("typing.update", "m4", "c1", "ann"), "c1"),
            (json!({"event": "message.send"}), "c1"),
            (json!([1, 2]), "c1"),
            (item("message.send", &long_id, "c1", "ann"), "c1"),
        ] {
            assert!(
                Entry::from_history(&bad.to_string(), chat, "me").is_err(),
                "{bad}"
            );
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
