//! Conversions between Rust values and JS values at the boundary, and the error classes
//! the API throws and rejects with (exported, so `err instanceof SendError` works).

use wasm_bindgen::prelude::*;

use crate::api::ApiError;
use crate::json::{self, Reparsed, ToJson, Writer};
use crate::protocol::Fragment;
use crate::session::SendError;
use crate::tabs::EventJson;

#[wasm_bindgen(inline_js = r#"
export class ClawChatError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "ClawChatError";
    this.kind = kind;
  }
}
export class ApiError extends ClawChatError {
  constructor(kind, message, code, status, path) {
    super(kind, message);
    this.name = "ApiError";
    this.code = code ?? null;
    this.status = status ?? null;
    this.path = path;
  }
}
export class SendError extends ClawChatError {
  constructor(kind, message, code, reason, messageId, chatId, traceId) {
    super(kind, message);
    this.name = "SendError";
    this.code = code ?? null;
    this.reason = reason;
    this.messageId = messageId;
    this.chatId = chatId;
    this.traceId = traceId;
  }
}
"#)]
extern "C" {
    // The classes, exported from the package as they are (their declarations are in
    // `types.rs`; a re-exported type would be declared `unknown`).
    #[wasm_bindgen(js_name = ClawChatError, reexport, skip_typescript)]
    fn export_clawchat_error();
    #[wasm_bindgen(js_name = ApiError, reexport, skip_typescript)]
    fn export_api_error();
    #[wasm_bindgen(js_name = SendError, reexport, skip_typescript)]
    fn export_send_error();

    /// Every error the API throws or rejects with: an `Error` with a stable `kind`.
    #[wasm_bindgen(extends = js_sys::Error)]
    pub type ClawChatError;
    #[wasm_bindgen(constructor)]
    fn new(kind: &str, message: &str) -> ClawChatError;

    /// A failed REST call: `kind`, `code` (the API's), `status` (HTTP) and `path`.
    #[wasm_bindgen(js_name = ApiError, extends = ClawChatError, extends = js_sys::Error)]
    pub type JsApiError;
    #[wasm_bindgen(constructor, js_class = ApiError)]
    fn new(
        kind: &str,
        message: &str,
        code: Option<f64>,
        status: Option<u16>,
        path: &str,
    ) -> JsApiError;

    /// A failed send: `kind`, `code`, `reason`, `messageId`, `chatId`, `traceId`.
    #[wasm_bindgen(js_name = SendError, extends = ClawChatError, extends = js_sys::Error)]
    pub type JsSendError;
    #[wasm_bindgen(constructor, js_class = SendError)]
    fn new(
        kind: &str,
        message: &str,
        code: Option<&str>,
        reason: &str,
        message_id: &str,
        chat_id: &str,
        trace_id: &str,
    ) -> JsSendError;
}

/// An event payload relayed by the leader tab, as the JS value its own handlers got.
pub fn parse_json(payload: &EventJson) -> JsValue {
    js_sys::JSON::parse(payload.text()).unwrap_or(JsValue::NULL)
}

/// Fragments written by JS in camelCase (`{kind: "mention", userId}`), read with the
/// wire's names (every key renamed at any depth); snake_case keys are accepted as they
/// are. A fragment that is not of a kind this client knows is kept as written.
pub fn fragments_from_js(value: &JsValue) -> Result<Vec<Fragment>, String> {
    let text = crate::platform::json::json_text(value)?;
    let mut snake = Writer::snake_case();
    Reparsed(&text).write(&mut snake);
    json::from_str(&snake.finish()).map_err(|e| e.to_string())
}

/// A `ClawChatError` with a stable `kind` and a `message`.
pub fn error(kind: &str, message: &str) -> JsValue {
    ClawChatError::new(kind, message).into()
}

/// A REST failure as an `ApiError` with `kind`, `code`, `status` and `path`.
pub fn api_error(failure: &ApiError) -> JsValue {
    JsApiError::new(
        failure.kind.as_str(),
        &failure.to_string(),
        failure.code.map(|c| c as f64),
        failure.status,
        &failure.path,
    )
    .into()
}

/// A failed send as a `SendError` with `kind`, `code`, `reason`, `messageId`, `chatId`,
/// `traceId`.
pub fn send_error(failure: &SendError) -> JsValue {
    JsSendError::new(
        failure.kind.as_str(),
        &format!("send failed: {}", failure.reason),
        failure.code.as_deref(),
        &failure.reason,
        &failure.message_id,
        &failure.chat_id,
        &failure.trace_id,
    )
    .into()
}
