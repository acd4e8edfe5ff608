//! Decoding errors of the wire protocol.

use std::fmt;

/// Why a frame could not be decoded. Messages describe shape, never echo content,
/// so they are safe to log (a `connect` frame carries a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// Larger than [`super::MAX_FRAME_BYTES`].
    TooLarge {
        /// The frame's size.
        bytes: usize,
    },
    /// Not valid JSON.
    NotJson {
        /// The parser's complaint (position and category only).
        detail: String,
    },
    /// Valid JSON but not an object.
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// Envelope fields missing or of the wrong type.
    InvalidEnvelope {
        /// What was wrong.
        detail: String,
    },
    /// A `version` other than "2" (not echoed: it is untrusted text).
    UnsupportedVersion,
    /// The payload does not fit its event.
    InvalidPayload {
        /// The event name.
        event: String,
        /// What was wrong.
        detail: String,
    },
    /// A length, count or number beyond its bound in [`super::bounds`].
    OutOfBounds {
        /// The field, e.g. `message_id` or `mutation.target_fragment_index`.
        field: &'static str,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::TooLarge { bytes } => write!(f, "frame too large: {bytes} bytes"),
            ProtocolError::NotJson { detail } => write!(f, "frame is not JSON: {detail}"),
            ProtocolError::NotAnObject { found } => {
                write!(f, "frame is a JSON {found}, not an object")
            }
            ProtocolError::InvalidEnvelope { detail } => write!(f, "invalid envelope: {detail}"),
            ProtocolError::UnsupportedVersion => write!(f, "unsupported protocol version"),
            ProtocolError::OutOfBounds { field } => write!(f, "{field} is out of bounds"),
            ProtocolError::InvalidPayload { event, detail } => {
                write!(f, "invalid {event} payload: {detail}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// `text` with every `"…"` and `` `…` `` quoted part replaced by `"…"`: panic messages
/// quote values that way, and a value may be a token. A string is quoted as Rust's `Debug` writes it, so `\"` and
/// `\\` stay inside its quote; an unclosed quote hides the rest.
pub fn redact_quoted(text: &str) -> String {
    let mut out = String::new();
    let mut open_quote = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (open_quote, c) {
            (None, '"' | '`') => {
                out.push_str("\"…\"");
                open_quote = Some(c);
            }
            (None, _) => out.push(c),
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), _) if c == q => open_quote = None,
            (Some(_), _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_string_with_escaped_quotes_is_hidden_whole() {
        let value = r#"{"accessToken":"eyJSECRET","refreshToken":"rt_SECRET2\\"}"#;
        let text = format!("invalid type: string {value:?}, expected u32 at line 1");
        let detail = redact_quoted(&text);
        assert!(!detail.contains("SECRET"), "{detail}");
        assert_eq!(detail, "invalid type: string \"…\", expected u32 at line 1");
    }

    #[test]
    fn backquoted_values_are_hidden_too() {
        let text = redact_quoted("unknown variant `eyJtoken`, expected `debug` at line 1");
        assert_eq!(text, "unknown variant \"…\", expected \"…\" at line 1");
    }
}
