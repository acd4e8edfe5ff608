//! The only code that touches browser APIs (`web-sys`, `js-sys`): clock, logging,
//! WebSocket, fetch and global events. Works on the main thread and in Workers: it uses
//! the global scope, never `window`.

pub mod fetch;
pub mod log;
pub mod socket;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Epoch milliseconds from the JS clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A listener on the global scope (`window` or a Worker's `self`), removed on drop.
pub struct GlobalListener {
    name: &'static str,
    callback: Closure<dyn FnMut()>,
}

impl GlobalListener {
    /// Calls `handler` whenever the global scope fires `name` (e.g. `online`).
    pub fn new(name: &'static str, handler: impl FnMut() + 'static) -> Option<Self> {
        let callback = Closure::<dyn FnMut()>::new(handler);
        let target = js_sys::global().dyn_into::<web_sys::EventTarget>().ok()?;
        target
            .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
            .ok()?;
        Some(GlobalListener { name, callback })
    }
}

impl Drop for GlobalListener {
    fn drop(&mut self) {
        if let Ok(target) = js_sys::global().dyn_into::<web_sys::EventTarget>() {
            let _ = target.remove_event_listener_with_callback(
                self.name,
                self.callback.as_ref().unchecked_ref(),
            );
        }
    }
}
