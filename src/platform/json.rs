//! Rust values to and from JS values through JSON text: one `JSON.parse` or
//! `JSON.stringify` across the boundary, and the module's own codec ([`crate::json`]) on
//! this side, for the values it exchanges with JS (options, rows, events; the `message`
//! event has a faster builder of its own, [`super::message_event`]).

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;

use crate::json::{self, FromJson, ToJson};

/// A [`ToJson`] value as a plain JS object, built in one `JSON.parse` of its text
/// (property by property across the boundary costs several times more in Chromium).
pub fn write_js<T: ToJson + ?Sized>(value: &T) -> JsValue {
    parse(&json::to_string(value))
}

/// Like [`write_js`], with every key in camelCase: a value holding wire objects
/// (fragments, mentions, reply previews) as JS sees it.
pub fn write_js_camel<T: ToJson + ?Sized>(value: &T) -> JsValue {
    parse(&json::to_string_camel(value))
}

/// A JS value read as a [`FromJson`] `T` from its JSON text: functions and `undefined`
/// properties drop out, as in JSON. NaN and the infinities, which JSON would turn into
/// `null` (a silent default), are refused, like cycles and BigInts. Own enumerable
/// properties only: a value is read as the plain object it is meant to be. The error says
/// where the value did not fit, never what it held.
pub fn read_js<T: for<'a> FromJson<'a>>(value: &JsValue) -> Result<T, String> {
    let text = json_text(value)?;
    json::from_str(&text).map_err(|e| e.to_string())
}

fn parse(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
}

/// A JS value's JSON text: own enumerable properties, no NaN or infinities.
pub(crate) fn json_text(value: &JsValue) -> Result<String, &'static str> {
    let finite_only = Closure::<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
        |_key: JsValue, value: JsValue| match value.as_f64() {
            Some(number) if !number.is_finite() => Err(JsValue::NULL),
            _ => Ok(value),
        },
    );
    js_sys::JSON::stringify_with_replacer(value, finite_only.as_ref())
        .ok()
        .and_then(|text| text.as_string())
        .ok_or("not a JSON value (a cycle, a BigInt, NaN or an infinity)")
}
