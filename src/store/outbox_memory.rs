//! The outbox rows where IndexedDB is missing (or the app stores the session itself):
//! kept in memory, shared by every client of this JS realm like the memory sessions, so
//! a client that takes over an account in the same page or Worker re-sends them.
//! Nothing survives the realm.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

thread_local! {
    /// Rows' JSON text by account key, then by message id (ULID order: oldest first).
    static ROWS: RefCell<HashMap<String, BTreeMap<String, String>>> = RefCell::new(HashMap::new());
}

/// Stores (inserts or replaces) `row` (its JSON text) of `account_key` under
/// `message_id`.
pub fn put(account_key: &str, message_id: &str, row: String) {
    ROWS.with(|rows| {
        rows.borrow_mut()
            .entry(account_key.to_owned())
            .or_default()
            .insert(message_id.to_owned(), row)
    });
}

/// Removes the row of `message_id`.
pub fn remove(account_key: &str, message_id: &str) {
    ROWS.with(|rows| {
        if let Some(account) = rows.borrow_mut().get_mut(account_key) {
            account.remove(message_id);
        }
    });
}

/// Every row of `account_key`, oldest first.
pub fn rows(account_key: &str) -> Vec<String> {
    ROWS.with(|rows| {
        rows.borrow()
            .get(account_key)
            .map(|account| account.values().cloned().collect())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_per_account_ordered_by_id_and_replaced_in_place() {
        put("om-a", "msg-2", "2".into());
        put("om-a", "msg-1", "1".into());
        put("om-b", "msg-9", "9".into());
        put("om-a", "msg-2", "22".into());
        assert_eq!(rows("om-a"), ["1", "22"]);
        remove("om-a", "msg-1");
        remove("om-none", "msg-1");
        assert_eq!(rows("om-a"), ["22"]);
        assert_eq!(rows("om-b"), ["9"]);
        assert!(rows("om-c").is_empty());
    }
}
