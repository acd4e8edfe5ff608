//! The only code that touches browser APIs (`web-sys`, `js-sys`): clock, logging,
//! WebSocket, fetch and global events. Works on the main thread and in Workers: it uses
//! the global scope, never `window`.

pub mod coordination;
pub mod fetch;
pub mod idb;
pub mod json;
pub mod log;
pub mod message_event;
pub mod message_rows;
pub mod message_store;
pub mod outbox_store;
pub mod socket;
pub mod token_store;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Epoch milliseconds from the JS clock (the wall clock: it may step either way).
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Monotonic milliseconds: `performance.now()` of the global scope (Window or Worker).
/// Where there is no `performance`, the wall clock with its backward steps absorbed
/// (a step back counts as no time passing). Never decreases, also if the source changes.
pub fn monotonic_ms() -> i64 {
    use std::cell::Cell;
    /// The last raw reading, the last value returned, and whether it came from
    /// `performance`.
    type Reading = (f64, f64, bool);
    thread_local! {
        static LAST: Cell<Option<Reading>> = const { Cell::new(None) };
    }
    let (raw, from_performance) = match performance_now() {
        Some(ms) => (ms, true),
        None => (js_sys::Date::now(), false),
    };
    LAST.with(|last| {
        let value = match last.get() {
            None => raw,
            Some((prev_raw, prev, prev_source)) if prev_source == from_performance => {
                prev + (raw - prev_raw).max(0.0)
            }
            // The source changed: no time is counted for this reading.
            Some((_, prev, _)) => prev,
        };
        last.set(Some((raw, value, from_performance)));
        value as i64
    })
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global scope, or whatever stands in for `performance` on it.
    type Scope;
    #[wasm_bindgen(method, getter, catch, structural)]
    fn performance(this: &Scope) -> Result<Scope, wasm_bindgen::JsValue>;
    #[wasm_bindgen(method, catch, structural)]
    fn now(this: &Scope) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
}

/// `globalThis.performance.now()`, read on every call (it may be replaced or removed);
/// two calls across the boundary and no property-name strings (this runs per frame).
fn performance_now() -> Option<f64> {
    js_sys::global()
        .unchecked_into::<Scope>()
        .performance()
        .ok()?
        .now()
        .ok()?
        .as_f64()
        .filter(|ms| ms.is_finite())
}

/// Both clocks, read now: what every input of the session machines carries.
pub fn now() -> crate::session::Now {
    crate::session::Now::new(monotonic_ms(), now_ms())
}

/// An event listener, removed on drop.
pub struct Listener {
    target: web_sys::EventTarget,
    name: &'static str,
    callback: Closure<dyn FnMut()>,
}

impl Listener {
    fn on(
        target: web_sys::EventTarget,
        name: &'static str,
        callback: Closure<dyn FnMut()>,
    ) -> Option<Self> {
        target
            .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
            .ok()?;
        Some(Listener {
            target,
            name,
            callback,
        })
    }

    /// Listens to `name` on the global scope (`window` or a Worker's `self`).
    pub fn global(name: &'static str, handler: impl FnMut() + 'static) -> Option<Self> {
        Self::on(
            js_sys::global().dyn_into().ok()?,
            name,
            Closure::new(handler),
        )
    }

    /// Listens to `name` on `document`, where there is one (not in Workers).
    pub fn document(name: &'static str, handler: impl FnMut() + 'static) -> Option<Self> {
        let document = js_sys::Reflect::get(&js_sys::global(), &"document".into()).ok()?;
        Self::on(document.dyn_into().ok()?, name, Closure::new(handler))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.name, self.callback.as_ref().unchecked_ref());
    }
}

/// True unless `document.visibilityState` says the page is hidden.
pub fn page_visible() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"document".into())
        .and_then(|d| js_sys::Reflect::get(&d, &"visibilityState".into()))
        .ok()
        .and_then(|v| v.as_string())
        .is_none_or(|state| state != "hidden")
}
