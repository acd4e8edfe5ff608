//! Cross-tab coordination: the Web Locks API for one refresh at a time across the
//! origin, and a BroadcastChannel to tell other tabs of a rotation or a logout.

use std::future::Future;

use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{BroadcastChannel, MessageEvent};

/// True when BroadcastChannel is available.
pub fn has_broadcast_channel() -> bool {
    Reflect::get(&js_sys::global(), &"BroadcastChannel".into()).is_ok_and(|c| c.is_function())
}

/// What tabs tell each other. Never carries a token: tabs re-read the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TabMessage {
    /// The pair was rotated and persisted: load it and reconnect.
    Rotated,
    /// The account was logged out.
    LoggedOut {
        /// Why (the refresh code, or 0 for an explicit logout).
        code: i64,
        /// Why, in words.
        reason: String,
    },
}

fn locks() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then_some(locks)
}

/// True when the Web Locks API is available.
pub fn has_web_locks() -> bool {
    locks().is_some()
}

/// How long a fallback lease lasts: a tab that dies holding it blocks others no longer.
const LEASE_TTL_MS: f64 = 30_000.0;
/// How often a tab waiting for a fallback lease tries again.
const LEASE_RETRY_MS: u32 = 100;

/// Runs `work` while holding the exclusive Web Lock `name` (other tabs wait). Without
/// Web Locks, a lease row in IndexedDB with an expiry stands in for the lock.
pub async fn with_lock<F>(name: &str, work: F) -> Result<JsValue, JsValue>
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let Some(locks) = locks() else {
        return with_lease(name, work).await;
    };
    let request = Reflect::get(&locks, &"request".into())?.dyn_into::<Function>()?;
    let mut work = Some(work);
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        match work.take() {
            Some(work) => future_to_promise(work),
            None => Promise::resolve(&JsValue::UNDEFINED),
        }
    });
    let promise = request
        .call2(&locks, &name.into(), &callback)?
        .dyn_into::<Promise>()?;
    JsFuture::from(promise).await
}

/// A BroadcastChannel carrying messages of type `M`, with its listener.
pub struct TabChannel<M> {
    channel: BroadcastChannel,
    _listener: Closure<dyn FnMut(MessageEvent)>,
    _message: std::marker::PhantomData<M>,
}

impl<M: Serialize + for<'de> Deserialize<'de> + 'static> TabChannel<M> {
    /// Joins the channel `name`; `on_message` receives what other tabs post (messages
    /// that do not parse are ignored).
    pub fn join(name: &str, mut on_message: impl FnMut(M) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(name).ok()?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Ok(message) = serde_wasm_bindgen::from_value::<M>(event.data()) {
                on_message(message);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Some(TabChannel {
            channel,
            _listener: listener,
            _message: std::marker::PhantomData,
        })
    }

    /// Tells every other tab.
    pub fn post(&self, message: &M) {
        let value = message
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .unwrap_or(JsValue::NULL);
        let _ = self.channel.post_message(&value);
    }
}

impl<M> Drop for TabChannel<M> {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// A Web Lock held for as long as this value lives (or a queued request for it).
pub struct LockHold {
    release: js_sys::Function,
    abort: web_sys::AbortController,
}

impl LockHold {
    /// Requests the exclusive lock `name` and keeps it once granted, calling `on_granted`
    /// then. `None` without Web Locks.
    pub fn request(name: &str, on_granted: impl FnOnce() + 'static) -> Option<LockHold> {
        let locks = locks()?;
        let request = Reflect::get(&locks, &"request".into())
            .ok()?
            .dyn_into::<Function>()
            .ok()?;
        let mut release = None;
        let held = Promise::new(&mut |resolve, _| release = Some(resolve));
        let release = release?;
        let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
            on_granted();
            held
        });
        let abort = web_sys::AbortController::new().ok()?;
        let options = js_sys::Object::new();
        Reflect::set(&options, &"signal".into(), &abort.signal()).ok()?;
        let pending = request
            .call3(&locks, &name.into(), &options, &callback)
            .ok()?;
        // A queued request aborted on drop rejects; that is expected, not an error.
        if let Ok(pending) = pending.dyn_into::<Promise>() {
            let ignore = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
            let _ = pending.catch(&ignore);
            ignore.forget(); // one tiny handler per lock request, for the tab's life
        }
        Some(LockHold { release, abort })
    }
}

impl Drop for LockHold {
    fn drop(&mut self) {
        self.abort.abort();
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// The fallback: take the lease (waiting while another tab holds an unexpired one), run
/// `work`, give the lease back. If IndexedDB is unavailable too, `work` runs unguarded.
async fn with_lease<F>(name: &str, work: F) -> Result<JsValue, JsValue>
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let Ok(idb) = super::idb::Idb::open().await else {
        return work.await;
    };
    let owner = format!(
        "{:032x}",
        crate::protocol::ids::random_u128().unwrap_or_default()
    );
    let deadline = js_sys::Date::now() + LEASE_TTL_MS;
    loop {
        match idb
            .try_lease(name, &owner, LEASE_TTL_MS, js_sys::Date::now())
            .await
        {
            Ok(true) => break,
            Ok(false) => {}
            Err(err) => {
                web_sys::console::warn_1(&format!("[clawchat] lease attempt failed: {err}").into())
            }
        }
        if js_sys::Date::now() > deadline {
            return Err(JsValue::from_str("lease not obtained"));
        }
        gloo_timers::future::TimeoutFuture::new(LEASE_RETRY_MS).await;
    }
    let result = work.await;
    let _ = idb.release_lease(name, &owner).await;
    result
}
