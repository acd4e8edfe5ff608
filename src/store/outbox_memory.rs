//! The outbox rows where IndexedDB is missing (or the app stores the session itself):
//! kept in memory, shared by every client of this JS realm like the memory sessions, so
//! a client that takes over an account in the same page or Worker re-sends them.
//! Nothing survives the realm.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

thread_local! {
    /// Rows by account key, then by message id (ULID order: oldest first).
    static ROWS: RefCell<HashMap<String, BTreeMap<String, Value>>> = RefCell::new(HashMap::new());
}

/// Stores (inserts or replaces) `row` of `account_key` under `message_id`.
pub fn put(account_key: &str, message_id: &str, row: Value) {
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
pub fn rows(account_key: &str) -> Vec<Value> {
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
    use serde_json::json;

    #[test]
    fn rows_are_per_account_ordered_by_id_and_replaced_in_place() {
        put("om-a", "msg-2", json!(2));
        put("om-a", "msg-1", json!(1));
        put("om-b", "msg-9", json!(9));
        put("om-a", "msg-2", json!(22));
        assert_eq!(rows("om-a"), [json!(1), json!(22)]);
        remove("om-a", "msg-1");
        remove("om-none", "msg-1");
        assert_eq!(rows("om-a"), [json!(22)]);
        assert_eq!(rows("om-b"), [json!(9)]);
        assert!(rows("om-c").is_empty());
    }
}
