//! The `{code, msg, data}` response envelope (PROTOCOL.md §1, §15.3 parse-first).

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

use std::borrow::Cow;

use serde_json::Number;

use super::error::{ApiError, ApiErrorKind};
use crate::json::{JsonError, Kind, Reader};

/// How much of an envelope's `msg` an error message quotes (**ours**).
const MSG_EXCERPT_CHARS: usize = 200;

/// A parsed envelope: its numeric code, its message (`msg`, else `message`) and `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    /// 0 on success.
    pub code: i64,
    /// Human-readable message ("" when absent).
    pub msg: String,
    /// The result as the JSON text the body holds (`null` when absent): read by the
    /// caller as the shape it expects, or handed to JS as it is.
    pub data: &'a str,
}

/// Parses `body` as an envelope; `None` unless it is a JSON object with a numeric `code`.
/// A repeated key: the last one counts.
pub fn parse_envelope(body: &str) -> Option<Envelope<'_>> {
    let (mut code, mut msg, mut message, mut data) = (None, None, None, "null");
    let mut reader = Reader::new(body);
    reader
        .object(|r, key| {
            match key {
                "code" => code = envelope_code(r)?,
                "msg" => msg = text(r)?,
                "message" => message = text(r)?,
                "data" => data = r.raw()?,
                _ => r.skip()?,
            }
            Ok(())
        })
        .ok()?;
    reader.finish().ok()?;
    Some(Envelope {
        code: code?,
        msg: msg
            .or(message)
            .map(|m| excerpt(&m).to_owned())
            .unwrap_or_default(),
        data,
    })
}

/// A whole number (written as an integer or not), saturated to `i64`; `None` for
/// anything else.
fn envelope_code(r: &mut Reader<'_>) -> Result<Option<i64>, JsonError> {
    if r.peek()? != Kind::Number {
        return r.skip().map(|()| None);
    }
    let number: Number = r.read()?;
    Ok(number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.is_finite())
            .map(|f| f as i64)
    }))
}

/// A string, or `None` for a value of another type.
pub(super) fn text<'a>(r: &mut Reader<'a>) -> Result<Option<Cow<'a, str>>, JsonError> {
    match r.peek()? {
        Kind::String => r.string().map(Some),
        _ => r.skip().map(|()| None),
    }
}

/// Decodes a REST response into its `data` (JSON text), or the error a caller should see.
///
/// Rules, in order: a structured envelope's business code wins over the HTTP status;
/// without one, a non-2xx status is a transport error (401/403: kind `auth`); a 2xx
/// with an empty or code-less body is a transport error naming what was wrong.
pub fn decode_response<'a>(status: u16, body: &'a str, path: &str) -> Result<&'a str, ApiError> {
    if let Some(envelope) = parse_envelope(body) {
        if envelope.code == 0 {
            return Ok(envelope.data);
        }
        let message = if envelope.msg.is_empty() {
            format!("code={}", envelope.code)
        } else {
            envelope.msg
        };
        return Err(ApiError {
            kind: ApiErrorKind::Api,
            message,
            code: Some(envelope.code),
            status: Some(status),
            path: path.to_owned(),
        });
    }
    if !(200..300).contains(&status) {
        let kind = if status == 401 || status == 403 {
            ApiErrorKind::Auth
        } else {
            ApiErrorKind::Transport
        };
        return Err(ApiError {
            kind,
            message: format!("http {status} {}", status_text(status)),
            code: None,
            status: Some(status),
            path: path.to_owned(),
        });
    }
    let message = if body.is_empty() {
        "non-JSON response: empty body"
    } else {
        "invalid envelope: missing numeric `code`"
    };
    Err(ApiError::transport(message, Some(status), path))
}

/// A fixed description of an HTTP status. A body that is not an envelope is never
/// quoted: an error page may echo the request, and with it a token.
pub(crate) fn status_text(status: u16) -> &'static str {
    match status {
        401 | 403 => "unauthorized",
        404 => "not found",
        408 | 504 => "timed out",
        429 => "rate limited",
        400..=499 => "request refused",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

/// The first [`MSG_EXCERPT_CHARS`] characters of `text` (on a char boundary).
fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(MSG_EXCERPT_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn success_returns_data_as_written() {
        let data =
            decode_response(200, r#"{"code":0,"msg":"ok","data": {"id" : "u1"} }"#, "/p").unwrap();
        assert_eq!(data, r#"{"id" : "u1"}"#);
        assert_eq!(decode_response(200, r#"{"code":0}"#, "/p").unwrap(), "null");
    }

    #[test]
    fn business_code_wins_over_http_status() {
        for status in [200, 400, 403, 500, 502] {
            let err =
                decode_response(status, r#"{"code":41301,"msg":"quota"}"#, "/v1/x").unwrap_err();
            assert_eq!(err.kind, ApiErrorKind::Api);
            assert_eq!(err.code, Some(41301));
            assert_eq!(err.status, Some(status));
            assert_eq!(err.path, "/v1/x");
            assert_eq!(err.message, "quota");
        }
    }

    #[test]
    fn close_business_codes_stay_distinguishable() {
        let a = decode_response(200, r#"{"code":41301,"msg":"a"}"#, "/p").unwrap_err();
        let b = decode_response(200, r#"{"code":41501,"msg":"b"}"#, "/p").unwrap_err();
        assert_ne!(a.code, b.code);
        for code in [21001, 21003, 10003] {
            let body = format!(r#"{{"code":{code},"msg":"m"}}"#);
            assert_eq!(
                decode_response(200, &body, "/p").unwrap_err().code,
                Some(code)
            );
        }
    }

    #[test]
    fn legacy_message_field_is_accepted_and_blank_msg_names_the_code() {
        let err = decode_response(200, r#"{"code":7,"message":"legacy"}"#, "/p").unwrap_err();
        assert_eq!(err.message, "legacy");
        let err = decode_response(200, r#"{"code":7}"#, "/p").unwrap_err();
        assert_eq!(err.message, "code=7");
    }

    #[test]
    fn non_2xx_without_envelope_is_transport_and_never_quotes_the_body() {
        let page = "<html>echo: Bearer secret-token</html>";
        let err = decode_response(502, page, "/p").unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::Transport);
        assert_eq!(err.status, Some(502));
        assert_eq!(err.message, "http 502 server error");
        let err = decode_response(500, r#"{"code":"1"}"#, "/p").unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::Transport);
    }

    #[test]
    fn unauthorized_without_envelope_is_auth() {
        for status in [401, 403] {
            let err = decode_response(status, "", "/p").unwrap_err();
            assert_eq!(err.kind, ApiErrorKind::Auth);
            assert!(err.is_auth());
        }
    }

    #[test]
    fn ok_status_with_bad_body_names_the_problem() {
        let err = decode_response(200, "", "/p").unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ApiErrorKind::Transport, "non-JSON response: empty body")
        );
        for body in ["{}", r#"{"code":"0"}"#, "[1]", "<html>", r#"{"code":null}"#] {
            let err = decode_response(200, body, "/p").unwrap_err();
            assert_eq!(
                err.message, "invalid envelope: missing numeric `code`",
                "{body}"
            );
        }
    }

    /// The serde_json reading this module had before the codec (`data` a `Value`), as
    /// the oracle.
    fn serde_envelope(body: &str) -> Option<(i64, String, Value)> {
        let mut value: Value = serde_json::from_str(body).ok()?;
        let object = value.as_object_mut()?;
        let code = object.get("code").and_then(|value| {
            value.as_i64().or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.is_finite())
                    .map(|f| f as i64)
            })
        })?;
        let msg = ["msg", "message"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_str))
            .map(excerpt)
            .unwrap_or_default()
            .to_owned();
        let data = object.remove("data").unwrap_or(Value::Null);
        Some((code, msg, data))
    }

    /// Ours, `data` read as JSON kept as received (then as a `Value`, to compare).
    fn envelope(body: &str) -> Option<(i64, String, Value)> {
        let envelope = parse_envelope(body)?;
        let data: crate::json::RawJson = crate::json::from_str(envelope.data).ok()?;
        let data = serde_json::from_str(data.text()).ok()?;
        Some((envelope.code, envelope.msg, data))
    }

    #[test]
    fn envelopes_read_as_serde_json_read_them() {
        let long = format!(r#"{{"code":1,"msg":"{}"}}"#, "\\u00e9".repeat(300));
        for body in [
            r#"{"code":0,"msg":"ok","data":{"id":"u1","n":[1,2.5,-3e2,null,true],"o":{}}}"#,
            r#" { "code" : 0 , "data" : [ "a\"b\u00e9" ] } "#,
            r#"{"code":0}"#,
            r#"{"code":0,"data":null}"#,
            r#"{"code":1.0,"msg":5,"message":"legacy"}"#,
            r#"{"code":1.5}"#,
            r#"{"code":-0}"#,
            r#"{"code":1e3,"msg":null}"#,
            r#"{"code":18446744073709551615}"#,
            r#"{"code":123456789012345678901234567890}"#,
            r#"{"code":-9223372036854775808}"#,
            r#"{"code":"0"}"#,
            r#"{"code":null}"#,
            r#"{"code":true}"#,
            r#"{"code":0,"code":"x"}"#,
            r#"{"code":"x","code":7}"#,
            r#"{"code":7,"msg":"a","msg":"b"}"#,
            r#"{"code":7,"msg":"a","msg":{}}"#,
            r#"{"code":0,"data":1,"data":2}"#,
            r#"{"code":0,"extra":{"deep":[[[{"a":"b"}]]]}}"#,
            r#"{"code":1e400}"#,
            r#"{"code":0} x"#,
            r#"{"code":0"#,
            r#"[{"code":0}]"#,
            r#""code""#,
            "",
            "null",
            &long,
        ] {
            assert_eq!(envelope(body), serde_envelope(body), "{body}");
        }
    }

    /// Leniency: serde_json refused a whole body holding a number beyond f64's range
    /// anywhere; now only where it is read as a number (`code`): `data` is passed on as
    /// written, for its reader to judge.
    #[test]
    fn a_huge_number_outside_code_is_passed_on() {
        let envelope =
            parse_envelope(r#"{"code":0,"trace":1e400,"msg":1e999,"data":[1e400]}"#).unwrap();
        assert_eq!((envelope.code, envelope.msg.as_str()), (0, ""));
        assert_eq!(envelope.data, "[1e400]");
        assert_eq!(parse_envelope(r#"{"code":1e400}"#), None);
    }

    #[test]
    fn a_long_msg_is_cut_on_char_boundaries() {
        let body = format!(r#"{{"code":7,"msg":"{}"}}"#, "é".repeat(300));
        let err = decode_response(200, &body, "/p").unwrap_err();
        assert_eq!(err.message.chars().count(), 200);
        assert_eq!(excerpt("short"), "short");
    }
}
