//! Unknown option keys fail fast, each named in the error (a misspelt option is an error,
//! never a silent default); the keys are compared here with the field names serde itself
//! reports for the struct.

use js_sys::{Object, Reflect};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use wasm_bindgen::prelude::*;

use super::convert::error;

/// Longest unknown key repeated in an error (keys are the app's spelling, not its data,
/// but an odd one is not repeated at all).
const MAX_KEY_CHARS: usize = 64;

/// `value[key]` (undefined when absent or `value` is not an object).
pub(super) fn field(value: &JsValue, key: &str) -> JsValue {
    if value.is_object() {
        Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Fails with a `validation` error naming the first key of `value` that `T` does not
/// declare (`prefix` says where, e.g. `timings`). Anything but an object passes: its
/// type is for the deserializer to judge.
pub(super) fn check_keys<'de, T: Deserialize<'de>>(
    value: &JsValue,
    prefix: &str,
) -> Result<(), JsValue> {
    check_known(value, prefix, field_names::<T>())
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
            let plain = key.len() <= MAX_KEY_CHARS
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$'));
            let named = match (plain, prefix) {
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

/// The field names `T` asks a deserializer for (its serde names, renames applied).
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    // The introspecting deserializer always fails once it has seen the names.
    let _ = T::deserialize(FieldNames(&mut names));
    names
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names taken"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}
