//! Cross-tab coordination: Web Locks (the leader lock, the refresh lock), the IndexedDB
//! lease that stands in for them where Web Locks are missing, and BroadcastChannel.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageChannel, MessageEvent};

use crate::platform::Listener;
use crate::tabs::TabWire;

/// True when BroadcastChannel is available.
pub fn has_broadcast_channel() -> bool {
    Reflect::get(&js_sys::global(), &"BroadcastChannel".into()).is_ok_and(|c| c.is_function())
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

/// The account's BroadcastChannel, with its listener. Tab messages travel as JSON text
/// (one codec, [`TabWire::encode`] / [`TabWire::decode`], shared with the socket's).
///
/// The events a leader relays during one task go out together at the start of the next
/// (through a `MessageChannel`, which background tabs do not throttle like timers):
/// Chromium charges each `postMessage` about 0.1 ms whatever its size, more than the
/// whole decode of a message, and a leader relays every event to its followers.
pub struct TabChannel {
    outgoing: Rc<Outgoing>,
    _listener: Closure<dyn FnMut(MessageEvent)>,
    /// A closing page posts what it queued in its last task.
    _on_hide: Option<Listener>,
}

/// The most messages a tab queues before it posts them.
const MAX_BATCH: usize = 256;

/// The posts waiting for the next task, and the port that wakes this tab then.
struct Outgoing {
    channel: BroadcastChannel,
    queued: RefCell<Vec<String>>,
    wake: MessageChannel,
    _on_wake: Closure<dyn FnMut()>,
}

impl Outgoing {
    /// Posts everything queued, as one message.
    fn flush(&self) {
        let queued = std::mem::take(&mut *self.queued.borrow_mut());
        if !queued.is_empty() {
            let _ = self.channel.post_message(&TabWire::batch(queued).into());
        }
    }
}

/// A callback that posts what `outgoing` has queued, while it lives.
fn flusher(outgoing: Weak<Outgoing>) -> impl FnMut() {
    move || {
        if let Some(outgoing) = outgoing.upgrade() {
            outgoing.flush();
        }
    }
}

impl TabChannel {
    /// Joins the channel `name`; `on_message` receives what other tabs post (messages
    /// that do not parse are ignored).
    pub fn join(name: &str, mut on_message: impl FnMut(TabWire) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(name).ok()?;
        let wake = MessageChannel::new().ok()?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                TabWire::unbatch(&text)
                    .into_iter()
                    .for_each(&mut on_message);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        let outgoing = Rc::new_cyclic(|weak: &Weak<Outgoing>| {
            let on_wake = Closure::<dyn FnMut()>::new(flusher(weak.clone()));
            wake.port1()
                .set_onmessage(Some(on_wake.as_ref().unchecked_ref()));
            Outgoing {
                channel,
                queued: RefCell::new(Vec::new()),
                wake,
                _on_wake: on_wake,
            }
        });
        let on_hide = Listener::global("pagehide", flusher(Rc::downgrade(&outgoing)));
        Some(TabChannel {
            outgoing,
            _listener: listener,
            _on_hide: on_hide,
        })
    }

    /// Posts what is queued now (before handing the lock to another tab).
    pub fn flush(&self) {
        self.outgoing.flush();
    }

    /// Tells every other tab. Relayed events go out at the start of the next task, with
    /// whatever else this task relays; anything else (hello, sends, settles, …) goes out
    /// at once and alone, after the events queued before it, in the format every version
    /// of the SDK reads (a tab of an older build ignores batches).
    pub fn post(&self, message: &TabWire) {
        if !matches!(message, TabWire::Event { .. }) {
            self.flush();
            let _ = self.outgoing.channel.post_message(&message.encode().into());
            return;
        }
        let mut queued = self.outgoing.queued.borrow_mut();
        queued.push(message.encode());
        match queued.len() {
            1 => {
                let _ = self.outgoing.wake.port2().post_message(&JsValue::UNDEFINED);
            }
            // A busy page may run many socket tasks before the wake-up: bound the wait.
            MAX_BATCH.. => {
                drop(queued);
                self.flush();
            }
            _ => {}
        }
    }
}

impl Drop for TabChannel {
    fn drop(&mut self) {
        self.flush();
        self.outgoing.wake.port1().set_onmessage(None);
        self.outgoing.wake.port1().close();
        self.outgoing.channel.set_onmessage(None);
        self.outgoing.channel.close();
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
        Self::request_boxed(name, Box::new(on_granted))
    }

    /// [`LockHold::request`] once for every caller.
    fn request_boxed(name: &str, on_granted: Box<dyn FnOnce()>) -> Option<LockHold> {
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

/// How often a tab waiting for a fallback lease tries again.
const LEASE_RETRY_MS: u32 = 100;

/// How taking a lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Held for the lease's life unless renewed.
    Taken,
    /// No IndexedDB either: nothing can guard the refresh across tabs.
    Unguarded,
    /// Given up (cancelled by the caller).
    Cancelled,
}

/// The lock fallback without Web Locks: takes the lease row `name` for `owner` (waiting
/// while another owner holds an unexpired one) for `ttl_ms`. `cancelled` stops waiting.
pub async fn take_lease(name: &str, owner: &str, ttl_ms: f64, cancelled: Rc<Cell<bool>>) -> Lease {
    let Ok(idb) = super::idb::Idb::open().await else {
        return Lease::Unguarded;
    };
    loop {
        if cancelled.get() {
            return Lease::Cancelled;
        }
        match idb
            .try_lease(name, owner, ttl_ms, js_sys::Date::now())
            .await
        {
            Ok(true) => return Lease::Taken,
            Ok(false) => {}
            Err(err) => {
                web_sys::console::warn_1(&format!("[clawchat] lease attempt failed: {err}").into())
            }
        }
        gloo_timers::future::TimeoutFuture::new(LEASE_RETRY_MS).await;
    }
}

/// Extends a held lease by `ttl_ms` from now.
pub async fn renew_lease(name: &str, owner: &str, ttl_ms: f64) {
    if let Ok(idb) = super::idb::Idb::open().await {
        let _ = idb
            .try_lease(name, owner, ttl_ms, js_sys::Date::now())
            .await;
    }
}

/// Gives the lease back if `owner` still holds it.
pub async fn release_lease(name: &str, owner: &str) {
    if let Ok(idb) = super::idb::Idb::open().await {
        let _ = idb.release_lease(name, owner).await;
    }
}
