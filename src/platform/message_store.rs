//! Where the local message cache is kept: the account's pages in IndexedDB next to its
//! session (`store::message_pages`, rows in `message_rows`), or this realm's memory
//! where the session is not in IndexedDB. Each write is one transaction that also trims
//! the chats it touched past twice N (a quarter more in memory) back to their newest N,
//! and the account to the [`MAX_CHATS`] chats with the newest messages.
//!
//! Rows of one message from builds before pages are read with the pages, and moved into
//! them when their chat is compacted. Tabs of such a build still open on the database
//! (during a deploy) read and write only those rows: they do not see the pages (their
//! cache looks older, and `history()` asks the server past it), and a copy of a message
//! they write after a page holds it reads as the older one. An account's chats that have
//! only such rows count as the oldest when the account passes [`MAX_CHATS`].

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::idb::{prefix_range, Idb, MESSAGES};
use super::message_rows::{chat_of, item, items_of, page_row, stored_of};
use super::token_store::TokenStore;
use crate::small_map::SmallMap;
use crate::store::history_page::{read_page, PageQuery};
use crate::store::message_cache::{Entry, EntryError, Row, MAX_CHATS};
use crate::store::message_pages::{compact, forgotten_chats, pack, plan, Item, Plan, Stored};
use crate::store::{message_memory, StoreError};

/// One change to the cache.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheWrite {
    /// Store (insert or replace) this message.
    Put(Entry),
    /// Delete the stored copies of this chat's message id (a corrupt one). In IndexedDB
    /// it takes the rows stored before the round, whatever the round puts; the memory
    /// store applies a round in order. The repair queues it before the good copy's put,
    /// which both thus keep.
    Remove(String, String),
    /// Delete every row of the account (it logged out).
    Clear,
}

/// A chat's messages as read from a store, unordered: a page decodes what it returns
/// (`store::history_page`).
#[derive(Debug)]
pub enum Loaded {
    /// Decoded already (the memory store keeps them so).
    Entries(Vec<Entry>),
    /// IndexedDB's pages (and older builds' rows), a message an item, its frame not yet
    /// read out of JS.
    Rows(Vec<Item<JsValue>>),
}

/// A message cache store.
#[derive(Clone)]
pub enum MessageStore {
    /// IndexedDB, shared by every tab of the origin (the session store's database).
    IndexedDb(Rc<RefCell<Option<Idb>>>),
    /// This realm's memory.
    Memory,
}

/// A round's writes by chat, in the order the chats first come, after the account is
/// cleared if it logged out (the writes queued before that go with it).
#[derive(Default)]
struct Batch {
    clear: bool,
    chats: SmallMap<String, ChatWrites>,
}

/// One chat's part of a round: its new messages, and the ids of stored ones to remove.
#[derive(Default)]
struct ChatWrites {
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
                        chats: SmallMap::default(),
                    }
                }
            }
        }
        batch
    }

    fn chat(&mut self, chat_id: &str) -> &mut ChatWrites {
        self.chats
            .get_or_insert_with(chat_id.to_owned(), ChatWrites::default)
    }
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
    for (chat_id, chat) in batch.chats.iter() {
        let range: JsValue = prefix_range(&[account_key, chat_id])?.into();
        let keys = tx.keys(&range).await?;
        let stored: Vec<Stored> = keys.iter().map(|key| stored_of(&key)).collect();
        new_chat |= stored.is_empty() && !chat.puts.is_empty();
        let adding: Vec<Item<JsValue>> = chat
            .puts
            .iter()
            .map(|entry| {
                let row = entry.row();
                item(row.message_id, row.sent_at, row.frame.into())
            })
            .collect();
        let adding_units = adding.iter().map(|item| item.units).sum();
        let removing = !chat.removed.is_empty();
        let (mut seq, items) = match plan(&stored, (adding.len(), adding_units), removing, capacity)
        {
            Plan::Add { seq } => (seq, adding),
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
        for page in pack(items) {
            tx.put(&page_row(account_key, chat_id, seq, &page))?;
            seq += 1.0;
        }
    }
    // Each chat has a row at least: no more rows than chats allowed, nothing to read.
    if new_chat && tx.count(&account).await? > MAX_CHATS {
        let keys = tx.keys(&account).await?;
        let chats = keys.iter().filter_map(|key| {
            let newest = match stored_of(&key) {
                Stored::Page { newest, .. } => newest,
                Stored::Single => 0,
            };
            Some((chat_of(&key)?, newest))
        });
        for chat in forgotten_chats(chats.collect(), MAX_CHATS) {
            tx.delete(&prefix_range(&[account_key, &chat])?.into())?;
        }
    }
    tx.commit().await
}

/// Applies `write` to this realm's memory store, trimming as [`MessageStore::write`].
fn write_memory(account_key: &str, write: CacheWrite, capacity: usize) {
    match write {
        CacheWrite::Put(entry) => message_memory::put(account_key, entry, capacity),
        CacheWrite::Remove(chat, id) => message_memory::remove(account_key, &chat, &id),
        CacheWrite::Clear => message_memory::clear(account_key),
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

    /// Applies `write` at once where that costs no wait (the memory store); else gives
    /// it back, for a round of [`MessageStore::write`].
    pub fn write_now(
        &self,
        account_key: &str,
        write: CacheWrite,
        capacity: usize,
    ) -> Option<CacheWrite> {
        match self {
            MessageStore::Memory => {
                write_memory(account_key, write, capacity);
                None
            }
            MessageStore::IndexedDb(_) => Some(write),
        }
    }

    /// Applies `writes` of `account_key` in one transaction, trimming each chat they
    /// touched past twice `capacity` (a quarter more in memory) back to its newest
    /// `capacity`, and the account to its [`MAX_CHATS`] chats with the newest messages.
    pub async fn write(
        &self,
        account_key: &str,
        writes: Vec<CacheWrite>,
        capacity: usize,
    ) -> Result<(), StoreError> {
        match self {
            MessageStore::Memory => {
                for write in writes {
                    write_memory(account_key, write, capacity);
                }
                Ok(())
            }
            MessageStore::IndexedDb(cell) => {
                let idb = TokenStore::idb(cell).await?;
                write_pages(&idb, account_key, Batch::of(writes), capacity).await
            }
        }
    }

    /// Every stored copy of `chat_id`'s messages of `account_key`, unordered and not yet
    /// decoded ([`Loaded::page`] decodes what a page needs).
    pub async fn load(&self, account_key: &str, chat_id: &str) -> Result<Loaded, StoreError> {
        match self {
            MessageStore::Memory => Ok(Loaded::Entries(message_memory::entries(
                account_key,
                chat_id,
            ))),
            MessageStore::IndexedDb(cell) => {
                let rows = TokenStore::idb(cell)
                    .await?
                    .rows_with_prefix(MESSAGES, &[account_key, chat_id])
                    .await?;
                Ok(Loaded::Rows(rows.iter().flat_map(items_of).collect()))
            }
        }
    }
}

impl Loaded {
    /// The page `query` asks for, decoding only what it needs
    /// ([`history_page::read_page`]); what did not decode goes by message id.
    pub fn page(self, chat_id: &str, own_user_id: &str, query: PageQuery<'_>) -> ReadPage {
        let (positions, page) = match &self {
            Loaded::Entries(entries) => {
                let positions: Vec<(i64, &str)> = entries.iter().map(Entry::position).collect();
                let decode = |i: usize| entries.get(i).cloned().ok_or_else(missing);
                let page = read_page(&positions, &decode, own_user_id, query);
                (positions, page)
            }
            Loaded::Rows(items) => {
                let positions: Vec<(i64, &str)> = items.iter().map(Item::position).collect();
                let decode = |i: usize| {
                    let item = items.get(i).ok_or_else(missing)?;
                    let row = Row {
                        chat_id: chat_id.to_owned(),
                        message_id: item.id.clone(),
                        sent_at: item.sent_at,
                        frame: item.frame.as_string().unwrap_or_default(),
                    };
                    Entry::from_row(&row, own_user_id)
                };
                let page = read_page(&positions, &decode, own_user_id, query);
                (positions, page)
            }
        };
        let id = |i: usize| positions.get(i).map(|(_, id)| (*id).to_owned());
        ReadPage {
            corrupt: page
                .corrupt
                .into_iter()
                .filter_map(|(i, err)| Some((id(i)?, err)))
                .collect(),
            entries: page.entries,
            good_copies: page.good_copies,
        }
    }
}

/// A page of a chat's cached messages ([`Loaded::page`]).
pub struct ReadPage {
    /// The page, oldest first.
    pub entries: Vec<Entry>,
    /// The ids of the stored copies that did not decode, and why (to be dropped).
    pub corrupt: Vec<(String, EntryError)>,
    /// The copies that did decode of those ids (to be stored again).
    pub good_copies: Vec<Entry>,
}

/// An index past the copies read (never: the indexes come from them).
fn missing() -> EntryError {
    EntryError("no such cached copy".into())
}
