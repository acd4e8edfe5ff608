//! IndexedDB: one database (sessions, leases, the outbox, the message cache), awaited as
//! futures.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbObjectStoreParameters, IdbRequest,
    IdbTransaction, IdbTransactionMode,
};

use crate::store::StoreError;

const DB_NAME: &str = "clawchat";
/// 1: sessions; 2: + leases; 3: + outbox; 4: + messages. An upgrade only adds what is
/// missing. The messages' time index (for builds before message pages) comes with any
/// upgrade (a new database included) but raises no version: a new version would cut a
/// tab of an older build off its database, and off saving the tokens it refreshes.
const DB_VERSION: u32 = 4;
/// The object store of sessions, keyed by `account_key`.
pub const SESSIONS: &str = "sessions";
/// The object store of lease rows (the lock fallback without Web Locks), keyed by `name`.
pub const LEASES: &str = "leases";
/// The object store of queued sends, keyed by `[accountKey, messageId]`.
pub const OUTBOX: &str = "outbox";
/// The object store of cached messages, keyed by `[accountKey, chatId, messageId]`: a
/// chat's pages under a `messageId` of numbers (`store::message_pages`), the rows of
/// builds before them under the message's id.
pub const MESSAGES: &str = "messages";
/// The index of [`MESSAGES`] by `[accountKey, chatId, sentAt]`, which builds before pages
/// trim their rows by (a page has no `sentAt`, so it is not in it): still made with the
/// database, for their tabs open on it.
const BY_TIME: &str = "byTime";

/// One write of a batch.
pub enum Write {
    /// Insert or replace this row (keyed by its key path).
    Put(JsValue),
    /// Delete the row under this key.
    Delete(JsValue),
}

/// The name and message of a DOMException (no data: safe to log).
fn dom_error(value: &JsValue) -> String {
    let field = |key: &str| {
        js_sys::Reflect::get(value, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    format!("{}: {}", field("name"), field("message"))
}

fn io(what: &str) -> StoreError {
    StoreError::Io(what.to_owned())
}

/// Waits for one of two events: `bind` installs the promise's own resolve and reject
/// functions as the event handlers.
async fn first_event(bind: impl FnOnce(&js_sys::Function, &js_sys::Function)) -> bool {
    let mut bind = Some(bind);
    let promise = Promise::new(&mut |resolve, reject| {
        if let Some(bind) = bind.take() {
            bind(&resolve, &reject);
        }
    });
    JsFuture::from(promise).await.is_ok()
}

/// Resolves when `request` succeeds, with its result.
async fn settle(request: &IdbRequest) -> Result<JsValue, StoreError> {
    let succeeded = first_event(|ok, fail| {
        request.set_onsuccess(Some(ok));
        request.set_onerror(Some(fail));
    })
    .await;
    match succeeded {
        true => Ok(request.result().unwrap_or(JsValue::UNDEFINED)),
        false => Err(io("IndexedDB request failed")),
    }
}

/// Resolves when a read-write transaction is durably complete.
async fn committed(tx: &IdbTransaction) -> Result<(), StoreError> {
    // A failed request aborts its transaction, so `abort` covers errors too.
    let complete = first_event(|ok, fail| {
        tx.set_oncomplete(Some(ok));
        tx.set_onabort(Some(fail));
    })
    .await;
    complete
        .then_some(())
        .ok_or_else(|| io("IndexedDB transaction aborted"))
}

/// An open database.
#[derive(Clone)]
pub struct Idb {
    db: IdbDatabase,
    /// Set when another page asked to upgrade the database and this connection closed
    /// for it: open again before the next use.
    closed: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Idb {
    /// Opens (creating or upgrading) the database from the global scope's `indexedDB`.
    pub async fn open() -> Result<Idb, StoreError> {
        let factory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
            .ok()
            .and_then(|f| f.dyn_into::<IdbFactory>().ok())
            .ok_or_else(|| StoreError::Unavailable("no IndexedDB in this context".into()))?;
        let request = factory
            .open_with_u32(DB_NAME, DB_VERSION)
            .map_err(|_| io("cannot open IndexedDB"))?;
        let upgrading = request.clone();
        let on_upgrade = Closure::once_into_js(move || {
            if let Some(db) = upgrading
                .result()
                .ok()
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
            {
                let outbox_key: JsValue =
                    js_sys::Array::of2(&"accountKey".into(), &"messageId".into()).into();
                let messages_key: JsValue =
                    js_sys::Array::of3(&"accountKey".into(), &"chatId".into(), &"messageId".into())
                        .into();
                for (store, key) in [
                    (SESSIONS, JsValue::from("account_key")),
                    (LEASES, "name".into()),
                    (OUTBOX, outbox_key),
                    (MESSAGES, messages_key),
                ] {
                    if !db.object_store_names().contains(store) {
                        let params = IdbObjectStoreParameters::new();
                        params.set_key_path(&key);
                        let _ = db.create_object_store_with_optional_parameters(store, &params);
                    }
                }
            }
            // The messages' time index, in the upgrade's own transaction.
            if let Some(messages) = upgrading
                .transaction()
                .and_then(|tx| tx.object_store(MESSAGES).ok())
                .filter(|store| !store.index_names().contains(BY_TIME))
            {
                let by_time: JsValue =
                    js_sys::Array::of3(&"accountKey".into(), &"chatId".into(), &"sentAt".into())
                        .into();
                let _ = messages.create_index_with_str_sequence(BY_TIME, &by_time);
            }
        });
        request.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
        let db = settle(&request)
            .await?
            .dyn_into::<IdbDatabase>()
            .map_err(|_| io("IndexedDB open returned no database"))?;
        // A page with a newer schema waits until every older connection closes: close
        // this one at once rather than block it.
        let closed = std::rc::Rc::new(std::cell::Cell::new(false));
        let (closing, flag) = (db.clone(), closed.clone());
        let on_version_change = Closure::once_into_js(move || {
            closing.close();
            flag.set(true);
        });
        db.set_onversionchange(Some(on_version_change.unchecked_ref()));
        Ok(Idb { db, closed })
    }

    /// False once this connection closed for another page's upgrade.
    pub fn is_open(&self) -> bool {
        !self.closed.get()
    }

    /// The row under `key` in `store`, `None` when absent.
    pub async fn get(&self, store: &str, key: &str) -> Result<Option<JsValue>, StoreError> {
        let tx = self
            .db
            .transaction_with_str(store)
            .map_err(|_| io("cannot start a read"))?;
        let request = tx
            .object_store(store)
            .and_then(|s| s.get(&key.into()))
            .map_err(|_| io("cannot read"))?;
        let value = settle(&request).await?;
        Ok((!value.is_undefined() && !value.is_null()).then_some(value))
    }

    /// Writes `row` (keyed by its key path) and waits for the commit.
    pub async fn put(&self, store: &str, row: &JsValue) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)
            .map_err(|_| io("cannot start a write"))?;
        tx.object_store(store)
            .and_then(|s| s.put(row))
            .map_err(|_| io("cannot write"))?;
        committed(&tx).await
    }

    /// Deletes the row under `key` and waits for the commit.
    pub async fn delete(&self, store: &str, key: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)
            .map_err(|_| io("cannot start a delete"))?;
        tx.object_store(store)
            .and_then(|s| s.delete(&key.into()))
            .map_err(|_| io("cannot delete"))?;
        committed(&tx).await
    }
}

/// The keys that start with `prefix` (a compound key's first parts): `[...prefix]` sorts
/// before every `[...prefix, id]`, `[...prefix, [[]]]` after every string id and every
/// array of numbers (the message cache's page keys).
pub fn prefix_range(prefix: &[&str]) -> Result<IdbKeyRange, StoreError> {
    let lower: js_sys::Array = prefix.iter().map(|p| JsValue::from(*p)).collect();
    let above = js_sys::Array::of1(&js_sys::Array::of1(&js_sys::Array::new()));
    IdbKeyRange::bound(&lower, &lower.concat(&above)).map_err(|_| io("bad key range"))
}

/// The list a `getAll`/`getAllKeys` `request` answers (`what` failed if it could not be
/// made).
async fn listed(
    request: Result<IdbRequest, JsValue>,
    what: &str,
) -> Result<js_sys::Array, StoreError> {
    let request = request.map_err(|_| io(what))?;
    Ok(js_sys::Array::from(&settle(&request).await?))
}

/// A read-write transaction on one store, its requests made one after the other: only
/// its own requests are awaited while it is open. Dropped before [`WriteTx::commit`]
/// (an error on the way), it is aborted: all or nothing.
#[must_use = "dropped, the transaction is aborted"]
pub struct WriteTx {
    tx: IdbTransaction,
    store: IdbObjectStore,
    committing: bool,
}

impl WriteTx {
    /// Inserts or replaces `row` (keyed by its key path).
    pub fn put(&self, row: &JsValue) -> Result<(), StoreError> {
        self.store
            .put(row)
            .map(drop)
            .map_err(|e| io(&format!("cannot write: {}", dom_error(&e))))
    }

    /// Deletes the row under `key`, or every row in it when it is a key range.
    pub fn delete(&self, key: &JsValue) -> Result<(), StoreError> {
        self.store
            .delete(key)
            .map(drop)
            .map_err(|e| io(&format!("cannot delete: {}", dom_error(&e))))
    }

    /// The keys of the rows in `range`, in key order.
    pub async fn keys(&self, range: &JsValue) -> Result<js_sys::Array, StoreError> {
        listed(self.store.get_all_keys_with_key(range), "cannot read keys").await
    }

    /// How many rows are in `range`.
    pub async fn count(&self, range: &JsValue) -> Result<usize, StoreError> {
        let request = self
            .store
            .count_with_key(range)
            .map_err(|_| io("cannot count"))?;
        let count = settle(&request).await?.as_f64().unwrap_or(0.0);
        Ok(count as usize)
    }

    /// The rows in `range`, in key order.
    pub async fn rows(&self, range: &JsValue) -> Result<js_sys::Array, StoreError> {
        listed(self.store.get_all_with_key(range), "cannot read").await
    }

    /// Waits until everything written is durably committed.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.committing = true;
        committed(&self.tx).await
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.committing {
            let _ = self.tx.abort();
        }
    }
}

impl Idb {
    /// A read-write transaction on `store`.
    pub fn write_tx(&self, store: &str) -> Result<WriteTx, StoreError> {
        let tx = self
            .db
            .transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)
            .map_err(|e| io(&format!("cannot start a write: {}", dom_error(&e))))?;
        let store = tx.object_store(store).map_err(|_| io("no such store"))?;
        Ok(WriteTx {
            tx,
            store,
            committing: false,
        })
    }

    /// Runs `writes` in order in one read-write transaction and waits for the commit
    /// (all or nothing).
    pub async fn write_all(&self, store: &str, writes: &[Write]) -> Result<(), StoreError> {
        let tx = self.write_tx(store)?;
        for write in writes {
            match write {
                Write::Put(row) => tx.put(row)?,
                Write::Delete(key) => tx.delete(key)?,
            }
        }
        tx.commit().await
    }

    /// Every row of `store` whose key starts with `prefix` (a compound key's first
    /// parts), in key order.
    pub async fn rows_with_prefix(
        &self,
        store: &str,
        prefix: &[&str],
    ) -> Result<Vec<JsValue>, StoreError> {
        let tx = self
            .db
            .transaction_with_str(store)
            .map_err(|e| io(&format!("cannot start a read: {}", dom_error(&e))))?;
        let range: JsValue = prefix_range(prefix)?.into();
        let request = tx
            .object_store(store)
            .and_then(|s| s.get_all_with_key(&range))
            .map_err(|e| io(&format!("cannot read: {}", dom_error(&e))))?;
        let rows = settle(&request).await?;
        Ok(js_sys::Array::from(&rows).iter().collect())
    }
}

/// A lease row: who holds `name` until when (epoch ms). Stored as the plain object
/// `{name, owner, expires_at}`, built and read property by property: its time is a JS
/// number, kept exactly.
struct Lease {
    name: String,
    owner: String,
    expires_at: f64,
}

impl Lease {
    /// The row as stored.
    fn to_row(&self) -> JsValue {
        let row = js_sys::Object::new();
        for (key, value) in [
            ("name", JsValue::from(self.name.as_str())),
            ("owner", self.owner.as_str().into()),
            ("expires_at", self.expires_at.into()),
        ] {
            let _ = js_sys::Reflect::set(&row, &key.into(), &value);
        }
        row.into()
    }

    /// A stored row, if it is one (every field there with its type).
    fn from_row(row: &JsValue) -> Option<Lease> {
        let get = |key: &str| js_sys::Reflect::get(row, &key.into()).ok();
        Some(Lease {
            name: get("name")?.as_string()?,
            owner: get("owner")?.as_string()?,
            expires_at: get("expires_at")?.as_f64()?,
        })
    }
}

impl Idb {
    /// A read-write transaction on the leases and the current lease `name`, if any.
    async fn lease_row(
        &self,
        name: &str,
    ) -> Result<(IdbTransaction, IdbObjectStore, Option<Lease>), StoreError> {
        let tx = self
            .db
            .transaction_with_str_and_mode(LEASES, IdbTransactionMode::Readwrite)
            .map_err(|e| io(&format!("cannot start a lease: {}", dom_error(&e))))?;
        let store = tx.object_store(LEASES).map_err(|_| io("no lease store"))?;
        let current = settle(
            &store
                .get(&name.into())
                .map_err(|_| io("cannot read a lease"))?,
        )
        .await?;
        Ok((tx, store, Lease::from_row(&current)))
    }

    /// Takes the lease `name` for `owner` until `now + ttl_ms` unless another owner holds
    /// an unexpired one. The read and the write are one readwrite transaction, which
    /// IndexedDB runs alone across tabs: a compare-and-set.
    pub async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl_ms: f64,
        now: f64,
    ) -> Result<bool, StoreError> {
        let (tx, store, current) = self.lease_row(name).await?;
        if current.is_some_and(|lease| lease.owner != owner && lease.expires_at > now) {
            return Ok(false);
        }
        let lease = Lease {
            name: name.to_owned(),
            owner: owner.to_owned(),
            expires_at: now + ttl_ms,
        };
        let row = lease.to_row();
        store.put(&row).map_err(|_| io("cannot write a lease"))?;
        committed(&tx).await.map(|_| true)
    }

    /// Gives the lease `name` back if `owner` still holds it.
    pub async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let (tx, store, current) = self.lease_row(name).await?;
        if current.is_some_and(|lease| lease.owner == owner) {
            store
                .delete(&name.into())
                .map_err(|_| io("cannot delete a lease"))?;
        }
        committed(&tx).await
    }
}
