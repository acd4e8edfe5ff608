//! Where the local message cache is kept: the account's pages in IndexedDB next to its
//! session (`store::message_pages`; rows of one message from builds before pages are
//! read with them, and moved into pages when their chat is compacted), or this realm's
//! memory where the session is not in IndexedDB. Each write is one transaction that also
//! trims the chats it touched to their newest N, and the account to the [`MAX_CHATS`]
//! chats with the newest messages.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::idb::{prefix_range, Idb, MESSAGES};
use super::token_store::TokenStore;
use crate::store::message_cache::{Entry, EntryError, Row, MAX_CHATS};
use crate::store::message_pages::{compact, forgotten_chats, pack, plan, Item, Plan, Stored};
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

/// `row[key]` as a time (0 when absent or not a number).
fn time(row: &JsValue, key: &str) -> i64 {
    Reflect::get(row, &key.into())
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(0, |at| at as i64)
}

/// `value[index]`, undefined where there is none (or `value` is not an object).
fn at(value: &JsValue, index: u32) -> JsValue {
    Reflect::get_u32(value, index).unwrap_or(JsValue::UNDEFINED)
}

/// A round's writes by chat, in the order the chats first come, after the account is
/// cleared if it logged out (the writes queued before that go with it).
#[derive(Default)]
struct Batch {
    clear: bool,
    chats: Vec<ChatWrites>,
}

/// One chat's part of a round: its new messages, and the ids of stored ones to remove.
struct ChatWrites {
    chat_id: String,
    puts: Vec<Entry>,
    removed: Vec<String>,
}

impl Batch {
    fn of(writes: Vec<CacheWrite>) -> Batch {
        let mut batch = Batch::default();
        for write in writes {
            match write {
                CacheWrite::Put(entry) => batch.chat(entry.chat_id()).puts.push(entry),
                CacheWrite::Remove(chat, id) => batch.chat(&chat).removed.push(id),
                CacheWrite::Clear => {
                    batch = Batch {
                        clear: true,
                        chats: Vec::new(),
                    }
                }
            }
        }
        batch
    }

    fn chat(&mut self, chat_id: &str) -> &mut ChatWrites {
        let at = match self.chats.iter().position(|c| c.chat_id == chat_id) {
            Some(at) => at,
            None => {
                self.chats.push(ChatWrites {
                    chat_id: chat_id.to_owned(),
                    puts: Vec::new(),
                    removed: Vec::new(),
                });
                self.chats.len() - 1
            }
        };
        &mut self.chats[at]
    }
}

/// What a stored row's key (`[accountKey, chatId, messageId]`) tells: a message id is a
/// row of a build before pages, numbers are a page's (read leniently: what is not a
/// number is NaN, and a page that says nothing counts as holding one message).
fn stored_of(key: &JsValue) -> Stored {
    let part = at(key, 2);
    if part.is_string() {
        return Stored::Single;
    }
    let number = |i| at(&part, i).as_f64().unwrap_or(f64::NAN);
    Stored::Page {
        seq: number(0),
        count: number(1) as usize,
        newest: number(2) as i64,
    }
}

/// The messages of a stored row, leniently: a row of a build before pages is one, a
/// page holds many (an entry without a string id is skipped: nothing can address it;
/// a missing time is 0, a missing frame then fails to decode).
fn items_of(row: &JsValue) -> Vec<Item<JsValue>> {
    let field = |key: &str| Reflect::get(row, &key.into()).unwrap_or(JsValue::UNDEFINED);
    if let Some(id) = field("messageId").as_string() {
        let (sent_at, frame) = (time(row, "sentAt"), field("frame"));
        return vec![Item { id, sent_at, frame }];
    }
    let (ids, times, frames) = (field("ids"), field("times"), field("frames"));
    if !js_sys::Array::is_array(&ids) {
        return Vec::new();
    }
    let ids: js_sys::Array = ids.unchecked_into();
    (0..ids.length())
        .filter_map(|i| {
            Some(Item {
                id: ids.get(i).as_string()?,
                sent_at: at(&times, i).as_f64().map_or(0, |t| t as i64),
                frame: at(&frames, i),
            })
        })
        .collect()
}

/// The page row `seq` of a chat with `items`: its key tells its number, how many it
/// holds and the newest one's time, so that a write reads only the keys.
fn page_row(account_key: &str, chat_id: &str, seq: f64, items: &[Item<JsValue>]) -> JsValue {
    let (ids, times, frames) = (
        js_sys::Array::new(),
        js_sys::Array::new(),
        js_sys::Array::new(),
    );
    for item in items {
        ids.push(&item.id.as_str().into());
        times.push(&(item.sent_at as f64).into());
        frames.push(&item.frame);
    }
    let newest = items.iter().map(|i| i.sent_at).max().unwrap_or(0) as f64;
    let key = js_sys::Array::of3(&seq.into(), &(items.len() as f64).into(), &newest.into());
    let object = Object::new();
    for (name, value) in [
        ("accountKey", JsValue::from(account_key)),
        ("chatId", chat_id.into()),
        ("messageId", key.into()),
        ("ids", ids.into()),
        ("times", times.into()),
        ("frames", frames.into()),
    ] {
        let _ = Reflect::set(&object, &name.into(), &value);
    }
    object.into()
}

/// A frame's size for [`pack`]: its UTF-16 units.
fn units(frame: &JsValue) -> usize {
    frame
        .dyn_ref::<js_sys::JsString>()
        .map_or(0, |s| s.length() as usize)
}

/// Applies a round to the account's pages in one transaction: each chat gets a page of
/// its new messages, or is compacted (see [`plan`]); a chat new to the cache makes the
/// account forget its chats past [`MAX_CHATS`].
async fn write_pages(
    idb: &Idb,
    account_key: &str,
    batch: Batch,
    capacity: usize,
) -> Result<(), StoreError> {
    let tx = idb.write_tx(MESSAGES)?;
    let account: JsValue = prefix_range(&[account_key])?.into();
    if batch.clear {
        tx.delete(&account)?;
    }
    let mut new_chat = false;
    for chat in batch.chats {
        let range: JsValue = prefix_range(&[account_key, &chat.chat_id])?.into();
        let stored: Vec<Stored> = tx
            .keys(&range)
            .await?
            .iter()
            .map(|k| stored_of(&k))
            .collect();
        new_chat |= stored.is_empty() && !chat.puts.is_empty();
        let adding = chat.puts.iter().map(|entry| {
            let row = entry.row();
            Item {
                id: row.message_id,
                sent_at: row.sent_at,
                frame: row.frame.into(),
            }
        });
        let removing = !chat.removed.is_empty();
        let (mut seq, items) = match plan(&stored, chat.puts.len(), removing, capacity) {
            Plan::Add { seq } => (seq, adding.collect()),
            Plan::Compact => {
                let rows = tx.rows(&range).await?;
                let mut items: Vec<Item<JsValue>> =
                    rows.iter().flat_map(|r| items_of(&r)).collect();
                items.retain(|item| !chat.removed.contains(&item.id));
                items.extend(adding);
                tx.delete(&range)?;
                (0.0, compact(items, capacity))
            }
        };
        for page in pack(items, units) {
            tx.put(&page_row(account_key, &chat.chat_id, seq, &page))?;
            seq += 1.0;
        }
    }
    if new_chat {
        let keys = tx.keys(&account).await?;
        let chats = keys.iter().filter_map(|key| {
            let newest = match stored_of(&key) {
                Stored::Page { newest, .. } => newest,
                Stored::Single => 0,
            };
            Some((at(&key, 1).as_string()?, newest))
        });
        for chat in forgotten_chats(chats.collect(), MAX_CHATS) {
            tx.delete(&prefix_range(&[account_key, &chat])?.into())?;
        }
    }
    tx.commit().await
}

impl MessageStore {
    /// The store that goes with `tokens`: IndexedDB with IndexedDB, else memory.
    pub fn for_tokens(tokens: &TokenStore) -> Self {
        match tokens {
            TokenStore::IndexedDb(cell) => MessageStore::IndexedDb(cell.clone()),
            TokenStore::Memory | TokenStore::Js(_) => MessageStore::Memory,
        }
    }

    /// Applies `writes` of `account_key` in one transaction, trimming each chat a `Put`
    /// touched past a quarter more than `capacity` back to its newest `capacity`, and
    /// the account to its [`MAX_CHATS`] chats with the newest messages.
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
                let idb = TokenStore::idb(cell).await?;
                write_pages(&idb, account_key, Batch::of(writes), capacity).await
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
        let rows = rows.iter().flat_map(items_of).map(|item| Row {
            chat_id: chat_id.to_owned(),
            message_id: item.id,
            sent_at: item.sent_at,
            frame: item.frame.as_string().unwrap_or_default(),
        });
        for row in rows {
            match Entry::from_row(&row, own_user_id) {
                Ok(entry) => loaded.entries.push(entry),
                Err(err) => loaded.corrupt.push((row, err)),
            }
        }
        Ok(loaded)
    }
}
