//! Request building: a validated base URL and plain request descriptions that the
//! platform layer executes with `fetch` (and the emulator's tests with any client).

use super::error::ApiError;

/// The per-request timeout reference clients use (PROTOCOL.md §1.2).
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// An `http://` or `https://` base URL without trailing slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Validates `raw`: only http(s) is accepted; trailing `/` are stripped.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let trimmed = raw.trim();
        let lower = trimmed.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        match rest {
            Some(host) if !host.trim_start_matches('/').is_empty() => {
                Ok(BaseUrl(trimmed.trim_end_matches('/').to_owned()))
            }
            _ => Err(ApiError::validation(
                "base URL must start with http:// or https://".to_owned(),
                "",
            )),
        }
    }

    /// `base + path`, where `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An HTTP method the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// A request to run: everything but the transport. `Debug` hides header values.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The path below the base URL (kept for errors).
    pub path: String,
    /// The full URL.
    pub url: String,
    /// Header names and values (values may hold credentials).
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body, if any.
    pub json_body: Option<String>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .field("has_body", &self.json_body.is_some())
            .finish()
    }
}

/// Credentials of an authenticated call. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The access token (may be empty for activation).
    pub access_token: &'a str,
    /// The device id the session was created with.
    pub device_id: &'a str,
}

impl HttpRequest {
    /// An authenticated request: `Authorization: Bearer …` and `X-Device-Id`.
    pub fn authenticated(
        base: &BaseUrl,
        method: Method,
        path: &str,
        credentials: &Credentials<'_>,
        json_body: Option<String>,
    ) -> Self {
        let mut headers = vec![
            (
                "authorization",
                format!("Bearer {}", credentials.access_token),
            ),
            ("x-device-id", credentials.device_id.to_owned()),
        ];
        if json_body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        HttpRequest {
            method,
            path: path.to_owned(),
            url: base.join(path),
            headers,
            json_body,
        }
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET /v1/users/{id}`: blank ids are a validation error and no request is made.
pub fn user_profile_path(user_id: &str) -> Result<String, ApiError> {
    let id = user_id.trim();
    if id.is_empty() {
        return Err(ApiError::validation(
            "user id must not be blank",
            "/v1/users/",
        ));
    }
    Ok(format!("/v1/users/{}", percent_encode_segment(id)))
}

/// `GET /v1/chats/{id}/messages?limit=&before=`: a page of a chat's history going back
/// from the newest (or from the message `before`). A blank chat id is a validation error.
pub fn history_path(chat_id: &str, before: Option<&str>, limit: usize) -> Result<String, ApiError> {
    let id = chat_id.trim();
    if id.is_empty() {
        return Err(ApiError::validation(
            "chat id must not be blank",
            "/v1/chats/",
        ));
    }
    let mut path = format!(
        "/v1/chats/{}/messages?limit={limit}",
        percent_encode_segment(id)
    );
    if let Some(before) = before.filter(|b| !b.is_empty()) {
        path.push_str("&before=");
        path.push_str(&percent_encode_segment(before));
    }
    Ok(path)
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters pass through).
fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_accepts_http_and_https_and_strips_slashes() {
        assert_eq!(
            BaseUrl::parse("https://app.example.com/").unwrap().as_str(),
            "https://app.example.com"
        );
        assert_eq!(
            BaseUrl::parse("HTTP://127.0.0.1:8787///").unwrap().as_str(),
            "HTTP://127.0.0.1:8787"
        );
        assert_eq!(
            BaseUrl::parse("http://h/api/")
                .unwrap()
                .join("/v1/users/me"),
            "http://h/api/v1/users/me"
        );
    }

    #[test]
    fn base_url_rejects_other_schemes() {
        for raw in [
            "ws://h",
            "ftp://h",
            "h.com",
            "",
            "https://",
            "javascript:alert(1)",
        ] {
            let err = BaseUrl::parse(raw).unwrap_err();
            assert_eq!(err.kind, super::super::ApiErrorKind::Validation, "{raw}");
        }
    }

    #[test]
    fn authenticated_requests_carry_bearer_and_device() {
        let base = BaseUrl::parse("http://h").unwrap();
        let creds = Credentials {
            access_token: "tok",
            device_id: "dev-1",
        };
        let req = HttpRequest::authenticated(&base, Method::Get, "/v1/users/me", &creds, None);
        assert_eq!(req.header("Authorization"), Some("Bearer tok"));
        assert_eq!(req.header("x-device-id"), Some("dev-1"));
        assert_eq!(req.header("content-type"), None);
        assert!(
            !format!("{req:?}").contains("tok\""),
            "Debug must hide values"
        );
    }

    #[test]
    fn blank_user_id_is_a_validation_error() {
        assert!(user_profile_path("  ").is_err());
        assert_eq!(user_profile_path("u 1/x").unwrap(), "/v1/users/u%201%2Fx");
    }

    #[test]
    fn history_paths_encode_the_chat_and_before() {
        assert!(history_path(" ", None, 5).is_err());
        assert_eq!(
            history_path("c 1/x", None, 5).unwrap(),
            "/v1/chats/c%201%2Fx/messages?limit=5"
        );
        assert_eq!(
            history_path("c1", Some("m&1"), 50).unwrap(),
            "/v1/chats/c1/messages?limit=50&before=m%261"
        );
    }
}
