//! IndexedDB: one database, one object store keyed by account, awaited as futures.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbObjectStoreParameters, IdbRequest, IdbTransaction,
    IdbTransactionMode,
};

use crate::store::StoreError;

const DB_NAME: &str = "clawchat";
const DB_VERSION: u32 = 1;
/// The object store of sessions, keyed by `account_key`.
pub const SESSIONS: &str = "sessions";

fn io(what: &str) -> StoreError {
    StoreError::Io(what.to_owned())
}

/// Resolves when `request` succeeds, with its result.
async fn settle(request: &IdbRequest) -> Result<JsValue, StoreError> {
    let promise = Promise::new(&mut |resolve, reject| {
        let done = request.clone();
        let on_success = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &done.result().unwrap_or(JsValue::UNDEFINED));
        });
        let on_error = Closure::once_into_js(move || {
            let _ = reject.call0(&JsValue::NULL);
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise)
        .await
        .map_err(|_| io("IndexedDB request failed"))
}

/// Resolves when a read-write transaction is durably complete.
async fn committed(tx: &IdbTransaction) -> Result<(), StoreError> {
    let promise = Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let on_abort = Closure::once_into_js(move || {
            let _ = reject.call0(&JsValue::NULL);
        });
        tx.set_oncomplete(Some(on_complete.unchecked_ref()));
        // A failed request aborts its transaction, so `abort` covers errors too.
        tx.set_onabort(Some(on_abort.unchecked_ref()));
    });
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|_| io("IndexedDB transaction aborted"))
}

/// An open database.
#[derive(Clone)]
pub struct Idb {
    db: IdbDatabase,
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
                if !db.object_store_names().contains(SESSIONS) {
                    let params = IdbObjectStoreParameters::new();
                    params.set_key_path(&"account_key".into());
                    let _ = db.create_object_store_with_optional_parameters(SESSIONS, &params);
                }
            }
        });
        request.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
        let db = settle(&request)
            .await?
            .dyn_into::<IdbDatabase>()
            .map_err(|_| io("IndexedDB open returned no database"))?;
        Ok(Idb { db })
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
