//! Where the session lives: IndexedDB (browsers), memory, or a JS object with async
//! `load` / `save` / `clear` (edge runtimes).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::idb::{Idb, SESSIONS};
use super::json::{read_js, write_js};
use crate::store::{memory, StoreError, StoredSession};

/// A token store.
#[derive(Clone)]
pub enum TokenStore {
    /// IndexedDB, shared by every tab of the origin (opened on first use).
    IndexedDb(Rc<RefCell<Option<Idb>>>),
    /// This realm's memory, shared by its clients; gone with the page or worker.
    Memory,
    /// An app-supplied object.
    Js(JsValue),
}

fn to_row(session: &StoredSession) -> JsValue {
    write_js(session)
}

fn from_row(row: JsValue) -> Result<StoredSession, StoreError> {
    read_js::<StoredSession>(&row)
        .map_err(StoreError::Malformed)?
        .validate()
}

async fn call_js(
    object: &JsValue,
    method: &str,
    arg: Option<&JsValue>,
) -> Result<JsValue, StoreError> {
    let function = Reflect::get(object, &method.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| StoreError::Unavailable(format!("the storage object has no {method}()")))?;
    let result = match arg {
        Some(arg) => function.call1(object, arg),
        None => function.call0(object),
    }
    .map_err(|_| StoreError::Io(format!("storage {method}() threw")))?;
    let promise = Promise::resolve(&result);
    JsFuture::from(promise)
        .await
        .map_err(|_| StoreError::Io(format!("storage {method}() rejected")))
}

impl TokenStore {
    /// An IndexedDB store.
    pub fn indexed_db() -> Self {
        TokenStore::IndexedDb(Rc::new(RefCell::new(None)))
    }

    /// True when this realm has IndexedDB.
    pub fn has_indexed_db() -> bool {
        Reflect::get(&js_sys::global(), &"indexedDB".into())
            .is_ok_and(|f| !f.is_undefined() && !f.is_null())
    }

    pub(crate) async fn idb(cell: &Rc<RefCell<Option<Idb>>>) -> Result<Idb, StoreError> {
        if let Some(db) = cell.borrow().clone().filter(Idb::is_open) {
            return Ok(db);
        }
        let db = Idb::open().await?;
        *cell.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    /// The session stored for `account_key`.
    pub async fn load(&self, account_key: &str) -> Result<Option<StoredSession>, StoreError> {
        match self {
            TokenStore::Memory => Ok(memory::load(account_key)),
            TokenStore::IndexedDb(cell) => Self::idb(cell)
                .await?
                .get(SESSIONS, account_key)
                .await?
                .map(from_row)
                .transpose(),
            TokenStore::Js(object) => {
                let row = call_js(object, "load", Some(&account_key.into())).await?;
                if row.is_null() || row.is_undefined() {
                    return Ok(None);
                }
                from_row(row).map(Some)
            }
        }
    }

    /// Persists `session` (durably, before it is used).
    pub async fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        match self {
            TokenStore::Memory => {
                memory::save(session);
                Ok(())
            }
            TokenStore::IndexedDb(cell) => {
                Self::idb(cell).await?.put(SESSIONS, &to_row(session)).await
            }
            TokenStore::Js(object) => call_js(object, "save", Some(&to_row(session)))
                .await
                .map(|_| ()),
        }
    }

    /// Removes the session of `account_key`.
    pub async fn clear(&self, account_key: &str) -> Result<(), StoreError> {
        match self {
            TokenStore::Memory => {
                memory::clear(account_key);
                Ok(())
            }
            TokenStore::IndexedDb(cell) => {
                Self::idb(cell).await?.delete(SESSIONS, account_key).await
            }
            TokenStore::Js(object) => call_js(object, "clear", Some(&account_key.into()))
                .await
                .map(|_| ()),
        }
    }
}
