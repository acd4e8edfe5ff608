//! Options objects from the app: unknown keys fail fast, each named in the error (a
//! misspelt option is an error, never a silent default), and a value of the wrong type
//! is named by its key with what it must be (never quoted).

use js_sys::{Object, Reflect};
use serde_json::Number;
use wasm_bindgen::prelude::*;

use super::convert::error;
use crate::json::{self, FromJson, JsonError, Reader};
use crate::platform::json::json_text;

/// Longest unknown key repeated in an error (keys are the app's spelling, not its data,
/// but an odd one is not repeated at all).
const MAX_KEY_CHARS: usize = 64;

/// An options object the app passes: the keys it takes.
pub(super) trait OptionKeys {
    /// Its keys as the app spells them, in the order an error lists them.
    const KEYS: &'static [&'static str];
}

/// `value[key]` (undefined when absent or `value` is not an object).
pub(super) fn field(value: &JsValue, key: &str) -> JsValue {
    if value.is_object() {
        Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Fails with a `validation` error naming the first key of `value` that `T` does not
/// take (`prefix` says where, e.g. `timings`). Anything but an object passes: its type
/// is for [`read_options`] to judge.
pub(super) fn check_keys<T: OptionKeys>(value: &JsValue, prefix: &str) -> Result<(), JsValue> {
    check_known(value, prefix, T::KEYS)
}

/// [`check_keys`] once for every `T` (only the names differ).
fn check_known(value: &JsValue, prefix: &str, known: &[&str]) -> Result<(), JsValue> {
    if !value.is_object() || value.is_function() || js_sys::Array::is_array(value) {
        return Ok(());
    }
    let unknown = Object::keys(value.unchecked_ref::<Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .find(|k| !known.contains(&k.as_str()));
    match unknown {
        None => Ok(()),
        Some(key) => {
            let named = match (plain(&key), prefix) {
                (true, "") => format!("unknown option `{key}`"),
                (true, _) => format!("unknown option `{prefix}.{key}`"),
                (false, "") => "an unknown option key".to_owned(),
                (false, _) => format!("an unknown option key in `{prefix}`"),
            };
            let expected = known.join("`, `");
            Err(error(
                "validation",
                &format!("{named}; expected one of `{expected}`"),
            ))
        }
    }
}

/// Whether a key may be repeated in an error: short, letters, digits, `_` and `$`.
fn plain(key: &str) -> bool {
    key.len() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$'))
}

/// An optional number option. Read as a `serde_json::Number`: the float parser the module
/// already has (core's `f64` parser would add ~14 KB of code and tables).
pub(super) fn number(r: &mut Reader<'_>) -> Result<Option<f64>, JsonError> {
    Ok(r.read::<Option<Number>>()?.and_then(|n| n.as_f64()))
}

/// `value` (an options object, its keys checked) read as `T` through its JSON text, as
/// `read_js` reads it; else a `validation` error "invalid {what}: …" naming the option
/// and what it must be.
pub(super) fn read_options<T: for<'a> FromJson<'a>>(
    value: &JsValue,
    what: &str,
) -> Result<T, JsValue> {
    let invalid = |why: &str| error("validation", &format!("invalid {what}: {why}"));
    let text = json_text(value).map_err(invalid)?;
    json::from_str(&text).map_err(|e| invalid(&explain(&text, &e)))
}

/// Which option `err` is about (its path in `text`) and what it must be.
fn explain(text: &str, err: &JsonError) -> String {
    let (expected, at) = match *err {
        JsonError::Type { expected, at } => (expected, at),
        JsonError::Number { at } => ("a whole number in range", at),
        _ => return err.to_string(),
    };
    let path = json::path_at(text, at).unwrap_or_default();
    if path.is_empty() {
        format!("expected {expected}")
    } else if path.iter().all(|key| plain(key)) {
        format!("`{}` must be {expected}", path.join("."))
    } else {
        format!("an option must be {expected}")
    }
}
