//! The ClawChat WebSocket protocol v2 (PROTOCOL.md §3): wire types, encode and decode.
//!
//! Pure Rust: no I/O, no browser APIs; compiles for wasm32 and the host alike.

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

pub mod bounds;
mod error;
mod fragment;
mod frame;
mod handshake;
// INTERIM (helper `rows`): goes when helper `proto`'s codec impls are merged.
pub mod ids;
mod media_url;
mod payload;
pub mod send_codes;

pub use error::{redact_quoted, ProtocolError};
pub use fragment::{Fragment, Media, MediaKind};
pub use frame::{
    decode, ChatType, Event, Frame, Sender, StreamPhase, Target, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
pub use handshake::{HandshakeFailure, CLOSE_SESSION_TAKEN_OVER};
pub use media_url::is_safe_media_url;
pub use payload::{
    Ack, Capabilities, Challenge, Connect, HelloFail, HelloOk, MentionEntry, MessageBody,
    MessageContent, MessageContext, MessagePayload, Mutation, ReplyContext, ReplyPreview,
    SendFailure, StreamPayload, StreamingInfo, Typing,
};
