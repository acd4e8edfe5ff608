//! `history(chatId, {before, limit})`: pages through the local message cache and, when
//! the cache has nothing older, fills from the server's history route and stores what
//! came back.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::api::{history_items, history_path, Method};
use crate::json::{FromJson, JsonError, Reader};
use crate::platform::log::{log, Level};
use crate::store::message_cache::{self, Entry, DEFAULT_PAGE, MAX_PAGE};

use super::convert::{api_error, error};
use super::driver::{self, Shared};
use super::keys::{check_keys, number, read_options, OptionKeys};
use super::rest;

/// The options of `history()`.
#[derive(Default)]
pub(super) struct HistoryOptions {
    /// Messages older than this one (the newest without it).
    before: Option<String>,
    /// Messages per page (1..=100, default 50).
    limit: Option<f64>,
}

impl OptionKeys for HistoryOptions {
    const KEYS: &'static [&'static str] = &["before", "limit"];
}

impl FromJson<'_> for HistoryOptions {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut options = HistoryOptions::default();
        r.object(|r, key| {
            match key {
                "before" => options.before = r.read()?,
                "limit" => options.limit = number(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(options)
    }
}

/// The options, checked: unknown keys, types and the `limit` range.
pub(super) fn options(value: JsValue) -> Result<(Option<String>, usize), JsValue> {
    check_keys::<HistoryOptions>(&value, "")?;
    let options: HistoryOptions = if value.is_undefined() || value.is_null() {
        HistoryOptions::default()
    } else {
        read_options(&value, "history options")?
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
    let mut entries = Vec::new();
    let mut refused = 0;
    for item in history_items(&data).into_iter().take(limit) {
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
