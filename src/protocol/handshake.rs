//! Classification of `hello-fail` reasons (PROTOCOL.md §3 "Handshake outcomes").

/// The close code of a socket whose session another socket took over (same user and
/// device, PROTOCOL.md §4): reconnect no sooner than 5 s later.
pub const CLOSE_SESSION_TAKEN_OVER: u16 = 4001;

/// What a `hello-fail` means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The access token was rejected: refresh (single-flight), then reconnect.
    TokenRejected,
    /// The auth backend is down: back off and retry with the same token, never refresh.
    AuthUnavailable,
    /// A protocol fault: report, back off.
    Protocol,
}

const TOKEN_REJECTED: [&str; 5] = [
    "authentication failed",
    "invalid token",
    "token expired",
    "expired token",
    "unauthorized",
];

const AUTH_UNAVAILABLE: [&str; 4] = [
    "remote auth service unavailable",
    "auth service unavailable",
    "service unavailable",
    "temporarily unavailable",
];

impl HandshakeFailure {
    /// Classifies a `hello-fail` reason, case-insensitively by substring.
    pub fn classify(reason: &str) -> Self {
        let reason = reason.to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| reason.contains(n));
        if has(&TOKEN_REJECTED) {
            HandshakeFailure::TokenRejected
        } else if has(&AUTH_UNAVAILABLE) {
            HandshakeFailure::AuthUnavailable
        } else {
            HandshakeFailure::Protocol
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HandshakeFailure::*;
    use super::*;

    #[test]
    fn every_reason_in_the_table_is_classified() {
        for (reason, want) in [
            ("authentication failed", TokenRejected),
            ("Authentication Failed: bad sig", TokenRejected),
            ("invalid token", TokenRejected),
            ("token expired", TokenRejected),
            ("expired token", TokenRejected),
            ("UNAUTHORIZED", TokenRejected),
            ("remote auth service unavailable", AuthUnavailable),
            ("auth service unavailable", AuthUnavailable),
            ("Service Unavailable", AuthUnavailable),
            ("temporarily unavailable", AuthUnavailable),
            ("nonce mismatch", Protocol),
            ("invalid connect event", Protocol),
            ("invalid connect payload", Protocol),
            ("", Protocol),
            ("something new", Protocol),
        ] {
            assert_eq!(HandshakeFailure::classify(reason), want, "{reason}");
        }
    }
}
