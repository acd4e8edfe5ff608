//! The v2 frame: common envelope fields plus one typed event.

use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_json::Value;

use super::bounds;
use super::error::{safe_detail, ProtocolError};
use super::payload::{
    Ack, Challenge, Connect, HelloFail, HelloOk, MessagePayload, SendFailure, StreamPayload, Typing,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: &str = "2";

/// The largest frame [`decode`] accepts, in bytes (**ours**).
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// `chat_type` of a downlink, stamped by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatType {
    /// One-to-one.
    Direct,
    /// Many members.
    Group,
}

/// `to`: the UI context of a business event (not used for routing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Target id.
    pub id: String,
    /// Target type.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// `sender` of a downlink, stamped by the server from the authenticated identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sender {
    /// The sender's user id.
    pub id: String,
    /// Always "direct" (a routing type, not human vs agent).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Display name.
    #[serde(default)]
    pub nick_name: String,
}

/// Which phase of a stream a streaming event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamPhase {
    /// `message.created`
    Created,
    /// `message.add`
    Add,
    /// `message.done`
    Done,
    /// `message.failed`
    Failed,
}

/// A v2 event with its typed payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `connect.challenge`
    Challenge(Challenge),
    /// `connect`
    Connect(Connect),
    /// `hello-ok`
    HelloOk(HelloOk),
    /// `hello-fail`
    HelloFail(HelloFail),
    /// `message.send`
    Send(MessagePayload),
    /// `message.reply`
    Reply(MessagePayload),
    /// `message.ack`
    Ack(Ack),
    /// `message.error`
    SendError(SendFailure),
    /// `message.created/add/done/failed`
    Stream(StreamPhase, StreamPayload),
    /// `typing.update`
    Typing(Typing),
    /// `ping` (payload echoed by `pong`)
    Ping(Value),
    /// `pong`
    Pong(Value),
    /// `replay.done`: the replay of missed envelopes after `hello-ok` is over; what
    /// follows is live (payload kept as received).
    ReplayDone(Value),
    /// `offline.batch/ack/done`: legacy, ignored.
    LegacyOffline(String),
    /// Any other event, kept as received.
    Unknown {
        /// The event name.
        name: String,
        /// The raw payload.
        payload: Value,
    },
}

impl Event {
    /// The wire name of this event.
    pub fn name(&self) -> &str {
        match self {
            Event::Challenge(_) => "connect.challenge",
            Event::Connect(_) => "connect",
            Event::HelloOk(_) => "hello-ok",
            Event::HelloFail(_) => "hello-fail",
            Event::Send(_) => "message.send",
            Event::Reply(_) => "message.reply",
            Event::Ack(_) => "message.ack",
            Event::SendError(_) => "message.error",
            Event::Stream(StreamPhase::Created, _) => "message.created",
            Event::Stream(StreamPhase::Add, _) => "message.add",
            Event::Stream(StreamPhase::Done, _) => "message.done",
            Event::Stream(StreamPhase::Failed, _) => "message.failed",
            Event::Typing(_) => "typing.update",
            Event::Ping(_) => "ping",
            Event::Pong(_) => "pong",
            Event::ReplayDone(_) => "replay.done",
            Event::LegacyOffline(name) | Event::Unknown { name, .. } => name,
        }
    }

    /// True for events the server acknowledges with `message.ack`.
    pub fn is_ackable(&self) -> bool {
        matches!(self, Event::Send(_) | Event::Reply(_))
    }

    fn from_parts(name: &str, payload: &str) -> Result<Event, ProtocolError> {
        // One function per payload type, not all inlined into one: the browser compiles
        // each on its first call, so start-up compiles only the handshake's.
        #[inline(never)]
        fn typed<T: serde::de::DeserializeOwned>(
            name: &str,
            payload: &str,
        ) -> Result<T, ProtocolError> {
            // Absent and `null` payloads read as `{}`, so defaults apply.
            let payload = if payload == "null" { "{}" } else { payload };
            serde_json::from_str(payload).map_err(|err| ProtocolError::InvalidPayload {
                event: name.to_owned(),
                detail: safe_detail(&err),
            })
        }
        let stream = |phase, payload| Ok(Event::Stream(phase, typed(name, payload)?));
        match name {
            "connect.challenge" => Ok(Event::Challenge(typed(name, payload)?)),
            "connect" => Ok(Event::Connect(typed(name, payload)?)),
            "hello-ok" => Ok(Event::HelloOk(typed(name, payload)?)),
            "hello-fail" => Ok(Event::HelloFail(typed(name, payload)?)),
            "message.send" => Ok(Event::Send(typed(name, payload)?)),
            "message.reply" => Ok(Event::Reply(typed(name, payload)?)),
            "message.ack" => Ok(Event::Ack(typed(name, payload)?)),
            "message.error" => Ok(Event::SendError(typed(name, payload)?)),
            "message.created" => stream(StreamPhase::Created, payload),
            "message.add" => stream(StreamPhase::Add, payload),
            "message.done" => stream(StreamPhase::Done, payload),
            "message.failed" => stream(StreamPhase::Failed, payload),
            "typing.update" => Ok(Event::Typing(typed(name, payload)?)),
            "ping" => Ok(Event::Ping(typed(name, payload)?)),
            "pong" => Ok(Event::Pong(typed(name, payload)?)),
            "replay.done" => Ok(Event::ReplayDone(typed(name, payload)?)),
            "offline.batch" | "offline.ack" | "offline.done" => {
                Ok(Event::LegacyOffline(name.to_owned()))
            }
            _ => Ok(Event::Unknown {
                name: name.to_owned(),
                payload: typed(name, payload)?,
            }),
        }
    }
}

/// One WebSocket frame of protocol v2.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Client-chosen on uplinks, echoed on the matching response.
    pub trace_id: String,
    /// When the frame was emitted (ms since the epoch).
    pub emitted_at: i64,
    /// Routing key of business events.
    pub chat_id: Option<String>,
    /// UI context.
    pub to: Option<Target>,
    /// Stamped by the server on downlinks.
    pub chat_type: Option<ChatType>,
    /// Stamped by the server on downlinks.
    pub sender: Option<Sender>,
    /// The event and its payload.
    pub event: Event,
}

impl Frame {
    /// A frame with no routing fields.
    pub fn new(event: Event, trace_id: impl Into<String>, emitted_at: i64) -> Self {
        Frame {
            trace_id: trace_id.into(),
            emitted_at,
            chat_id: None,
            to: None,
            chat_type: None,
            sender: None,
            event,
        }
    }

    /// The same frame addressed to a chat.
    pub fn in_chat(mut self, chat_id: impl Into<String>) -> Self {
        self.chat_id = Some(chat_id.into());
        self
    }

    /// Encodes a client → server frame: `chat_type` and `sender` are omitted.
    pub fn encode_uplink(&self) -> String {
        self.encode(false)
    }

    /// Encodes a server → client frame, with `chat_type` and `sender` when set.
    pub fn encode_downlink(&self) -> String {
        self.encode(true)
    }

    fn encode(&self, downlink: bool) -> String {
        match &self.event {
            Event::Challenge(p) => self.encode_with(p, downlink),
            Event::Connect(p) => self.encode_with(p, downlink),
            Event::HelloOk(p) => self.encode_with(p, downlink),
            Event::HelloFail(p) => self.encode_with(p, downlink),
            Event::Send(p) | Event::Reply(p) => self.encode_with(p, downlink),
            Event::Ack(p) => self.encode_with(p, downlink),
            Event::SendError(p) => self.encode_with(p, downlink),
            Event::Stream(_, p) => self.encode_with(p, downlink),
            Event::Typing(p) => self.encode_with(p, downlink),
            Event::Ping(v)
            | Event::Pong(v)
            | Event::ReplayDone(v)
            | Event::Unknown { payload: v, .. } => self.encode_with(v, downlink),
            Event::LegacyOffline(_) => self.encode_with(&Empty {}, downlink),
        }
    }

    /// Written straight from the typed payload: no `Value` tree, no copies. One function
    /// per payload type (see `Event::from_parts`).
    #[inline(never)]
    fn encode_with<P: Serialize>(&self, payload: &P, downlink: bool) -> String {
        let wire = WireFrame {
            version: PROTOCOL_VERSION,
            event: self.event.name(),
            trace_id: &self.trace_id,
            emitted_at: self.emitted_at,
            chat_id: self.chat_id.as_deref(),
            to: self.to.as_ref(),
            chat_type: self.chat_type.filter(|_| downlink),
            sender: self.sender.as_ref().filter(|_| downlink),
            payload,
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// The frame as it is on the wire, for encoding.
#[derive(Serialize)]
struct WireFrame<'a, P> {
    version: &'a str,
    event: &'a str,
    trace_id: &'a str,
    emitted_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat_type: Option<ChatType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<&'a Sender>,
    payload: &'a P,
}

/// The `{}` payload of the legacy offline events.
#[derive(Serialize)]
struct Empty {}

/// The frame as decoded: the envelope typed, the payload still raw text, typed next
/// straight from that text by its event (no intermediate [`Value`]).
#[derive(Deserialize)]
struct IncomingFrame<'a> {
    #[serde(default)]
    version: String,
    event: String,
    #[serde(default)]
    trace_id: String,
    #[serde(default)]
    emitted_at: i64,
    #[serde(default)]
    chat_id: Option<String>,
    #[serde(default)]
    to: Option<Target>,
    #[serde(default)]
    chat_type: Option<ChatType>,
    #[serde(default)]
    sender: Option<Sender>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// The JSON type a document starts with, for errors that never echo the value.
fn leading_type(text: &str) -> &'static str {
    match text.trim_start().chars().next() {
        Some('{') => "object",
        Some('[') => "array",
        Some('"') => "string",
        Some('t' | 'f') => "boolean",
        Some('n') => "null",
        _ => "number",
    }
}

/// Decodes one text frame and checks its [`bounds`]. Never panics; every failure is a
/// [`ProtocolError`].
pub fn decode(text: &str) -> Result<Frame, ProtocolError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::TooLarge { bytes: text.len() });
    }
    let wire: IncomingFrame = serde_json::from_str(text).map_err(|err| {
        let detail = safe_detail(&err);
        match err.classify() {
            Category::Data if leading_type(text) != "object" => ProtocolError::NotAnObject {
                found: leading_type(text),
            },
            Category::Data => ProtocolError::InvalidEnvelope { detail },
            _ => ProtocolError::NotJson { detail },
        }
    })?;
    if !wire.version.is_empty() && wire.version != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion);
    }
    let payload = wire.payload.map_or("null", RawValue::get);
    let event = Event::from_parts(&wire.event, payload)?;
    let frame = Frame {
        trace_id: wire.trace_id,
        emitted_at: wire.emitted_at,
        chat_id: wire.chat_id,
        to: wire.to,
        chat_type: wire.chat_type,
        sender: wire.sender,
        event,
    };
    bounds::frame(&frame)?;
    Ok(frame)
}
