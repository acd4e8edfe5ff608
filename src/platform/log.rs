//! Console logging with a level. Callers never pass tokens.

use crate::json::{FromJson, JsonError, Reader};

/// How much the client logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
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

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 5] = [
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Silent,
    ];

    /// Its name, as the `logLevel` option spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Silent => "silent",
        }
    }
}

/// The `logLevel` option's value: one of the names, else an error that lists them.
impl FromJson<'_> for Level {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let at = r.offset();
        let name = r.string()?;
        Level::ALL
            .into_iter()
            .find(|level| level.as_str() == name)
            .ok_or(JsonError::Type {
                expected: "one of `debug`, `info`, `warn`, `error`, `silent`",
                at,
            })
    }
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
