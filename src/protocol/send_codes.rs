//! `message.error` codes: which end the send, which also close the chat, and which leave
//! the send queued for a later connection (PROTOCOL.md §3 "Send failures and dead chats"
//! and §4 "Acks").

/// The chat does not exist (ends the send, closes the chat).
pub const CHAT_NOT_FOUND: &str = "chat_not_found";
/// The sender is not a member of the chat (ends the send, closes the chat).
pub const NOT_MEMBER: &str = "not_member";
/// The frame was malformed (ends the send).
pub const BAD_REQUEST: &str = "bad_request";
/// The connection lacks a capability the send needs (ends the send).
pub const CAPABILITY_MISSING: &str = "capability_missing";
/// The protocol version is not served (ends the send).
pub const UNSUPPORTED_VERSION: &str = "unsupported_version";
/// The message is over the server's size limit (ends the send).
pub const MESSAGE_TOO_LARGE: &str = "message_too_large";
/// The message id is over the server's length limit (ends the send).
pub const MESSAGE_ID_TOO_LONG: &str = "message_id_too_long";

/// **Ours** (the emulator's spelling of [`NOT_MEMBER`]): ends the send, closes the chat.
pub const NOT_A_MEMBER: &str = "not_a_member";
/// **Ours**: the chat was dissolved (ends the send, closes the chat).
pub const CHAT_DISSOLVED: &str = "chat_dissolved";
/// **Ours**: the frame or payload was invalid (ends the send).
pub const INVALID_PAYLOAD: &str = "invalid_payload";
/// **Ours**: the server failed to store the message; the send stays queued and goes
/// again on the next connection.
pub const INTERNAL: &str = "internal";

/// True when the code is terminal for the chat: after it, nothing more may be sent to
/// that chat (and the send itself ends too).
pub fn is_terminal(code: &str) -> bool {
    matches!(
        code,
        CHAT_NOT_FOUND | NOT_MEMBER | NOT_A_MEMBER | CHAT_DISSOLVED
    )
}

/// True when the send should stay queued and go again on the next connection. Every
/// other code, known or not, ends the send: an unknown rejection is never retried
/// forever.
pub fn is_retryable(code: &str) -> bool {
    code == INTERNAL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_ends_the_send_and_only_chat_level_ones_close_the_chat() {
        for code in [
            CHAT_NOT_FOUND,
            NOT_MEMBER,
            BAD_REQUEST,
            CAPABILITY_MISSING,
            UNSUPPORTED_VERSION,
            MESSAGE_TOO_LARGE,
            MESSAGE_ID_TOO_LONG,
            NOT_A_MEMBER,
            CHAT_DISSOLVED,
            INVALID_PAYLOAD,
            "something_new",
        ] {
            assert!(!is_retryable(code), "{code}");
        }
        for code in [CHAT_NOT_FOUND, NOT_MEMBER, NOT_A_MEMBER, CHAT_DISSOLVED] {
            assert!(is_terminal(code), "{code}");
        }
        for code in [
            BAD_REQUEST,
            CAPABILITY_MISSING,
            UNSUPPORTED_VERSION,
            MESSAGE_TOO_LARGE,
            MESSAGE_ID_TOO_LONG,
            INVALID_PAYLOAD,
            INTERNAL,
            "",
        ] {
            assert!(!is_terminal(code), "{code}");
        }
        assert!(is_retryable(INTERNAL));
    }
}
