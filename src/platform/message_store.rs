//! Where the local message cache is kept: the account's rows in IndexedDB next to its
//! session, or this realm's memory where the session is not in IndexedDB. Each write is
//! one transaction that also trims the chats it touched to their newest N.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsValue;

use super::idb::{Idb, Trim, Write, MESSAGES};
use super::token_store::TokenStore;
use crate::store::message_cache::{excess, Entry};
use crate::store::{message_memory, StoreError};

/// One change to the cache.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheWrite {
    /// Store (insert or replace) this message.
    Put(Entry),
    /// Delete the row of this chat and message id (a corrupt one).
    Remove(String, String),
}

/// A message cache store.
#[derive(Clone)]
pub enum MessageStore {
    /// IndexedDB, shared by every tab of the origin (the session store's database).
    IndexedDb(Rc<RefCell<Option<Idb>>>),
    /// This realm's memory.
    Memory,
}

/// `row[key]` as a string ("" when absent).
fn text(row: &JsValue, key: &str) -> String {
    js_sys::Reflect::get(row, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

impl MessageStore {
    /// The store that goes with `tokens`: IndexedDB with IndexedDB, else memory.
    pub fn for_tokens(tokens: &TokenStore) -> Self {
        match tokens {
            TokenStore::IndexedDb(cell) => MessageStore::IndexedDb(cell.clone()),
            TokenStore::Memory | TokenStore::Js(_) => MessageStore::Memory,
        }
    }

    /// Applies `writes` of `account_key` in one transaction, then keeps the newest
    /// `capacity` of each chat a `Put` touched.
    pub async fn write(
        &self,
        account_key: &str,
        writes: &[CacheWrite],
        capacity: usize,
    ) -> Result<(), StoreError> {
        match self {
            MessageStore::Memory => {
                let mut puts = Vec::new();
                for write in writes {
                    match write {
                        CacheWrite::Put(entry) => puts.push((
                            entry.chat_id().to_owned(),
                            entry.message_id().to_owned(),
                            entry.row(account_key),
                        )),
                        CacheWrite::Remove(chat, id) => {
                            message_memory::remove(account_key, chat, id)
                        }
                    }
                }
                message_memory::put(account_key, puts, capacity);
                Ok(())
            }
            MessageStore::IndexedDb(cell) => {
                let serializer = serde_wasm_bindgen::Serializer::json_compatible();
                let mut chats: Vec<&str> = Vec::new();
                let rows: Vec<Write> = writes
                    .iter()
                    .map(|write| match write {
                        CacheWrite::Put(entry) => {
                            if !chats.contains(&entry.chat_id()) {
                                chats.push(entry.chat_id());
                            }
                            Write::Put(
                                entry
                                    .row(account_key)
                                    .serialize(&serializer)
                                    .unwrap_or(JsValue::NULL),
                            )
                        }
                        CacheWrite::Remove(chat, id) => Write::Delete(
                            js_sys::Array::of3(&account_key.into(), &chat.into(), &id.into())
                                .into(),
                        ),
                    })
                    .collect();
                let pick = |rows: Vec<JsValue>| -> Vec<String> {
                    let positions = rows
                        .iter()
                        .map(|row| {
                            let at = js_sys::Reflect::get(row, &"sentAt".into())
                                .ok()
                                .and_then(|v| v.as_f64())
                                .unwrap_or(0.0);
                            (at as i64, text(row, "messageId"))
                        })
                        .collect();
                    excess(positions, capacity)
                };
                let trim = Trim {
                    prefixes: chats.iter().map(|chat| vec![account_key, *chat]).collect(),
                    keep: u32::try_from(capacity).unwrap_or(u32::MAX),
                    pick: &pick,
                };
                TokenStore::idb(cell)
                    .await?
                    .write_and_trim(MESSAGES, &rows, Some(trim))
                    .await
            }
        }
    }

    /// Every stored row of `chat_id` of `account_key`, unvalidated and unordered (parse
    /// each with [`Entry::parse`]).
    pub async fn load(&self, account_key: &str, chat_id: &str) -> Result<Vec<Value>, StoreError> {
        match self {
            MessageStore::Memory => Ok(message_memory::rows(account_key, chat_id)),
            MessageStore::IndexedDb(cell) => Ok(TokenStore::idb(cell)
                .await?
                .rows_with_prefix(MESSAGES, &[account_key, chat_id])
                .await?
                .into_iter()
                .map(|row| serde_wasm_bindgen::from_value::<Value>(row).unwrap_or(Value::Null))
                .collect()),
        }
    }
}
