//! `message.error` codes and which of them close a chat for sending (PROTOCOL.md §3
//! "Send failures and dead chats"). The names are **ours**, shared with the emulator.

/// The chat does not exist (terminal).
pub const CHAT_NOT_FOUND: &str = "chat_not_found";
/// The sender is not a member of the chat (terminal).
pub const NOT_A_MEMBER: &str = "not_a_member";
/// The chat was dissolved (terminal).
pub const CHAT_DISSOLVED: &str = "chat_dissolved";
/// The frame or payload was invalid (this message only).
pub const INVALID_PAYLOAD: &str = "invalid_payload";
/// The server failed to store the message (retry later).
pub const INTERNAL: &str = "internal";

/// True when, after this code, nothing more may be sent to that chat.
pub fn is_terminal(code: &str) -> bool {
    matches!(code, CHAT_NOT_FOUND | NOT_A_MEMBER | CHAT_DISSOLVED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chat_level_codes_are_terminal() {
        assert!(
            is_terminal(CHAT_NOT_FOUND) && is_terminal(NOT_A_MEMBER) && is_terminal(CHAT_DISSOLVED)
        );
        assert!(!is_terminal(INVALID_PAYLOAD) && !is_terminal(INTERNAL) && !is_terminal("unknown"));
    }
}
