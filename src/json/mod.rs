//! The module's own JSON codec: a pull [`Reader`] over borrowed text and an appending
//! [`Writer`], with hand-written [`FromJson`] / [`ToJson`] impls per type.
//!
//! Why not serde derive: serde_json instantiates a deserializer state machine per type
//! and per reader (44 of them, 1.7 KB of wasm each, with their visitors and field enums),
//! and its error texts pull in float formatting. A hand-written impl is a `match` over the
//! keys calling a few shared readers. Every failure is a typed [`JsonError`] that never
//! quotes the input (frames carry tokens), and nothing here panics.

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

mod raw;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use raw::RawJson;
pub use read::{from_str, path_at, FromJson, Kind, Reader};
pub use write::{
    camel_case, snake_case, to_string, to_string_camel, ObjectWriter, Reparsed, ToJson, Writer,
};

use std::fmt;

/// How deep arrays and objects may nest (serde_json's limit too).
pub const MAX_DEPTH: u32 = 128;

/// Why a JSON text could not be read as the value asked for. The text says where and
/// what, never the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at byte `at` (or the text ended early).
    Syntax {
        /// Byte offset.
        at: usize,
    },
    /// Valid JSON, but at byte `at` not the `expected` type.
    Type {
        /// What the reader wanted, e.g. "a string".
        expected: &'static str,
        /// Byte offset.
        at: usize,
    },
    /// A number that does not fit its field (too large, negative or fractional).
    Number {
        /// Byte offset.
        at: usize,
    },
    /// A required key is absent.
    Missing {
        /// The key.
        field: &'static str,
    },
    /// A string that is not one of the values the field allows.
    Variant {
        /// The field or type, e.g. "chat_type".
        field: &'static str,
    },
    /// A key that must come once came again (an identity the server stamps).
    Repeated {
        /// The key.
        field: &'static str,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Something other than whitespace after the value.
    Trailing {
        /// Byte offset.
        at: usize,
    },
}

impl JsonError {
    /// Whether the text itself is not JSON (as opposed to JSON of another shape).
    pub fn is_syntax(&self) -> bool {
        matches!(
            self,
            JsonError::Syntax { .. } | JsonError::TooDeep | JsonError::Trailing { .. }
        )
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax { at } => write!(f, "not JSON at byte {at}"),
            JsonError::Type { expected, at } => write!(f, "expected {expected} at byte {at}"),
            JsonError::Number { at } => write!(f, "number out of range at byte {at}"),
            JsonError::Missing { field } => write!(f, "missing field `{field}`"),
            JsonError::Variant { field } => write!(f, "unknown value for `{field}`"),
            JsonError::Repeated { field } => write!(f, "duplicate field `{field}`"),
            JsonError::TooDeep => write!(f, "nested deeper than {MAX_DEPTH}"),
            JsonError::Trailing { at } => write!(f, "trailing characters at byte {at}"),
        }
    }
}

impl std::error::Error for JsonError {}

/// Marks `field` as read; [`JsonError::Repeated`] if it was already: for keys whose
/// value must be unambiguous (where JSON readers upstream may keep the first of two and
/// we would keep the last).
pub fn once(seen: &mut bool, field: &'static str) -> Result<(), JsonError> {
    if std::mem::replace(seen, true) {
        return Err(JsonError::Repeated { field });
    }
    Ok(())
}

/// `value`, or [`JsonError::Missing`] naming `field`: for required keys.
pub fn required<T>(value: Option<T>, field: &'static str) -> Result<T, JsonError> {
    value.ok_or(JsonError::Missing { field })
}
