//! The default store where IndexedDB is missing, and the `"memory"` store: rows kept in
//! memory, shared by every client of this JS realm (page or Worker), so several clients
//! of one account in one realm hand rotated pairs to each other as tabs do through
//! IndexedDB. Nothing survives the realm.

use std::cell::RefCell;
use std::collections::HashMap;

use super::StoredSession;

thread_local! {
    static ROWS: RefCell<HashMap<String, StoredSession>> = RefCell::new(HashMap::new());
}

/// The row of `account_key`.
pub fn load(account_key: &str) -> Option<StoredSession> {
    ROWS.with(|rows| rows.borrow().get(account_key).cloned())
}

/// Stores `session` under its account key.
pub fn save(session: &StoredSession) {
    ROWS.with(|rows| {
        rows.borrow_mut()
            .insert(session.account_key.clone(), session.clone())
    });
}

/// Removes the row of `account_key`.
pub fn clear(account_key: &str) {
    ROWS.with(|rows| rows.borrow_mut().remove(account_key));
}

/// Where sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// IndexedDB, shared by the tabs of the origin.
    IndexedDb,
    /// This realm's memory.
    Memory,
}

/// The store used when the app names none: IndexedDB where it exists, else memory with a
/// warning for the app (never a silent loss of the rotated pair).
pub fn default_storage(has_indexed_db: bool) -> (StorageKind, Option<&'static str>) {
    if has_indexed_db {
        (StorageKind::IndexedDb, None)
    } else {
        (
            StorageKind::Memory,
            Some("no IndexedDB here: the session is kept in memory and lost with this page or worker"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, refresh: &str) -> StoredSession {
        StoredSession {
            account_key: key.into(),
            user_id: "u".into(),
            access_token: "a".into(),
            refresh_token: refresh.into(),
            device_id: "d".into(),
            activated_at: 0,
            refreshed_at: 0,
        }
    }

    #[test]
    fn f04_memory_rows_are_shared_by_every_client_of_the_realm() {
        // Old: each client had its own memory row, so a promoted follower kept the first,
        // spent pair the leader had rotated away.
        save(&row("f04", "r1"));
        let leader_rotated = row("f04", "r2");
        save(&leader_rotated);
        assert_eq!(
            load("f04"),
            Some(leader_rotated),
            "the follower reads the new pair"
        );
        clear("f04");
        assert_eq!(load("f04"), None);
        save(&row("f04-other", "x"));
        assert_eq!(load("f04"), None, "rows are per account");
    }

    #[test]
    fn f05_without_indexeddb_the_default_store_is_memory_and_says_so() {
        // Old: the default was IndexedDB regardless; every save failed and the rotated
        // pair was thrown away although the log said "kept in memory only".
        assert_eq!(default_storage(true), (StorageKind::IndexedDb, None));
        let (kind, warning) = default_storage(false);
        assert_eq!(kind, StorageKind::Memory);
        assert!(warning.is_some_and(|w| w.contains("memory")));
    }
}
