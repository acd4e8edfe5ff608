//! # clawchat-wasm
//!
//! A ClawChat client for browsers and edge runtimes, built as a sans-IO core (pure state
//! machines and codecs that compile for any target) with a thin WebAssembly shell.
//!
//! - [`protocol`]: the WebSocket protocol v2 — frames, events, payloads, ids.
//! - [`api`]: the REST envelope, error kinds, refresh classification, requests.
//! - [`auth`]: access-token claims.
//! - [`json`]: the hand-written JSON codec (reader, writer, per-type impls).
//! - [`tabs`]: the tab coordinator (leader/follower, relayed sends) and its wire.
//! - [`session`]: the connection machine, outbox, inbound filter and stream assembly.
//! - `platform` and `js` (wasm32 only): the browser shell and the JavaScript API.
//!
//! The wire contract is `shared/PROTOCOL.md`; the layout is `shared/ARCHITECTURE.md`.

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod json;
pub mod protocol;
pub mod session;
pub mod small_map;
pub mod store;
pub mod tabs;

#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(target_arch = "wasm32")]
pub mod platform;

/// The heap in the browser: talc instead of Rust's default dlmalloc (2.9 KB less gzip,
/// the same speed in the benches; `docs/size.md`).
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
