//! Where queued sends are kept between pages and tabs: the account's rows in IndexedDB
//! next to its session, or this realm's memory where the session is not in IndexedDB.

use std::cell::RefCell;
use std::rc::Rc;

use super::idb::{Idb, Write, OUTBOX};
use super::json::{read_js, write_js};
use super::token_store::TokenStore;
use crate::json::{self, FromJson, JsonError, Reader};
use crate::session::{OutboxRow, StoredRow};
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

/// A stored row's JSON text as read back, for [`OutboxRow::parse`].
struct RowText(String);

impl FromJson<'_> for RowText {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        r.raw().map(|text| RowText(text.to_owned()))
    }
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
                            json::to_string(&StoredRow { account_key, row }),
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
                        RowWrite::Put(row) => Write::Put(write_js(&StoredRow { account_key, row })),
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

    /// Every stored row of `account_key` as JSON text, oldest first, unvalidated (parse
    /// each with [`OutboxRow::parse`]).
    pub async fn load(&self, account_key: &str) -> Result<Vec<String>, StoreError> {
        match self {
            OutboxStore::Memory => Ok(outbox_memory::rows(account_key)),
            OutboxStore::IndexedDb(cell) => Ok(TokenStore::idb(cell)
                .await?
                .rows_with_prefix(OUTBOX, &[account_key])
                .await?
                .into_iter()
                .map(|row| read_js::<RowText>(&row).map_or_else(|_| "null".into(), |t| t.0))
                .collect()),
        }
    }
}
