//! # clawchat-wasm
//!
//! A ClawChat client for browsers and edge runtimes, built as a sans-IO core (pure state
//! machines and codecs that compile for any target) with a thin WebAssembly shell.
//!
//! - [`protocol`]: the WebSocket protocol v2 — frames, events, payloads, ids.
//! - [`api`]: the REST envelope, error kinds, refresh classification, requests.
//! - [`auth`]: access-token claims.
//!
//! The wire contract is `shared/PROTOCOL.md`; the layout is `shared/ARCHITECTURE.md`.

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod protocol;
pub mod session;

#[cfg(target_arch = "wasm32")]
mod js;
