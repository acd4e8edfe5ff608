//! Rust values to and from JS values through JSON text: one `JSON.parse` or
//! `JSON.stringify` across the boundary, and serde_json on this side, the one codec the
//! module carries for every value it exchanges with JS (options, rows, events).

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// A serialisable value as a plain JS object (maps become objects, `None` → `null`).
///
/// Built in one step: serialised to JSON text here, parsed by `JSON.parse` there. Building
/// it property by property across the boundary costs several times more in Chromium.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .unwrap_or(JsValue::NULL)
}

/// A JS value read as `T` from its JSON text: functions and `undefined` properties drop
/// out, and a non-finite number reads as `null`, as in JSON. The error says what did not
/// fit (it may quote the value: redact it before showing it).
pub fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or("not a JSON value")?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
