//! The JavaScript API (wasm-bindgen exports) with its TypeScript declarations.

mod client;
mod convert;
mod driver;
mod events;
mod fatal;
mod history;
mod jobs;
mod keys;
mod rest;
mod types;

use wasm_bindgen::prelude::*;

use crate::api::{
    activate_body, decode_response, sign_in_body, AccountSession, ApiError, BaseUrl, HttpRequest,
    Method,
};
use crate::platform::fetch::{self, Body};
use crate::platform::json::write_js;
use crate::protocol::ids;

pub use client::ClawChatClient;
use convert::{api_error, error};
pub use convert::{ClawChatError, JsApiError, JsSendError};

/// Mints a fresh `msg-<ULID>` message id from the clock and Web Crypto.
#[wasm_bindgen(js_name = mintMessageId)]
pub fn mint_message_id() -> Result<String, JsValue> {
    let random =
        ids::random_u128().ok_or_else(|| error("invalid", "secure random source unavailable"))?;
    Ok(ids::message_id(js_sys::Date::now() as u64, random))
}

/// True for a media URL that is safe to put in `src` or `href`: relative, `http:`,
/// `https:`, `blob:` or a raster `data:image/…`. Never render other URLs from messages.
#[wasm_bindgen(js_name = isSafeMediaUrl)]
pub fn is_safe_media_url(url: &str) -> bool {
    crate::protocol::is_safe_media_url(url)
}

/// The version of this package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// `wasm_bindgen_futures::future_to_promise` with the future boxed: one copy of its
/// promise plumbing for every exported async call instead of one per future type.
pub(crate) fn future_to_promise(
    future: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
) -> js_sys::Promise {
    let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> =
        Box::pin(future);
    wasm_bindgen_futures::future_to_promise(boxed)
}

/// Posts `body` to `path` without a bearer token and turns the account answer into a
/// `Session`.
async fn account_request(
    base_url: String,
    path: &'static str,
    device_id: Option<String>,
    body: String,
) -> Result<JsValue, JsValue> {
    let base = BaseUrl::parse(&base_url).map_err(|e| api_error(&e))?;
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(device) = device_id.filter(|d| !d.trim().is_empty()) {
        headers.push(("x-device-id", device));
    }
    let request = HttpRequest {
        method: Method::Post,
        path: path.into(),
        url: base.join(path),
        headers,
        json_body: Some(body),
    };
    let (status, text) = fetch::run(&request, Body::Json)
        .await
        .map_err(|m| api_error(&ApiError::transport(m, None, path)))?;
    let data = decode_response(status, &text, path).map_err(|e| api_error(&e))?;
    Ok(write_js(&AccountSession::read(data)))
}

/// Development-only calls, exported as the `dev` namespace (`dev.signIn(...)`): they
/// talk to routes only the local ClawChat emulator has, never to a production service.
pub mod dev {
    use super::*;

    /// Signs in as a named user on a local ClawChat emulator (`POST /v1/dev/sign-in`).
    #[wasm_bindgen(js_namespace = dev, js_name = signIn, unchecked_return_type = "Promise<Session>")]
    pub fn sign_in(
        #[wasm_bindgen(js_name = baseUrl)] base_url: String,
        nickname: String,
        #[wasm_bindgen(js_name = deviceId)] device_id: Option<String>,
        #[wasm_bindgen(js_name = ttlSecs)] ttl_secs: Option<u32>,
    ) -> js_sys::Promise {
        let body = sign_in_body(&nickname, device_id.as_deref(), ttl_secs);
        future_to_promise(account_request(base_url, "/v1/dev/sign-in", None, body))
    }
}

/// Activates an account with a one-time code (`POST /v1/agents/connect`).
#[wasm_bindgen(unchecked_return_type = "Promise<Session>")]
pub fn activate(
    #[wasm_bindgen(js_name = baseUrl)] base_url: String,
    code: String,
    #[wasm_bindgen(js_name = deviceId)] device_id: Option<String>,
) -> js_sys::Promise {
    let body = activate_body(code.trim());
    future_to_promise(account_request(
        base_url,
        "/v1/agents/connect",
        device_id,
        body,
    ))
}
