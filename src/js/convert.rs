//! Conversions between Rust values and JS values at the boundary.

use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::api::ApiError;
use crate::session::SendError;

/// A serialisable value as a plain JS object (maps become objects, `None` → `null`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

fn set(target: &JsValue, key: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), &value);
}

fn opt_str(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// A JS `Error` with a stable `kind` and a `message`.
pub fn error(kind: &str, message: &str) -> JsValue {
    let err: JsValue = js_sys::Error::new(message).into();
    set(&err, "kind", JsValue::from_str(kind));
    err
}

/// A REST failure as a JS `Error` with `kind`, `code`, `status` and `path`.
pub fn api_error(failure: &ApiError) -> JsValue {
    let err = error(failure.kind.as_str(), &failure.to_string());
    set(
        &err,
        "code",
        failure
            .code
            .map_or(JsValue::NULL, |c| JsValue::from_f64(c as f64)),
    );
    set(
        &err,
        "status",
        failure
            .status
            .map_or(JsValue::NULL, |s| JsValue::from_f64(f64::from(s))),
    );
    set(&err, "path", JsValue::from_str(&failure.path));
    err
}

/// A failed send as a JS `Error` with `kind`, `code`, `reason`, `messageId`, `chatId`,
/// `traceId`.
pub fn send_error(failure: &SendError) -> JsValue {
    let kind = to_js(&failure.kind).as_string().unwrap_or_default();
    let err = error(&kind, &format!("send failed: {}", failure.reason));
    set(&err, "code", opt_str(failure.code.as_deref()));
    set(&err, "reason", JsValue::from_str(&failure.reason));
    set(&err, "messageId", JsValue::from_str(&failure.message_id));
    set(&err, "chatId", JsValue::from_str(&failure.chat_id));
    set(&err, "traceId", JsValue::from_str(&failure.trace_id));
    err
}
