//! Authenticated REST calls: a 401/403 refreshes the tokens (through the driver) and the
//! call is retried once; uploads turn into media fragments.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{decode_response, ApiError, Credentials, HttpRequest, Method, UploadAnswer};
use crate::auth::Trigger;
use crate::platform::fetch::{self, Body};
use crate::protocol::{Fragment, Media, MediaKind};

use super::convert::{api_error, error};
use super::driver::{self, Shared};
use crate::platform::json::write_js;

/// The request as the current credentials make it.
fn authenticated(shared: &Shared, method: Method, path: &str, body: Option<String>) -> HttpRequest {
    let d = shared.borrow();
    let (token, device) = (d.access_token(), d.device_id());
    let creds = Credentials {
        access_token: &token,
        device_id: &device,
    };
    HttpRequest::authenticated(&d.base, method, path, &creds, body)
}

/// An authenticated REST call, resolved with its `data` as JSON text; on a 401/403 the
/// token is refreshed and the call retried once with the new one.
pub(super) async fn call(
    shared: &Shared,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<String, ApiError> {
    let mut retried = false;
    loop {
        let request = authenticated(shared, method, path, body.clone());
        let controller = web_sys::AbortController::new()
            .map_err(|_| ApiError::transport("no AbortController", None, path))?;
        let answer = fetch::run_with(&request, Body::Json, controller)
            .await
            .map_err(|message| ApiError::transport(message, None, path))?;
        driver::server_date(shared, answer.date_ms);
        match decode_response(answer.status, &answer.body, path) {
            Err(err) if err.is_auth() && !retried => {
                retried = true;
                if !driver::refresh(shared, Trigger::RestUnauthorized).await {
                    return Err(err);
                }
            }
            result => return result.map(str::to_owned),
        }
    }
}

fn media_kind(mime: &str) -> MediaKind {
    match mime.split('/').next().unwrap_or_default() {
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "video" => MediaKind::Video,
        _ => MediaKind::File,
    }
}

/// `POST /media/upload`, resolved as a media fragment.
pub(super) async fn upload(
    shared: &Shared,
    file: web_sys::Blob,
    name: Option<String>,
) -> Result<JsValue, JsValue> {
    let path = "/media/upload";
    let name = name
        .or_else(|| file.dyn_ref::<web_sys::File>().map(|f| f.name()))
        .unwrap_or_else(|| "upload".into());
    let form = web_sys::FormData::new().map_err(|_| error("validation", "FormData unavailable"))?;
    form.append_with_blob_and_filename("file", &file, &name)
        .map_err(|_| error("validation", "cannot attach the file"))?;
    let request = authenticated(shared, Method::Post, path, None);
    let (status, text) = fetch::run(&request, Body::Form(&form))
        .await
        .map_err(|m| api_error(&ApiError::transport(m, None, path)))?;
    let data = decode_response(status, &text, path).map_err(|e| api_error(&e))?;
    let answer = UploadAnswer::read(data);
    let url = answer.url.unwrap_or_default();
    if url.is_empty() {
        return Err(api_error(&ApiError::transport(
            "upload answer has no url",
            Some(status),
            path,
        )));
    }
    let base = shared.borrow().base.clone();
    let mime = answer
        .mime
        .or_else(|| Some(file.type_()).filter(|t| !t.is_empty()));
    let media = Media {
        kind: media_kind(mime.as_deref().unwrap_or_default()),
        url: if url.starts_with('/') {
            base.join(&url)
        } else {
            url
        },
        name: Some(name),
        size: answer.size.or(Some(file.size() as u64)),
        mime,
        width: None,
        height: None,
        duration: None,
    };
    Ok(write_js(&Fragment::Media(media)))
}
