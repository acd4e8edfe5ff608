//! The last line of defence. Bad input is refused without panicking, but if anything
//! still panics, the module is about to trap (`panic = "abort"`) and every later call into
//! it may fail. The panic hook tells the app in a `fatal` event, so it can rebuild the
//! client (or reload), instead of a client that silently stops.

use std::cell::{Cell, RefCell};
use std::panic::PanicHookInfo;
use std::sync::Once;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::protocol::redact_quoted;

use super::convert::error;

/// Longest panic message passed on (**ours**).
const MESSAGE_CHARS: usize = 200;

thread_local! {
    static HANDLERS: RefCell<Vec<(u32, Function)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
}

static INSTALL: Once = Once::new();

/// Installs the panic hook (once per module instance).
pub fn install() {
    INSTALL.call_once(|| std::panic::set_hook(Box::new(on_panic)));
}

fn summary(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic");
    let message: String = redact_quoted(message).chars().take(MESSAGE_CHARS).collect();
    match info.location() {
        Some(at) => format!("internal error: {message} ({}:{})", at.file(), at.line()),
        None => format!("internal error: {message}"),
    }
}

fn on_panic(info: &PanicHookInfo<'_>) {
    let summary = summary(info);
    web_sys::console::error_1(&format!("[clawchat] fatal {summary}").into());
    let event = error("panic", &summary);
    let global = js_sys::global();
    let Some(set_timeout) = Reflect::get(&global, &"setTimeout".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
    else {
        return;
    };
    HANDLERS.with(|handlers| {
        let Ok(handlers) = handlers.try_borrow() else {
            return;
        };
        // Each handler runs on its own task, after the trap has unwound the stack.
        for (_, handler) in handlers.iter() {
            let _ = set_timeout.call3(&global, handler, &0.into(), &event);
        }
    });
}

/// Calls `handler` with an `Error` (`kind: "panic"`, a message without secrets) if the
/// module ever panics; after that, build a new client or reload. Returns a function that
/// unregisters the handler (calling it again does nothing).
#[wasm_bindgen(js_name = onFatal)]
pub fn on_fatal(handler: Function) -> JsValue {
    install();
    let id = NEXT_ID.with(|next| {
        next.set(next.get().wrapping_add(1));
        next.get()
    });
    HANDLERS.with(|handlers| handlers.borrow_mut().push((id, handler)));
    Closure::<dyn Fn()>::new(move || {
        HANDLERS.with(|handlers| handlers.borrow_mut().retain(|(i, _)| *i != id));
    })
    .into_js_value()
}

/// Installs the hook when the module starts.
#[wasm_bindgen(start)]
fn start() {
    install();
}
