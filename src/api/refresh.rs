//! `POST /v1/auth/refresh` (PROTOCOL.md §1.1): the request and the classification of
//! every possible answer into success, transient or permanent.

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

use std::borrow::Cow;
use std::fmt;

use super::envelope::{parse_envelope, status_text, text};
use super::request::{BaseUrl, HttpRequest, Method};
use crate::json::{Reader, Writer};

/// The refresh endpoint's path.
pub const REFRESH_PATH: &str = "/v1/auth/refresh";
/// Envelope code: internal error (transient).
pub const CODE_INTERNAL: i64 = 1;
/// Envelope code: bad body or device id (permanent).
pub const CODE_BAD_REQUEST: i64 = 400;
/// Envelope code: invalid or spent refresh token (permanent).
pub const CODE_INVALID_REFRESH: i64 = 10003;

/// An access/refresh token pair. `Debug` never shows either token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The short-lived access JWT.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenPair(<redacted>)")
    }
}

/// The classified result of one refresh attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshResult {
    /// The server rotated the pair; the old refresh token is now dead.
    Success(TokenPair),
    /// Try again later with the same tokens; never log out.
    Transient {
        /// The HTTP status, when a response arrived.
        status: Option<u16>,
        /// The envelope code, when there was one.
        code: Option<i64>,
        /// What happened (no tokens).
        message: String,
    },
    /// The refresh token is dead: log out.
    Permanent {
        /// 10003 or 400.
        code: i64,
        /// What happened (no tokens).
        message: String,
    },
}

impl RefreshResult {
    fn transient(status: Option<u16>, code: Option<i64>, message: impl Into<String>) -> Self {
        RefreshResult::Transient {
            status,
            code,
            message: message.into(),
        }
    }
}

/// What the transport produced for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpOutcome<'a> {
    /// A response with its status and body text.
    Response {
        /// HTTP status.
        status: u16,
        /// Body text ("" if unreadable).
        body: &'a str,
    },
    /// `fetch` threw: network, DNS, abort/timeout.
    Failed {
        /// The error's message.
        message: &'a str,
    },
}

/// Builds the refresh request, or the permanent result of a blank refresh token
/// (no request is made then). Unauthenticated: no `Authorization` header.
pub fn refresh_request(
    base: &BaseUrl,
    refresh_token: &str,
    device_id: &str,
) -> Result<HttpRequest, RefreshResult> {
    let token = refresh_token.trim();
    if token.is_empty() {
        return Err(RefreshResult::Permanent {
            code: CODE_INVALID_REFRESH,
            message: "missing refresh token".into(),
        });
    }
    let mut body = Writer::default();
    let mut object = body.object();
    object.field("refresh_token", token);
    object.end();
    Ok(HttpRequest {
        method: Method::Post,
        path: REFRESH_PATH.into(),
        url: base.join(REFRESH_PATH),
        headers: vec![
            ("content-type", "application/json".into()),
            ("x-device-id", device_id.to_owned()),
        ],
        json_body: Some(body.finish()),
    })
}

/// The pair in a rotation's `data`: both tokens non-empty strings, else `None`.
fn token_pair(data: &str) -> Option<TokenPair> {
    let (mut access_token, mut refresh_token) = (None, None);
    let mut reader = Reader::new(data);
    reader
        .object(|r, key| {
            match key {
                "access_token" => access_token = text(r)?,
                "refresh_token" => refresh_token = text(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })
        .ok()?;
    let token = |t: Option<Cow<'_, str>>| t.filter(|t| !t.is_empty()).map(Cow::into_owned);
    Some(TokenPair {
        access_token: token(access_token)?,
        refresh_token: token(refresh_token)?,
    })
}

/// Classifies a refresh answer per the table in PROTOCOL.md §1.1.
pub fn classify_refresh(outcome: HttpOutcome<'_>) -> RefreshResult {
    let (status, body) = match outcome {
        HttpOutcome::Failed { message } => {
            return RefreshResult::transient(None, None, format!("refresh fetch failed: {message}"))
        }
        HttpOutcome::Response { status, body } => (status, body),
    };
    if status != 200 {
        return RefreshResult::transient(
            Some(status),
            None,
            format!("refresh http {status} {}", status_text(status)),
        );
    }
    let Some(envelope) = parse_envelope(body) else {
        return RefreshResult::transient(Some(200), None, "refresh: missing numeric code");
    };
    let message = if envelope.msg.is_empty() {
        format!("code={}", envelope.code)
    } else {
        envelope.msg
    };
    match envelope.code {
        0 => match token_pair(envelope.data) {
            Some(pair) => RefreshResult::Success(pair),
            None => {
                RefreshResult::transient(Some(200), Some(0), "refresh: rotation body incomplete")
            }
        },
        CODE_INVALID_REFRESH | CODE_BAD_REQUEST => RefreshResult::Permanent {
            code: envelope.code,
            message,
        },
        code => RefreshResult::transient(Some(200), Some(code), message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> RefreshResult {
        classify_refresh(HttpOutcome::Response { status, body })
    }

    fn is_transient(result: &RefreshResult) -> bool {
        matches!(result, RefreshResult::Transient { .. })
    }

    #[test]
    fn fetch_failure_is_transient() {
        let result = classify_refresh(HttpOutcome::Failed { message: "timeout" });
        assert_eq!(
            result,
            RefreshResult::transient(None, None, "refresh fetch failed: timeout")
        );
    }

    #[test]
    fn any_non_200_status_is_transient_whatever_the_body() {
        for status in [201, 204, 301, 400, 401, 403, 500, 502, 503] {
            for body in ["", "garbage", r#"{"code":10003,"msg":"dead"}"#] {
                assert!(is_transient(&response(status, body)), "{status} {body}");
            }
        }
    }

    #[test]
    fn a_non_200_body_is_never_quoted_in_the_reason() {
        let result = response(502, "<pre>refresh_token=rt-secret</pre>");
        let RefreshResult::Transient { message, .. } = result else {
            panic!("{result:?}")
        };
        assert_eq!(message, "refresh http 502 server error");
    }

    #[test]
    fn ok_without_envelope_is_transient() {
        for body in ["", "not json", "{}", r#"{"code":"0"}"#, "[]", "null"] {
            assert_eq!(
                response(200, body),
                RefreshResult::transient(Some(200), None, "refresh: missing numeric code"),
                "{body}"
            );
        }
    }

    #[test]
    fn code_zero_with_both_tokens_is_success() {
        let result = response(
            200,
            r#"{"code":0,"msg":"ok","data":{"access_token":"a2","refresh_token":"r2"}}"#,
        );
        assert_eq!(
            result,
            RefreshResult::Success(TokenPair {
                access_token: "a2".into(),
                refresh_token: "r2".into()
            })
        );
        assert!(!format!("{result:?}").contains("a2"));
        let odd = response(
            200,
            r#"{"code":0,"data":{"x":[{}],"access_token":"a","refresh_token":"r\/2\u00e9","access_token":"a3"}}"#,
        );
        assert_eq!(
            odd,
            RefreshResult::Success(TokenPair {
                access_token: "a3".into(),
                refresh_token: "r/2é".into()
            })
        );
    }

    #[test]
    fn code_zero_with_a_missing_or_empty_token_is_transient() {
        for data in [
            r#"{"access_token":"a"}"#,
            r#"{"refresh_token":"r"}"#,
            r#"{"access_token":"","refresh_token":"r"}"#,
            r#"{"access_token":"a","refresh_token":7}"#,
            r#"[{"access_token":"a","refresh_token":"r"}]"#,
            r#""a""#,
            "null",
        ] {
            let body = format!(r#"{{"code":0,"data":{data}}}"#);
            assert!(is_transient(&response(200, &body)), "{body}");
        }
    }

    #[test]
    fn invalid_refresh_and_bad_request_are_permanent() {
        assert_eq!(
            response(200, r#"{"code":10003,"msg":"refresh token reused"}"#),
            RefreshResult::Permanent {
                code: 10003,
                message: "refresh token reused".into()
            }
        );
        assert_eq!(
            response(200, r#"{"code":400}"#),
            RefreshResult::Permanent {
                code: 400,
                message: "code=400".into()
            }
        );
    }

    #[test]
    fn internal_and_unknown_codes_are_transient() {
        assert_eq!(
            response(200, r#"{"code":1,"msg":"db"}"#),
            RefreshResult::transient(Some(200), Some(1), "db")
        );
        for code in [2, 401, 10002, 10004, 41301, -1] {
            let body = format!(r#"{{"code":{code}}}"#);
            assert!(is_transient(&response(200, &body)), "{code}");
        }
    }

    #[test]
    fn blank_refresh_token_is_permanent_without_a_request() {
        let base = BaseUrl::parse("http://h").unwrap();
        for token in ["", "   ", "\n"] {
            assert_eq!(
                refresh_request(&base, token, "d").unwrap_err(),
                RefreshResult::Permanent {
                    code: 10003,
                    message: "missing refresh token".into()
                }
            );
        }
    }

    #[test]
    fn refresh_request_is_unauthenticated_with_device_and_trimmed_token() {
        let base = BaseUrl::parse("http://h/").unwrap();
        let req = refresh_request(&base, "  r1 ", "dev-9").unwrap();
        assert_eq!(req.url, "http://h/v1/auth/refresh");
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.header("authorization"), None);
        assert_eq!(req.header("x-device-id"), Some("dev-9"));
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.json_body.as_deref(), Some(r#"{"refresh_token":"r1"}"#));
        let odd = "r\"\\\u{1}é";
        let req = refresh_request(&base, odd, "d").unwrap();
        let serde_body = serde_json::json!({ "refresh_token": odd }).to_string();
        assert_eq!(req.json_body, Some(serde_body));
    }
}
