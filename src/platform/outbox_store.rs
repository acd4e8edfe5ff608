//! Where queued sends are kept between pages and tabs: the account's rows in IndexedDB
//! next to its session, or this realm's memory where the session is not in IndexedDB.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;

use super::idb::{Idb, Write, OUTBOX};
use super::json::{from_js, to_js};
use super::token_store::TokenStore;
use crate::session::OutboxRow;
use crate::store::{outbox_memory, StoreError};

/// One change to the stored outbox.
#[derive(Debug, Clone, PartialEq)]
pub enum RowWrite {
    /// Store (insert or replace) this row.
    Put(OutboxRow),
    /// Delete the row of this message id.
    Remove(String),
}

/// An outbox store.
#[derive(Clone)]
pub enum OutboxStore {
    /// IndexedDB, shared by every tab of the origin (the session store's database).
    IndexedDb(Rc<RefCell<Option<Idb>>>),
    /// This realm's memory.
    Memory,
}

/// A stored row: the row and its account key (the store's key is both ids).
fn stored(account_key: &str, row: &OutboxRow) -> Value {
    let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut value {
        fields.insert("accountKey".into(), account_key.into());
    }
    value
}

impl OutboxStore {
    /// The store that goes with `tokens`: IndexedDB with IndexedDB, else memory (an
    /// app-supplied session store has no outbox methods).
    pub fn for_tokens(tokens: &TokenStore) -> Self {
        match tokens {
            TokenStore::IndexedDb(cell) => OutboxStore::IndexedDb(cell.clone()),
            TokenStore::Memory | TokenStore::Js(_) => OutboxStore::Memory,
        }
    }

    /// Applies `writes` of `account_key`, in order, all or nothing.
    pub async fn write(&self, account_key: &str, writes: &[RowWrite]) -> Result<(), StoreError> {
        match self {
            OutboxStore::Memory => {
                for write in writes {
                    match write {
                        RowWrite::Put(row) => outbox_memory::put(
                            account_key,
                            &row.message_id,
                            stored(account_key, row),
                        ),
                        RowWrite::Remove(id) => outbox_memory::remove(account_key, id),
                    }
                }
                Ok(())
            }
            OutboxStore::IndexedDb(cell) => {
                let writes: Vec<Write> = writes
                    .iter()
                    .map(|write| match write {
                        RowWrite::Put(row) => Write::Put(to_js(&stored(account_key, row))),
                        RowWrite::Remove(id) => Write::Delete(
                            js_sys::Array::of2(&account_key.into(), &id.into()).into(),
                        ),
                    })
                    .collect();
                TokenStore::idb(cell)
                    .await?
                    .write_all(OUTBOX, &writes)
                    .await
            }
        }
    }

    /// Every stored row of `account_key`, oldest first, unvalidated (parse each with
    /// [`OutboxRow::parse`]).
    pub async fn load(&self, account_key: &str) -> Result<Vec<Value>, StoreError> {
        match self {
            OutboxStore::Memory => Ok(outbox_memory::rows(account_key)),
            OutboxStore::IndexedDb(cell) => Ok(TokenStore::idb(cell)
                .await?
                .rows_with_prefix(OUTBOX, &[account_key])
                .await?
                .into_iter()
                .map(|row| from_js::<Value>(&row).unwrap_or(Value::Null))
                .collect()),
        }
    }
}
