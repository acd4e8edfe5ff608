//! Payloads of the v2 events (PROTOCOL.md §3).

use std::fmt;

use super::fragment::Fragment;
use crate::json::{self, FromJson, JsonError, Kind, RawJson, Reader, ToJson, Writer};

/// `connect.challenge`: the server's nonce, to be echoed in `connect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    /// Fresh per socket.
    pub nonce: String,
}

/// Feature flags a client announces in `connect`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capabilities {
    /// The client understands several devices per user.
    pub multi_device: bool,
    /// The client wants missed envelopes replayed after `hello-ok`.
    pub device_replay: bool,
    /// Chat metadata events are understood.
    pub chat_meta_events: bool,
    /// Notification signals are understood.
    pub notify_signals: bool,
    /// Permission events are understood.
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
#[derive(Clone, PartialEq)]
pub struct Connect {
    /// The access token (a JWT).
    pub token: String,
    /// The nonce from `connect.challenge`.
    pub nonce: String,
    /// The device this socket speaks for.
    pub device_id: Option<String>,
    /// Announced features.
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
#[derive(Debug, Clone, PartialEq)]
pub struct HelloOk {
    /// The device id the server bound this socket to.
    pub device_id: String,
    /// Always `device_replay` in v2.
    pub delivery_mode: String,
}

/// `hello-fail`: the handshake was refused; the server closes after it.
#[derive(Debug, Clone, PartialEq)]
pub struct HelloFail {
    /// Why, in words; see [`super::HandshakeFailure::classify`].
    pub reason: String,
}

/// A mention recorded in a message's context (kept as received): a user id, or an object
/// with `user_id`.
pub type MentionEntry = RawJson;

/// The preview of the message being replied to.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyPreview {
    /// The replied-to message's id.
    pub id: String,
    /// Its sender's display name (default empty).
    pub nick_name: String,
    /// Its (trimmed) fragments (default none).
    pub fragments: Vec<Fragment>,
}

/// `context.reply` of a `message.reply`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyContext {
    /// The replied-to message's id.
    pub reply_to_msg_id: String,
    /// What to show of it.
    pub reply_preview: ReplyPreview,
}

/// Mentions and reply context of a message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageContext {
    /// Mentioned users.
    pub mentions: Vec<MentionEntry>,
    /// Set on replies.
    pub reply: Option<ReplyContext>,
}

/// The body of a message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageBody {
    /// The fragments, in order.
    pub fragments: Vec<Fragment>,
}

/// A message: its body and context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageContent {
    /// What the message says.
    pub body: MessageBody,
    /// Mentions and reply.
    pub context: MessageContext,
}

/// Streaming state attached to a message or stream event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamingInfo {
    /// e.g. `streaming`, `done`, `failed`.
    pub status: String,
    /// The latest sequence number.
    pub sequence: u64,
    /// e.g. `append`.
    pub mutation_policy: Option<String>,
    /// When the stream started (ms).
    pub started_at: Option<i64>,
    /// When the stream ended (ms).
    pub completed_at: Option<i64>,
}

/// `message.send` / `message.reply` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePayload {
    /// `msg-<ULID>`, minted by the sending client.
    pub message_id: String,
    /// "" or "normal" for user messages.
    pub message_mode: String,
    /// The content.
    pub message: MessageContent,
    /// Present on downlinks of streamed messages.
    pub streaming: Option<StreamingInfo>,
}

impl MessagePayload {
    /// True for user messages (`message_mode` "" or "normal").
    pub fn is_normal_mode(&self) -> bool {
        self.message_mode.is_empty() || self.message_mode == "normal"
    }
}

/// How a streaming `add` changes the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Always `append` today.
    pub kind: String,
    /// The fragment being appended to.
    pub target_fragment_index: u64,
}

/// `message.created/add/done/failed` payload (flat).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPayload {
    /// The streamed message's id.
    pub message_id: String,
    /// Monotonic per message.
    pub sequence: u64,
    /// Mode of the streamed message.
    pub message_mode: Option<String>,
    /// On `add`: which fragment grows.
    pub mutation: Option<Mutation>,
    /// Fragments (on `add`, text is cumulative).
    pub fragments: Vec<Fragment>,
    /// Stream state.
    pub streaming: Option<StreamingInfo>,
}

/// `message.ack`: the server accepted the send with this id.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    /// Must equal the id the client sent.
    pub message_id: String,
    /// Server time of acceptance (ms).
    pub accepted_at: i64,
}

/// `message.error`: a send was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct SendFailure {
    /// Machine-readable code (a string on the wire; numbers are accepted).
    pub code: String,
    /// Human hint.
    pub reason: Option<String>,
    /// Legacy name of `reason`.
    pub message: Option<String>,
    /// The refused message, when the server says.
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

/// `typing.update`.
#[derive(Debug, Clone, PartialEq)]
pub struct Typing {
    /// Whether the sender is typing now.
    pub is_typing: bool,
}

/// A field serde read with `#[serde(default)]`: absent is the default, and so is `null`
/// (which serde refused, losing the whole frame for one empty field).
pub(crate) fn or_default<'a, T: FromJson<'a> + Default>(
    r: &mut Reader<'a>,
) -> Result<T, JsonError> {
    Ok(r.read::<Option<T>>()?.unwrap_or_default())
}

impl FromJson<'_> for Challenge {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut nonce = None;
        r.object(|r, key| match key {
            "nonce" => r.read().map(|v| nonce = v),
            _ => r.skip(),
        })?;
        Ok(Challenge {
            nonce: json::required(nonce, "nonce")?,
        })
    }
}

impl ToJson for Challenge {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("nonce", &self.nonce);
        o.end();
    }
}

impl FromJson<'_> for Capabilities {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = Capabilities::default();
        r.object(|r, key| {
            let flag = match key {
                "multi_device" => &mut out.multi_device,
                "device_replay" => &mut out.device_replay,
                "chat_meta_events" => &mut out.chat_meta_events,
                "notify_signals" => &mut out.notify_signals,
                "permission_events" => &mut out.permission_events,
                _ => return r.skip(),
            };
            *flag = or_default(r)?;
            Ok(())
        })?;
        Ok(out)
    }
}

impl ToJson for Capabilities {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("multi_device", &self.multi_device)
            .field("device_replay", &self.device_replay)
            .field("chat_meta_events", &self.chat_meta_events)
            .field("notify_signals", &self.notify_signals)
            .field("permission_events", &self.permission_events);
        o.end();
    }
}

impl FromJson<'_> for Connect {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut token, mut nonce, mut device_id, mut capabilities) = (None, None, None, None);
        r.object(|r, key| {
            match key {
                "token" => token = r.read()?,
                "nonce" => nonce = r.read()?,
                "device_id" => device_id = r.read()?,
                "capabilities" => capabilities = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(Connect {
            token: json::required(token, "token")?,
            nonce: json::required(nonce, "nonce")?,
            device_id,
            capabilities,
        })
    }
}

impl ToJson for Connect {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("token", &self.token)
            .field("nonce", &self.nonce)
            .field_some("device_id", &self.device_id)
            .field_some("capabilities", &self.capabilities);
        o.end();
    }
}

impl FromJson<'_> for HelloOk {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = HelloOk {
            device_id: String::new(),
            delivery_mode: String::new(),
        };
        r.object(|r, key| {
            match key {
                "device_id" => out.device_id = or_default(r)?,
                "delivery_mode" => out.delivery_mode = or_default(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(out)
    }
}

impl ToJson for HelloOk {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("device_id", &self.device_id)
            .field("delivery_mode", &self.delivery_mode);
        o.end();
    }
}

impl FromJson<'_> for HelloFail {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut reason = String::new();
        r.object(|r, key| match key {
            "reason" => or_default(r).map(|v| reason = v),
            _ => r.skip(),
        })?;
        Ok(HelloFail { reason })
    }
}

impl ToJson for HelloFail {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("reason", &self.reason);
        o.end();
    }
}

impl FromJson<'_> for ReplyPreview {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut id, mut nick_name, mut fragments) = (None, String::new(), Vec::new());
        r.object(|r, key| {
            match key {
                "id" => id = r.read()?,
                "nick_name" => nick_name = or_default(r)?,
                "fragments" => fragments = or_default(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(ReplyPreview {
            id: json::required(id, "id")?,
            nick_name,
            fragments,
        })
    }
}

impl ToJson for ReplyPreview {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("id", &self.id)
            .field("nick_name", &self.nick_name)
            .field("fragments", &self.fragments);
        o.end();
    }
}

impl FromJson<'_> for ReplyContext {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut reply_to_msg_id, mut reply_preview) = (None, None);
        r.object(|r, key| {
            match key {
                "reply_to_msg_id" => reply_to_msg_id = r.read()?,
                "reply_preview" => reply_preview = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(ReplyContext {
            reply_to_msg_id: json::required(reply_to_msg_id, "reply_to_msg_id")?,
            reply_preview: json::required(reply_preview, "reply_preview")?,
        })
    }
}

impl ToJson for ReplyContext {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("reply_to_msg_id", &self.reply_to_msg_id)
            .field("reply_preview", &self.reply_preview);
        o.end();
    }
}

impl FromJson<'_> for MessageContext {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = MessageContext::default();
        r.object(|r, key| {
            match key {
                "mentions" => out.mentions = or_default(r)?,
                "reply" => out.reply = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(out)
    }
}

impl ToJson for MessageContext {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("mentions", &self.mentions)
            .field("reply", &self.reply);
        o.end();
    }
}

impl FromJson<'_> for MessageBody {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = MessageBody::default();
        r.object(|r, key| match key {
            "fragments" => or_default(r).map(|v| out.fragments = v),
            _ => r.skip(),
        })?;
        Ok(out)
    }
}

impl ToJson for MessageBody {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("fragments", &self.fragments);
        o.end();
    }
}

impl FromJson<'_> for MessageContent {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = MessageContent::default();
        r.object(|r, key| {
            match key {
                "body" => out.body = or_default(r)?,
                "context" => out.context = or_default(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(out)
    }
}

impl ToJson for MessageContent {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("body", &self.body).field("context", &self.context);
        o.end();
    }
}

impl FromJson<'_> for StreamingInfo {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = StreamingInfo::default();
        r.object(|r, key| {
            match key {
                "status" => out.status = or_default(r)?,
                "sequence" => out.sequence = or_default(r)?,
                "mutation_policy" => out.mutation_policy = r.read()?,
                "started_at" => out.started_at = r.read()?,
                "completed_at" => out.completed_at = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(out)
    }
}

impl ToJson for StreamingInfo {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("status", &self.status)
            .field("sequence", &self.sequence)
            .field_some("mutation_policy", &self.mutation_policy)
            .field_some("started_at", &self.started_at)
            .field_some("completed_at", &self.completed_at);
        o.end();
    }
}

impl FromJson<'_> for MessagePayload {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut message_id = None;
        let mut message_mode = String::new();
        let mut message = MessageContent::default();
        let mut streaming = None;
        r.object(|r, key| {
            match key {
                "message_id" => message_id = r.read()?,
                "message_mode" => message_mode = or_default(r)?,
                "message" => message = or_default(r)?,
                "streaming" => streaming = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(MessagePayload {
            message_id: json::required(message_id, "message_id")?,
            message_mode,
            message,
            streaming,
        })
    }
}

impl ToJson for MessagePayload {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("message_id", &self.message_id)
            .field("message_mode", &self.message_mode)
            .field("message", &self.message)
            .field_some("streaming", &self.streaming);
        o.end();
    }
}

impl FromJson<'_> for Mutation {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut out = Mutation {
            kind: String::new(),
            target_fragment_index: 0,
        };
        r.object(|r, key| {
            match key {
                "type" => out.kind = or_default(r)?,
                "target_fragment_index" => out.target_fragment_index = or_default(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(out)
    }
}

impl ToJson for Mutation {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("type", &self.kind)
            .field("target_fragment_index", &self.target_fragment_index);
        o.end();
    }
}

impl FromJson<'_> for StreamPayload {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut message_id = None;
        let mut out = StreamPayload {
            message_id: String::new(),
            sequence: 0,
            message_mode: None,
            mutation: None,
            fragments: Vec::new(),
            streaming: None,
        };
        r.object(|r, key| {
            match key {
                "message_id" => message_id = r.read()?,
                "sequence" => out.sequence = or_default(r)?,
                "message_mode" => out.message_mode = r.read()?,
                "mutation" => out.mutation = r.read()?,
                "fragments" => out.fragments = or_default(r)?,
                "streaming" => out.streaming = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        out.message_id = json::required(message_id, "message_id")?;
        Ok(out)
    }
}

impl ToJson for StreamPayload {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("message_id", &self.message_id)
            .field("sequence", &self.sequence)
            .field_some("message_mode", &self.message_mode)
            .field_some("mutation", &self.mutation)
            .field("fragments", &self.fragments)
            .field_some("streaming", &self.streaming);
        o.end();
    }
}

impl FromJson<'_> for Ack {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut message_id, mut accepted_at) = (None, 0);
        r.object(|r, key| {
            match key {
                "message_id" => message_id = r.read()?,
                "accepted_at" => accepted_at = or_default(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(Ack {
            message_id: json::required(message_id, "message_id")?,
            accepted_at,
        })
    }
}

impl ToJson for Ack {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("message_id", &self.message_id)
            .field("accepted_at", &self.accepted_at);
        o.end();
    }
}

/// A `code`: a string, or a number in serde_json's spelling of it (`42`, `4.5`).
fn string_or_number(r: &mut Reader<'_>) -> Result<String, JsonError> {
    match r.peek()? {
        Kind::String => r.read(),
        Kind::Number => {
            let at = r.offset();
            let text = r.number_text()?;
            let number: serde_json::Number = text.parse().map_err(|_| JsonError::Number { at })?;
            Ok(number.to_string())
        }
        _ => Err(r.type_error("a string or number code")),
    }
}

impl FromJson<'_> for SendFailure {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut code = None;
        let (mut reason, mut message, mut message_id) = (None, None, None);
        r.object(|r, key| {
            match key {
                "code" => code = Some(string_or_number(r)?),
                "reason" => reason = r.read()?,
                "message" => message = r.read()?,
                "message_id" => message_id = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(SendFailure {
            code: json::required(code, "code")?,
            reason,
            message,
            message_id,
        })
    }
}

impl ToJson for SendFailure {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("code", &self.code)
            .field_some("reason", &self.reason)
            .field_some("message", &self.message)
            .field_some("message_id", &self.message_id);
        o.end();
    }
}

impl FromJson<'_> for Typing {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut is_typing = None;
        r.object(|r, key| match key {
            "is_typing" => r.read().map(|v| is_typing = Some(v)),
            _ => r.skip(),
        })?;
        Ok(Typing {
            is_typing: json::required(is_typing, "is_typing")?,
        })
    }
}

impl ToJson for Typing {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("is_typing", &self.is_typing);
        o.end();
    }
}
