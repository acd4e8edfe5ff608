//! Payloads of the v2 events (PROTOCOL.md §3).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::fmt;

use super::fragment::Fragment;

/// `connect.challenge`: the server's nonce, to be echoed in `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// Fresh per socket.
    pub nonce: String,
}

/// Feature flags a client announces in `connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The client understands several devices per user.
    #[serde(default)]
    pub multi_device: bool,
    /// The client wants missed envelopes replayed after `hello-ok`.
    #[serde(default)]
    pub device_replay: bool,
    /// Chat metadata events are understood.
    #[serde(default)]
    pub chat_meta_events: bool,
    /// Notification signals are understood.
    #[serde(default)]
    pub notify_signals: bool,
    /// Permission events are understood.
    #[serde(default)]
    pub permission_events: bool,
}

impl Capabilities {
    /// What this client supports.
    pub fn client_default() -> Self {
        Capabilities {
            multi_device: true,
            device_replay: true,
            chat_meta_events: false,
            notify_signals: false,
            permission_events: false,
        }
    }
}

/// `connect`: the client's credentials for this socket. `Debug` never shows the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Connect {
    /// The access token (a JWT).
    pub token: String,
    /// The nonce from `connect.challenge`.
    pub nonce: String,
    /// The device this socket speaks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Announced features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("token", &"<redacted>")
            .field("nonce", &self.nonce)
            .field("device_id", &self.device_id)
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

/// `hello-ok`: the handshake succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloOk {
    /// The device id the server bound this socket to.
    #[serde(default)]
    pub device_id: String,
    /// Always `device_replay` in v2.
    #[serde(default)]
    pub delivery_mode: String,
}

/// `hello-fail`: the handshake was refused; the server closes after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloFail {
    /// Why, in words; see [`super::HandshakeFailure::classify`].
    #[serde(default)]
    pub reason: String,
}

/// A mention recorded in a message's context (kept as received).
pub type MentionEntry = Value;

/// The preview of the message being replied to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyPreview {
    /// The replied-to message's id.
    pub id: String,
    /// Its sender's display name.
    #[serde(default)]
    pub nick_name: String,
    /// Its (trimmed) fragments.
    #[serde(default)]
    pub fragments: Vec<Fragment>,
}

/// `context.reply` of a `message.reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyContext {
    /// The replied-to message's id.
    pub reply_to_msg_id: String,
    /// What to show of it.
    pub reply_preview: ReplyPreview,
}

/// Mentions and reply context of a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    /// Mentioned users.
    #[serde(default)]
    pub mentions: Vec<MentionEntry>,
    /// Set on replies.
    #[serde(default)]
    pub reply: Option<ReplyContext>,
}

/// The body of a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// The fragments, in order.
    #[serde(default)]
    pub fragments: Vec<Fragment>,
}

/// A message: its body and context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageContent {
    /// What the message says.
    #[serde(default)]
    pub body: MessageBody,
    /// Mentions and reply.
    #[serde(default)]
    pub context: MessageContext,
}

/// Streaming state attached to a message or stream event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamingInfo {
    /// e.g. `streaming`, `done`, `failed`.
    #[serde(default)]
    pub status: String,
    /// The latest sequence number.
    #[serde(default)]
    pub sequence: u64,
    /// e.g. `append`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_policy: Option<String>,
    /// When the stream started (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When the stream ended (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
}

/// `message.send` / `message.reply` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePayload {
    /// `msg-<ULID>`, minted by the sending client.
    pub message_id: String,
    /// "" or "normal" for user messages.
    #[serde(default)]
    pub message_mode: String,
    /// The content.
    #[serde(default)]
    pub message: MessageContent,
    /// Present on downlinks of streamed messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingInfo>,
}

impl MessagePayload {
    /// True for user messages (`message_mode` "" or "normal").
    pub fn is_normal_mode(&self) -> bool {
        self.message_mode.is_empty() || self.message_mode == "normal"
    }
}

/// How a streaming `add` changes the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    /// Always `append` today.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The fragment being appended to.
    #[serde(default)]
    pub target_fragment_index: u64,
}

/// `message.created/add/done/failed` payload (flat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamPayload {
    /// The streamed message's id.
    pub message_id: String,
    /// Monotonic per message.
    #[serde(default)]
    pub sequence: u64,
    /// Mode of the streamed message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_mode: Option<String>,
    /// On `add`: which fragment grows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<Mutation>,
    /// Fragments (on `add`, text is cumulative).
    #[serde(default)]
    pub fragments: Vec<Fragment>,
    /// Stream state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingInfo>,
}

/// `message.ack`: the server accepted the send with this id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// Must equal the id the client sent.
    pub message_id: String,
    /// Server time of acceptance (ms).
    #[serde(default)]
    pub accepted_at: i64,
}

/// `message.error`: a send was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendFailure {
    /// Machine-readable code (a string on the wire; numbers are accepted).
    #[serde(deserialize_with = "string_or_number")]
    pub code: String,
    /// Human hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Legacy name of `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The refused message, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

impl SendFailure {
    /// `reason`, else the legacy `message`, else a generic hint.
    pub fn hint(&self) -> &str {
        [&self.reason, &self.message]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|s| !s.is_empty())
            .unwrap_or("message send failed")
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number code, got {}",
            json_type(&other)
        ))),
    }
}

/// The JSON type name of a value, for error messages that never echo the value.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `typing.update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    /// Whether the sender is typing now.
    pub is_typing: bool,
}
