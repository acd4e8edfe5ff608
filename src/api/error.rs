//! The REST error type.

use std::fmt;

/// The broad class of a REST failure (PROTOCOL.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// Bad input caught before any request.
    Validation,
    /// The server answered with an envelope whose `code` is not 0.
    Api,
    /// Network failure or a body that is not an envelope.
    Transport,
    /// HTTP 401/403 without an envelope: the access token was refused.
    Auth,
}

impl ApiErrorKind {
    /// The stable lowercase name used at the JS boundary.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiErrorKind::Validation => "validation",
            ApiErrorKind::Api => "api",
            ApiErrorKind::Transport => "transport",
            ApiErrorKind::Auth => "auth",
        }
    }
}

/// A REST failure with everything a caller may branch on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The class of failure.
    pub kind: ApiErrorKind,
    /// Human-readable; never contains a token.
    pub message: String,
    /// The envelope's business code, when there was one.
    pub code: Option<i64>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The request path.
    pub path: String,
}

impl ApiError {
    /// A validation error for `path`, raised before any request is made.
    pub fn validation(message: impl Into<String>, path: impl Into<String>) -> Self {
        ApiError {
            kind: ApiErrorKind::Validation,
            message: message.into(),
            code: None,
            status: None,
            path: path.into(),
        }
    }

    /// A transport error (the request did not produce a usable response).
    pub fn transport(
        message: impl Into<String>,
        status: Option<u16>,
        path: impl Into<String>,
    ) -> Self {
        ApiError {
            kind: ApiErrorKind::Transport,
            message: message.into(),
            code: None,
            status,
            path: path.into(),
        }
    }

    /// True when this failure should trigger a reactive token refresh.
    pub fn is_auth(&self) -> bool {
        self.kind == ApiErrorKind::Auth
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error on {}: {}",
            self.kind.as_str(),
            self.path,
            self.message
        )?;
        if let Some(code) = self.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}
