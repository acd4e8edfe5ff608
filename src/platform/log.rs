//! Console logging with a level. Callers never pass tokens.

use serde::Deserialize;

/// How much the client logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Everything.
    Debug,
    /// State changes and notable events.
    Info,
    /// Problems the client recovers from.
    #[default]
    Warn,
    /// Failures.
    Error,
    /// Nothing.
    Silent,
}

/// Writes `message` to the console if `level` is at least `threshold`.
pub fn log(threshold: Level, level: Level, message: &str) {
    if level < threshold || level == Level::Silent {
        return;
    }
    let text = wasm_bindgen::JsValue::from_str(&format!("[clawchat] {message}"));
    match level {
        Level::Debug => web_sys::console::debug_1(&text),
        Level::Info => web_sys::console::info_1(&text),
        Level::Warn => web_sys::console::warn_1(&text),
        Level::Error | Level::Silent => web_sys::console::error_1(&text),
    }
}
