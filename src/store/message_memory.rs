//! The message cache where IndexedDB is missing (or the app stores the session itself):
//! rows kept in this realm's memory, shared by every client of the realm like the memory
//! sessions and outbox, trimmed to the newest N per chat. Nothing survives the realm.

use std::cell::RefCell;
use std::collections::HashMap;

use super::message_cache::{excess, trim_threshold, Row};

/// Rows of one chat by message id.
type Chat = HashMap<String, Row>;

thread_local! {
    /// Chats by (account key, chat id).
    static CHATS: RefCell<HashMap<(String, String), Chat>> = RefCell::new(HashMap::new());
}

/// Stores (inserts or replaces) `rows` of `account_key`, then trims each chat they
/// touched past [`trim_threshold`] to its newest `capacity`.
pub fn put(account_key: &str, rows: Vec<Row>, capacity: usize) {
    CHATS.with(|chats| {
        let mut chats = chats.borrow_mut();
        let mut touched = Vec::new();
        for row in rows {
            let key = (account_key.to_owned(), row.chat_id.clone());
            chats
                .entry(key.clone())
                .or_default()
                .insert(row.message_id.clone(), row);
            if !touched.contains(&key) {
                touched.push(key);
            }
        }
        for key in touched {
            if let Some(chat) = chats
                .get_mut(&key)
                .filter(|chat| chat.len() > trim_threshold(capacity))
            {
                let stored = chat.values().map(|r| (r.sent_at, r.message_id.clone()));
                for id in excess(stored.collect(), capacity) {
                    chat.remove(&id);
                }
            }
        }
    });
}

/// Every row of `chat_id` of `account_key`, in no particular order.
pub fn rows(account_key: &str, chat_id: &str) -> Vec<Row> {
    CHATS.with(|chats| {
        chats
            .borrow()
            .get(&(account_key.to_owned(), chat_id.to_owned()))
            .map(|chat| chat.values().cloned().collect())
            .unwrap_or_default()
    })
}

/// Deletes every row of `account_key`.
pub fn clear(account_key: &str) {
    CHATS.with(|chats| {
        chats
            .borrow_mut()
            .retain(|(account, _), _| account != account_key)
    });
}

/// Deletes the row of `message_id` (a corrupt one).
pub fn remove(account_key: &str, chat_id: &str, message_id: &str) {
    CHATS.with(|chats| {
        if let Some(chat) = chats
            .borrow_mut()
            .get_mut(&(account_key.to_owned(), chat_id.to_owned()))
        {
            chat.remove(message_id);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(chat: &str, id: &str, at: i64) -> Row {
        Row {
            chat_id: chat.into(),
            message_id: id.into(),
            sent_at: at,
            frame: String::new(),
        }
    }

    #[test]
    fn each_chat_keeps_its_newest_rows_per_account() {
        put(
            "mm-a",
            vec![row("c1", "m3", 3), row("c1", "m1", 1), row("c2", "x", 9)],
            2,
        );
        put("mm-a", vec![row("c1", "m2", 2)], 2);
        put(
            "mm-big",
            (0..5).map(|i| row("c1", &format!("m{i}"), i)).collect(),
            4,
        );
        assert_eq!(rows("mm-big", "c1").len(), 5, "within the threshold");
        put("mm-big", vec![row("c1", "m9", 9)], 4);
        assert_eq!(
            rows("mm-big", "c1").len(),
            4,
            "past it: back to the capacity"
        );
        put("mm-b", vec![row("c1", "b1", 1)], 2);
        let ids = |account: &str, chat: &str| -> Vec<String> {
            let mut ids: Vec<String> = rows(account, chat)
                .into_iter()
                .map(|r| r.message_id)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids("mm-a", "c1"), ["m2", "m3"]);
        assert_eq!(ids("mm-a", "c2"), ["x"]);
        assert_eq!(ids("mm-b", "c1"), ["b1"]);
        remove("mm-a", "c1", "m2");
        remove("mm-none", "c1", "m2");
        assert_eq!(ids("mm-a", "c1"), ["m3"]);
        assert!(rows("mm-c", "c1").is_empty());
        clear("mm-a");
        assert!(rows("mm-a", "c1").is_empty() && rows("mm-a", "c2").is_empty());
        assert_eq!(ids("mm-b", "c1"), ["b1"]);
    }
}
