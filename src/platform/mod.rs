//! The only code that touches browser APIs (`web-sys`, `js-sys`): clock, logging,
//! WebSocket, fetch and global events. Works on the main thread and in Workers: it uses
//! the global scope, never `window`.

pub mod coordination;
pub mod fetch;
pub mod idb;
pub mod log;
pub mod socket;
pub mod token_store;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Epoch milliseconds from the JS clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
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
        handler: impl FnMut() + 'static,
    ) -> Option<Self> {
        let callback = Closure::<dyn FnMut()>::new(handler);
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
        Self::on(js_sys::global().dyn_into().ok()?, name, handler)
    }

    /// Listens to `name` on `document`, where there is one (not in Workers).
    pub fn document(name: &'static str, handler: impl FnMut() + 'static) -> Option<Self> {
        let document = js_sys::Reflect::get(&js_sys::global(), &"document".into()).ok()?;
        Self::on(document.dyn_into().ok()?, name, handler)
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
