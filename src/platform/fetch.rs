//! `fetch` with a timeout (AbortController), returning status and body text.

use gloo_timers::callback::Timeout;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, FormData, Headers, Request, RequestInit, Response};

use crate::api::{HttpRequest, REQUEST_TIMEOUT_MS};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (window or worker).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
}

/// The body to send.
pub enum Body<'a> {
    /// The request's JSON body, if any.
    Json,
    /// A multipart form.
    Form(&'a FormData),
}

fn error_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "fetch failed".to_owned())
}

/// Runs `request`; `Ok((status, body))` for any HTTP answer, `Err(message)` when fetch
/// threw (network, DNS, timeout after 30 s). Header values never appear in errors.
pub async fn run(request: &HttpRequest, body: Body<'_>) -> Result<(u16, String), String> {
    let controller = AbortController::new().map_err(|e| error_text(&e))?;
    run_with(request, body, controller)
        .await
        .map(|answer| (answer.status, answer.body))
}

/// An HTTP answer.
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The body text ("" if unreadable).
    pub body: String,
    /// The `Date` header (epoch ms), when the response exposes it: a server clock sample.
    pub date_ms: Option<i64>,
}

/// [`run`] under the caller's `controller` (so the caller can abort it), with the
/// answer's `Date`.
pub async fn run_with(
    request: &HttpRequest,
    body: Body<'_>,
    controller: AbortController,
) -> Result<Answer, String> {
    let init = RequestInit::new();
    init.set_method(request.method.as_str());
    init.set_signal(Some(&controller.signal()));
    let headers = Headers::new().map_err(|e| error_text(&e))?;
    for (name, value) in &request.headers {
        if matches!(body, Body::Form(_)) && *name == "content-type" {
            continue; // the browser sets the multipart boundary
        }
        headers
            .set(name, value)
            .map_err(|_| format!("invalid header {name}"))?;
    }
    init.set_headers(&headers);
    match body {
        Body::Json => {
            if let Some(json) = &request.json_body {
                init.set_body(&JsValue::from_str(json));
            }
        }
        Body::Form(form) => init.set_body(form),
    }
    let fetch_request =
        Request::new_with_str_and_init(&request.url, &init).map_err(|e| error_text(&e))?;
    let abort = controller.clone();
    let _timeout = Timeout::new(REQUEST_TIMEOUT_MS, move || abort.abort());
    let response: Response = JsFuture::from(global_fetch(&fetch_request))
        .await
        .map_err(|e| {
            if controller.signal().aborted() {
                format!("timed out after {} s", REQUEST_TIMEOUT_MS / 1000)
            } else {
                error_text(&e)
            }
        })?
        .unchecked_into();
    let status = response.status();
    let date_ms = response
        .headers()
        .get("date")
        .ok()
        .flatten()
        .map(|date| js_sys::Date::parse(&date))
        .filter(|ms| ms.is_finite())
        .map(|ms| ms as i64);
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok(Answer {
        status,
        body: text,
        date_ms,
    })
}
