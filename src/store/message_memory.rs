//! The message cache where IndexedDB is missing (or the app stores the session itself):
//! messages kept in this realm's memory as they are (nothing to encode or decode: they
//! never leave the realm), shared by every client of the realm like the memory sessions
//! and outbox, trimmed to the newest N per chat, and to the [`MAX_CHATS`] chats of an
//! account written most recently (a server can open any number of chats). Nothing
//! survives the realm.

use std::cell::RefCell;
use std::collections::{hash_map, HashMap};

use super::message_cache::{excess, sort_oldest_first, trim_threshold, Entry, MAX_CHATS};

/// Messages of one chat by message id, and when the chat was last written (a count of
/// `put`s, not a time).
#[derive(Default)]
struct Chat {
    messages: HashMap<String, Entry>,
    written: u64,
}

thread_local! {
    /// Chats by (account key, chat id).
    static CHATS: RefCell<HashMap<(String, String), Chat>> = RefCell::new(HashMap::new());
    /// The number of `put`s so far: the order in which chats were written.
    static PUTS: RefCell<u64> = const { RefCell::new(0) };
}

/// Stores (inserts or replaces) `entry` of `account_key`, then trims its chat past
/// [`trim_threshold`] to its newest `capacity`. One message a call: the driver writes
/// each inbound message as it comes (`MessageStore::write_now`), so this path allocates
/// no more than the chat's key and the message's id.
pub fn put(account_key: &str, entry: Entry, capacity: usize) {
    let written = PUTS.with(|puts| {
        let mut puts = puts.borrow_mut();
        *puts = puts.wrapping_add(1);
        *puts
    });
    CHATS.with(|chats| {
        let mut chats = chats.borrow_mut();
        let key = (account_key.to_owned(), entry.chat_id().to_owned());
        let slot = chats.entry(key);
        let new_chat = matches!(slot, hash_map::Entry::Vacant(_));
        let chat = slot.or_default();
        chat.written = written;
        chat.messages.insert(entry.message_id().to_owned(), entry);
        if chat.messages.len() > trim_threshold(capacity) {
            let stored = chat
                .messages
                .values()
                .map(|e| (e.0.sent_at, e.message_id().to_owned()));
            for id in excess(stored.collect(), capacity) {
                chat.messages.remove(&id);
            }
        }
        // Only a new chat can take the account past its chats.
        if new_chat {
            forget_oldest_chats(&mut chats, account_key);
        }
    });
}

/// Drops the chats of `account_key` written least recently past [`MAX_CHATS`].
fn forget_oldest_chats(chats: &mut HashMap<(String, String), Chat>, account_key: &str) {
    if chats.len() <= MAX_CHATS {
        // No account can have more (the common case, checked without a look at each).
        return;
    }
    let mut mine: Vec<(i64, &str)> = chats
        .iter()
        .filter(|((account, _), _)| account == account_key)
        .map(|((_, chat_id), chat)| {
            let written = i64::try_from(chat.written).unwrap_or(i64::MAX);
            (written, chat_id.as_str())
        })
        .collect();
    if mine.len() <= MAX_CHATS {
        return;
    }
    sort_oldest_first(&mut mine);
    let surplus = mine.len() - MAX_CHATS;
    let forgotten: Vec<String> = mine
        .into_iter()
        .take(surplus)
        .map(|(_, chat_id)| chat_id.to_owned())
        .collect();
    for chat_id in forgotten {
        chats.remove(&(account_key.to_owned(), chat_id));
    }
}

/// Every message of `chat_id` of `account_key`, in no particular order.
pub fn entries(account_key: &str, chat_id: &str) -> Vec<Entry> {
    CHATS.with(|chats| {
        chats
            .borrow()
            .get(&(account_key.to_owned(), chat_id.to_owned()))
            .map(|chat| chat.messages.values().cloned().collect())
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
            chat.messages.remove(message_id);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::message_cache::text_entry as entry;

    fn ids(account: &str, chat: &str) -> Vec<String> {
        let mut ids: Vec<String> = entries(account, chat)
            .into_iter()
            .map(|e| e.0.message_id)
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn each_chat_keeps_its_newest_messages_per_account() {
        for entry in [
            entry("c1", "m3", 3),
            entry("c1", "m1", 1),
            entry("c2", "x", 9),
        ] {
            put("mm-a", entry, 2);
        }
        put("mm-a", entry("c1", "m2", 2), 2);
        put("mm-b", entry("c1", "b1", 1), 2);
        assert_eq!(ids("mm-a", "c1"), ["m2", "m3"]);
        assert_eq!(ids("mm-a", "c2"), ["x"]);
        assert_eq!(ids("mm-b", "c1"), ["b1"]);
        remove("mm-a", "c1", "m2");
        remove("mm-none", "c1", "m2");
        assert_eq!(ids("mm-a", "c1"), ["m3"]);
        assert!(entries("mm-c", "c1").is_empty());
        clear("mm-a");
        assert!(entries("mm-a", "c1").is_empty() && entries("mm-a", "c2").is_empty());
        assert_eq!(ids("mm-b", "c1"), ["b1"]);
    }

    #[test]
    fn an_account_keeps_the_chats_written_most_recently() {
        let chat = |i: usize| format!("c{i}");
        for i in 0..MAX_CHATS {
            put("mm-many", entry(&chat(i), "m", 1), 4);
        }
        put("mm-many", entry("c0", "m2", 2), 4);
        for i in MAX_CHATS..MAX_CHATS + 10 {
            put("mm-many", entry(&chat(i), "m", 1), 4);
        }
        assert!(
            entries("mm-many", "c1").is_empty(),
            "the oldest is forgotten"
        );
        assert_eq!(ids("mm-many", "c0"), ["m", "m2"], "written again, kept");
        let kept = (0..MAX_CHATS + 10)
            .filter(|&i| !entries("mm-many", &chat(i)).is_empty())
            .count();
        assert_eq!(kept, MAX_CHATS);
        assert_eq!(ids("mm-other", "c1"), Vec::<String>::new());
    }

    #[test]
    fn a_chat_is_trimmed_only_past_its_threshold() {
        for i in 0..5 {
            put("mm-big", entry("c1", &format!("m{i}"), i), 4);
        }
        assert_eq!(entries("mm-big", "c1").len(), 5, "within the threshold");
        put("mm-big", entry("c1", "m9", 9), 4);
        assert_eq!(ids("mm-big", "c1"), ["m2", "m3", "m4", "m9"]);
    }
}
