//! The outbox rows where IndexedDB is missing (or the app stores the session itself):
//! kept in memory, shared by every client of this JS realm like the memory sessions, so
//! a client that takes over an account in the same page or Worker re-sends them.
//! Nothing survives the realm.

use std::cell::RefCell;
use std::collections::HashMap;

/// One account's rows as `(message id, JSON text)`, sorted by id (ULID order: oldest
/// first). A sorted `Vec`, not a `BTreeMap`: an outbox holds a handful of rows, and the
/// map's code was the module's only B-tree (about 10 KB of wasm).
type Account = Vec<(String, String)>;

thread_local! {
    /// Rows by account key.
    static ROWS: RefCell<HashMap<String, Account>> = RefCell::new(HashMap::new());
}

/// Where `message_id` is in `account`: `Ok` at its index, `Err` where it would go.
fn find(account: &Account, message_id: &str) -> Result<usize, usize> {
    account.binary_search_by(|(id, _)| id.as_str().cmp(message_id))
}

/// Stores (inserts or replaces) `row` (its JSON text) of `account_key` under
/// `message_id`.
pub fn put(account_key: &str, message_id: &str, row: String) {
    ROWS.with(|rows| {
        let mut rows = rows.borrow_mut();
        let account = rows.entry(account_key.to_owned()).or_default();
        match find(account, message_id) {
            Ok(at) => {
                if let Some(slot) = account.get_mut(at) {
                    slot.1 = row;
                }
            }
            Err(at) => account.insert(at, (message_id.to_owned(), row)),
        }
    });
}

/// Removes the row of `message_id`.
pub fn remove(account_key: &str, message_id: &str) {
    ROWS.with(|rows| {
        if let Some(account) = rows.borrow_mut().get_mut(account_key) {
            if let Ok(at) = find(account, message_id) {
                account.remove(at);
            }
        }
    });
}

/// Every row of `account_key`, oldest first.
pub fn rows(account_key: &str) -> Vec<String> {
    ROWS.with(|rows| {
        rows.borrow()
            .get(account_key)
            .map(|account| account.iter().map(|(_, row)| row.clone()).collect())
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
        put("om-a", "msg-0", "0".into());
        put("om-a", "msg-3", "3".into());
        assert_eq!(rows("om-a"), ["0", "1", "22", "3"]);
        remove("om-a", "msg-0");
        remove("om-a", "msg-3");
        remove("om-a", "msg-4");
        remove("om-a", "msg-1");
        remove("om-none", "msg-1");
        assert_eq!(rows("om-a"), ["22"]);
        assert_eq!(rows("om-b"), ["9"]);
        assert!(rows("om-c").is_empty());
    }
}
