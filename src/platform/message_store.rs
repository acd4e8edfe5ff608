//! Where the local message cache is kept: the account's rows in IndexedDB next to its
//! session, or this realm's memory where the session is not in IndexedDB. Each write is
//! one transaction that also trims the chats it touched to their newest N, and the
//! account to the [`MAX_CHATS`] chats with the newest messages.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use super::idb::{prefix_range, Idb, Trim, Write, BY_TIME, MESSAGES};
use super::token_store::TokenStore;
use crate::store::message_cache::{
    excess, excess_chats, trim_threshold, Entry, EntryError, Row, MAX_CHATS,
};
use crate::store::{message_memory, StoreError};

/// One change to the cache.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheWrite {
    /// Store (insert or replace) this message.
    Put(Entry),
    /// Delete the row of this chat and message id (a corrupt one).
    Remove(String, String),
    /// Delete every row of the account (it logged out).
    Clear,
}

/// A chat's messages as read from a store: the good ones, and the rows that did not
/// decode (to be dropped).
#[derive(Debug, Default)]
pub struct Loaded {
    /// The messages, unordered.
    pub entries: Vec<Entry>,
    /// The corrupt rows and why.
    pub corrupt: Vec<(Row, EntryError)>,
}

/// A message cache store.
#[derive(Clone)]
pub enum MessageStore {
    /// IndexedDB, shared by every tab of the origin (the session store's database).
    IndexedDb(Rc<RefCell<Option<Idb>>>),
    /// This realm's memory.
    Memory,
}

/// `row[key]` as a string ("" when absent or not a string).
fn text(row: &JsValue, key: &str) -> String {
    Reflect::get(row, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// `row[key]` as a time (0 when absent or not a number).
fn time(row: &JsValue, key: &str) -> i64 {
    Reflect::get(row, &key.into())
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(0, |at| at as i64)
}

/// The IndexedDB row of `row`: the key parts, the time and the frame.
fn to_js(account_key: &str, row: &Row) -> JsValue {
    let object = Object::new();
    for (key, value) in [
        ("accountKey", JsValue::from(account_key)),
        ("chatId", row.chat_id.as_str().into()),
        ("messageId", row.message_id.as_str().into()),
        ("sentAt", (row.sent_at as f64).into()),
        ("frame", row.frame.as_str().into()),
    ] {
        let _ = Reflect::set(&object, &key.into(), &value);
    }
    object.into()
}

/// A row read back from IndexedDB, leniently: a missing or mistyped field is empty
/// (the frame then fails to decode).
fn from_js(value: &JsValue) -> Row {
    Row {
        chat_id: text(value, "chatId"),
        message_id: text(value, "messageId"),
        sent_at: time(value, "sentAt"),
        frame: text(value, "frame"),
    }
}

impl MessageStore {
    /// The store that goes with `tokens`: IndexedDB with IndexedDB, else memory.
    pub fn for_tokens(tokens: &TokenStore) -> Self {
        match tokens {
            TokenStore::IndexedDb(cell) => MessageStore::IndexedDb(cell.clone()),
            TokenStore::Memory | TokenStore::Js(_) => MessageStore::Memory,
        }
    }

    /// Applies `writes` of `account_key` in one transaction, then trims each chat a `Put`
    /// touched to its newest `capacity`, in the same transaction: at once where the
    /// database has the time index, else (and in memory) past [`trim_threshold`].
    pub async fn write(
        &self,
        account_key: &str,
        writes: Vec<CacheWrite>,
        capacity: usize,
    ) -> Result<(), StoreError> {
        match self {
            MessageStore::Memory => {
                let mut puts = Vec::new();
                for write in writes {
                    match write {
                        CacheWrite::Put(entry) => puts.push(entry),
                        CacheWrite::Remove(chat, id) => {
                            message_memory::remove(account_key, &chat, &id)
                        }
                        CacheWrite::Clear => {
                            // Puts queued before the clear go with it.
                            puts.clear();
                            message_memory::clear(account_key);
                        }
                    }
                }
                message_memory::put(account_key, puts, capacity);
                Ok(())
            }
            MessageStore::IndexedDb(cell) => {
                let mut chats: Vec<&str> = Vec::new();
                let account_range: JsValue = prefix_range(&[account_key])?.into();
                let rows: Vec<Write> = writes
                    .iter()
                    .map(|write| match write {
                        CacheWrite::Put(entry) => {
                            if !chats.contains(&entry.chat_id()) {
                                chats.push(entry.chat_id());
                            }
                            Write::Put(to_js(account_key, &entry.row()))
                        }
                        CacheWrite::Remove(chat, id) => Write::Delete(
                            js_sys::Array::of3(&account_key.into(), &chat.into(), &id.into())
                                .into(),
                        ),
                        CacheWrite::Clear => Write::Delete(account_range.clone()),
                    })
                    .collect();
                let threshold = trim_threshold(capacity);
                let in_chat = |rows: Vec<JsValue>| -> Vec<Vec<String>> {
                    let positions = rows
                        .iter()
                        .map(|row| (time(row, "sentAt"), text(row, "messageId")))
                        .collect();
                    excess(positions, capacity)
                        .into_iter()
                        .map(|id| vec![id])
                        .collect()
                };
                let in_account = |rows: Vec<JsValue>| -> Vec<Vec<String>> {
                    let positions = rows
                        .iter()
                        .map(|row| {
                            let at = time(row, "sentAt");
                            (text(row, "chatId"), at, text(row, "messageId"))
                        })
                        .collect();
                    excess_chats(positions, MAX_CHATS)
                        .into_iter()
                        .map(|(chat, id)| vec![chat, id])
                        .collect()
                };
                let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                // With the time index, a chat's trim reads only the keys it deletes, so
                // each write keeps the chat at `capacity` (no trim of many at once);
                // without it (a database an older build created), every row is read, so
                // only past the threshold.
                let mut trims: Vec<Trim> = chats
                    .iter()
                    .map(|chat| Trim {
                        prefix: vec![account_key, *chat],
                        oldest_by: Some((BY_TIME, count(capacity))),
                        keep: count(threshold),
                        pick: &in_chat,
                    })
                    .collect();
                // After the chats: all of them full is within bounds; more chats are not.
                trims.push(Trim {
                    prefix: vec![account_key],
                    oldest_by: None,
                    keep: count(threshold.saturating_mul(MAX_CHATS)),
                    pick: &in_account,
                });
                TokenStore::idb(cell)
                    .await?
                    .write_and_trim(MESSAGES, &rows, &trims)
                    .await
            }
        }
    }

    /// Every stored message of `chat_id` of `account_key` for the user `own_user_id`,
    /// unordered; rows that do not decode are listed apart.
    pub async fn load(
        &self,
        account_key: &str,
        chat_id: &str,
        own_user_id: &str,
    ) -> Result<Loaded, StoreError> {
        let rows = match self {
            MessageStore::Memory => {
                return Ok(Loaded {
                    entries: message_memory::entries(account_key, chat_id),
                    corrupt: Vec::new(),
                })
            }
            MessageStore::IndexedDb(cell) => {
                TokenStore::idb(cell)
                    .await?
                    .rows_with_prefix(MESSAGES, &[account_key, chat_id])
                    .await?
            }
        };
        let mut loaded = Loaded::default();
        for row in rows.iter().map(from_js) {
            match Entry::from_row(&row, own_user_id) {
                Ok(entry) => loaded.entries.push(entry),
                Err(err) => loaded.corrupt.push((row, err)),
            }
        }
        Ok(loaded)
    }
}
