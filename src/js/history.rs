//! `history(chatId, {before, limit})`: pages through the local message cache and, when
//! the cache has nothing older, fills from the server's history route and stores what
//! came back.

use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::api::{history_path, Method};
use crate::platform::log::{log, Level};
use crate::protocol::redact_quoted;
use crate::store::message_cache::{self, Entry, DEFAULT_PAGE, MAX_PAGE};

use super::convert::{api_error, error, from_js};
use super::driver::{self, Shared};
use super::keys::check_keys;
use super::rest;

/// The options of `history()`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct HistoryOptions {
    /// Messages older than this one (the newest without it).
    #[serde(default)]
    before: Option<String>,
    /// Messages per page (1..=100, default 50).
    #[serde(default)]
    limit: Option<f64>,
}

/// The options, checked: unknown keys, types and the `limit` range.
pub(super) fn options(value: JsValue) -> Result<(Option<String>, usize), JsValue> {
    check_keys::<HistoryOptions>(&value, "")?;
    let options: HistoryOptions = if value.is_undefined() || value.is_null() {
        HistoryOptions::default()
    } else {
        from_js(&value).map_err(|e| {
            error(
                "validation",
                &format!("invalid history options: {}", redact_quoted(&e)),
            )
        })?
    };
    let limit = match options.limit {
        None => DEFAULT_PAGE,
        Some(n) if n.fract() == 0.0 && (1.0..=MAX_PAGE as f64).contains(&n) => n as usize,
        Some(_) => {
            return Err(error(
                "validation",
                &format!("limit must be an integer from 1 to {MAX_PAGE}"),
            ))
        }
    };
    Ok((options.before.filter(|b| !b.trim().is_empty()), limit))
}

/// One page, oldest first: from the cache, else from the server (then cached).
pub(super) async fn page(
    shared: &Shared,
    chat_id: String,
    before: Option<String>,
    limit: usize,
) -> Result<JsValue, JsValue> {
    let cached = JsFuture::from(driver::cached_page(
        shared,
        chat_id.clone(),
        before.clone(),
        limit,
    ))
    .await?;
    if js_sys::Array::from(&cached).length() > 0 {
        return Ok(cached);
    }
    // Only a loaded session has a token for the server (`connect()` loads it).
    let loaded = shared
        .borrow()
        .rotation
        .session()
        .map(|s| s.user_id.clone());
    let Some(own_user_id) = loaded else {
        return Err(error(
            "auth",
            "no session yet: call connect() before filling history from the server",
        ));
    };
    let path = history_path(&chat_id, before.as_deref(), limit).map_err(|e| api_error(&e))?;
    let data = rest::call(shared, Method::Get, &path, None)
        .await
        .map_err(|e| api_error(&e))?;
    let items = data.get("items").and_then(Value::as_array);
    let mut entries = Vec::new();
    let mut refused = 0;
    for item in items.into_iter().flatten().take(limit) {
        match Entry::from_history(item, &chat_id, &own_user_id) {
            Ok(entry) => entries.push(entry),
            Err(err) => {
                refused += 1;
                log(
                    shared.borrow().level,
                    Level::Debug,
                    &format!("history item skipped: {err}"),
                );
            }
        }
    }
    if refused > 0 {
        driver::warn_app(shared, format!("{refused} malformed history items skipped"));
    }
    let entries = message_cache::chronological(entries);
    let messages: Vec<_> = entries.iter().map(|entry| &entry.0).collect();
    let page = crate::platform::json::write_js_camel(&messages);
    driver::cache_fetched(shared, entries);
    Ok(page)
}
