//! The ClawChat WebSocket protocol v2 (PROTOCOL.md §3): wire types, encode and decode.
//!
//! Pure Rust: no I/O, no browser APIs; compiles for wasm32 and the host alike.

mod error;
mod fragment;
mod frame;
mod handshake;
pub mod ids;
mod payload;
pub mod send_codes;

pub(crate) use error::safe_detail;
pub use error::ProtocolError;
pub use fragment::{Fragment, Media, MediaKind};
pub use frame::{
    decode, ChatType, Event, Frame, Sender, StreamPhase, Target, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
pub use handshake::{HandshakeFailure, CLOSE_SESSION_TAKEN_OVER};
pub use payload::{
    Ack, Capabilities, Challenge, Connect, HelloFail, HelloOk, MentionEntry, MessageBody,
    MessageContent, MessageContext, MessagePayload, Mutation, ReplyContext, ReplyPreview,
    SendFailure, StreamPayload, StreamingInfo, Typing,
};
