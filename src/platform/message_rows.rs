//! The message cache's IndexedDB rows as JS values, read leniently (a row is untrusted
//! input: what does not read is skipped or fails to decode later, never a panic): the
//! key of a row (`[accountKey, chatId, messageId]`) tells a page from a row of one
//! message (builds before pages), a row's messages, and a page row to write.

use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::store::message_pages::{Item, Stored, PAGE_ITEMS};

/// The most messages read from one row: a page never holds more.
const MAX_ROW_ITEMS: u32 = PAGE_ITEMS as u32;

/// `value[index]`, undefined where there is none (or `value` is not an object).
fn at(value: &JsValue, index: u32) -> JsValue {
    Reflect::get_u32(value, index).unwrap_or(JsValue::UNDEFINED)
}

/// `value[key]`, undefined where there is none.
fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A stored number as a time (0 when it is not a number).
fn time(value: &JsValue) -> i64 {
    value.as_f64().map_or(0, |at| at as i64)
}

/// The chat of a row's key, if it is a string.
pub fn chat_of(key: &JsValue) -> Option<String> {
    at(key, 1).as_string()
}

/// What a row's key tells: a message id is a row of a build before pages, numbers are
/// a page's (what is not a number reads as NaN, or 0).
pub fn stored_of(key: &JsValue) -> Stored {
    let part = at(key, 2);
    if part.is_string() {
        return Stored::Single;
    }
    let number = |i| at(&part, i).as_f64().unwrap_or(f64::NAN);
    Stored::Page {
        seq: number(0),
        count: number(1) as usize,
        newest: number(2) as i64,
        units: number(3) as usize,
    }
}

/// The messages of a row: a row of a build before pages is one, a page holds many (at
/// most [`MAX_ROW_ITEMS`]; an entry without a string id is skipped, since nothing can
/// address it; a missing time is 0, a missing frame then fails to decode).
pub fn items_of(row: &JsValue) -> Vec<Item<JsValue>> {
    if let Some(id) = field(row, "messageId").as_string() {
        return vec![item(id, time(&field(row, "sentAt")), field(row, "frame"))];
    }
    let (ids, times, frames) = (field(row, "ids"), field(row, "times"), field(row, "frames"));
    if !Array::is_array(&ids) {
        return Vec::new();
    }
    let ids: Array = ids.unchecked_into();
    (0..ids.length().min(MAX_ROW_ITEMS))
        .filter_map(|i| {
            let id = ids.get(i).as_string()?;
            Some(item(id, time(&at(&times, i)), at(&frames, i)))
        })
        .collect()
}

/// The message `id` at `sent_at` as `frame`, with the frame's size (its UTF-16 units, 0
/// when it is not a string), read once.
pub fn item(id: String, sent_at: i64, frame: JsValue) -> Item<JsValue> {
    let units = frame
        .dyn_ref::<JsString>()
        .map_or(0, |s| s.length() as usize);
    Item {
        id,
        sent_at,
        frame,
        units,
    }
}

/// The page row `seq` of a chat with `items`: its key tells its number, how many it
/// holds, the newest one's time and its size, so that a write reads only the keys.
pub fn page_row(account_key: &str, chat_id: &str, seq: f64, items: &[Item<JsValue>]) -> JsValue {
    let (ids, times, frames) = (Array::new(), Array::new(), Array::new());
    let mut size = 0usize;
    for item in items {
        ids.push(&item.id.as_str().into());
        times.push(&(item.sent_at as f64).into());
        frames.push(&item.frame);
        size = size.saturating_add(item.units);
    }
    let newest = items.iter().map(|i| i.sent_at).max().unwrap_or(0) as f64;
    let key = Array::of4(
        &seq.into(),
        &(items.len() as f64).into(),
        &newest.into(),
        &(size as f64).into(),
    );
    let object = Object::new();
    for (name, value) in [
        ("accountKey", JsValue::from(account_key)),
        ("chatId", chat_id.into()),
        ("messageId", key.into()),
        ("ids", ids.into()),
        ("times", times.into()),
        ("frames", frames.into()),
    ] {
        let _ = Reflect::set(&object, &name.into(), &value);
    }
    object.into()
}
