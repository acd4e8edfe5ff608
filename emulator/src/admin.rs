//! The admin API for tests: fault injection and counters. It listens on loopback only.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::faults::RefreshFault;
use crate::hub::Kick;
use crate::state::AppState;

type Shared = Arc<AppState>;

/// The admin routes, refusing any peer that is not on loopback.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/stats", get(stats))
        .route("/admin/faults/refresh", post(refresh_fault))
        .route("/admin/faults/handshake", post(handshake_fault))
        .route("/admin/faults/acks", post(ack_fault))
        .route("/admin/faults/duplicate-replay", post(duplicate_replay))
        .route("/admin/faults/clear", post(clear_faults))
        .route("/admin/drop-sockets", post(drop_sockets))
        .route("/admin/restart", post(restart))
        .route("/admin/inject", post(inject))
        .layer(middleware::from_fn(loopback_only))
}

async fn loopback_only(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if peer.ip().is_loopback() {
        next.run(request).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

fn done() -> Response {
    Json(json!({ "ok": true })).into_response()
}

async fn stats(State(state): State<Shared>) -> Response {
    Json(state.stats()).into_response()
}

#[derive(Deserialize)]
struct RefreshFaultRequest {
    kind: RefreshFault,
    #[serde(default = "one")]
    count: u32,
    #[serde(default = "default_hang_ms")]
    hang_ms: u64,
}

fn one() -> u32 {
    1
}

fn default_hang_ms() -> u64 {
    60_000
}

/// `{kind: "http500"|"code1"|"garbage"|"hang"|"slow", count?, hang_ms?}`
async fn refresh_fault(
    State(state): State<Shared>,
    Json(r): Json<RefreshFaultRequest>,
) -> Response {
    state.faults.arm_refresh(r.kind, r.count, r.hang_ms);
    done()
}

#[derive(Deserialize)]
struct HandshakeFaultRequest {
    #[serde(default = "unavailable")]
    reason: String,
    #[serde(default = "one")]
    count: u32,
}

fn unavailable() -> String {
    "auth service unavailable".into()
}

/// `{reason?: "auth service unavailable", count?}`: the next handshakes answer `hello-fail`.
async fn handshake_fault(
    State(state): State<Shared>,
    Json(r): Json<HandshakeFaultRequest>,
) -> Response {
    state.faults.arm_handshake(r.reason, r.count);
    done()
}

#[derive(Deserialize)]
struct AckFaultRequest {
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    withhold: u32,
    #[serde(default)]
    drop: u32,
}

/// `{delay_ms?, withhold?, drop?}`: delay every ack; withhold the next N; then, for the
/// next `drop` accepted sends (resends included), drop the socket instead of acking.
async fn ack_fault(State(state): State<Shared>, Json(r): Json<AckFaultRequest>) -> Response {
    state.faults.arm_acks(r.delay_ms, r.withhold, r.drop);
    done()
}

#[derive(Deserialize)]
struct CountRequest {
    #[serde(default = "one")]
    count: u32,
}

/// `{count?}`: the next N replayed envelopes are sent twice.
async fn duplicate_replay(State(state): State<Shared>, Json(r): Json<CountRequest>) -> Response {
    state.faults.arm_duplicate_replays(r.count);
    done()
}

async fn clear_faults(State(state): State<Shared>) -> Response {
    state.faults.clear();
    done()
}

/// Drops every socket without a close frame, like a network cut.
async fn drop_sockets(State(state): State<Shared>) -> Response {
    state.hub.kick_all(Kick::Dropped);
    done()
}

#[derive(Deserialize)]
struct InjectRequest {
    user_id: String,
    frame: String,
    #[serde(default = "one")]
    repeat: u32,
    #[serde(default)]
    pad_to_bytes: usize,
}

/// Largest frame `inject` builds (it pads with spaces): 128 MiB.
const MAX_INJECTED_BYTES: usize = 128 << 20;

/// `{user_id, frame, repeat?, pad_to_bytes?}`: writes `frame` as is to every live
/// socket of the user, as a hostile or broken server would — `repeat` times, with
/// `{n}` replaced by 0, 1, 2…, each padded with trailing spaces to `pad_to_bytes`.
async fn inject(State(state): State<Shared>, Json(r): Json<InjectRequest>) -> Response {
    let pad = r.pad_to_bytes.min(MAX_INJECTED_BYTES);
    for n in 0..r.repeat {
        let mut text = r.frame.replace("{n}", &n.to_string());
        if text.len() < pad {
            text.push_str(&" ".repeat(pad - text.len()));
        }
        state.hub.send_live(&r.user_id, &text);
    }
    done()
}

/// A restart-like wipe of in-memory state: sockets dropped, faults cleared; storage kept.
async fn restart(State(state): State<Shared>) -> Response {
    state.hub.kick_all(Kick::Dropped);
    state.faults.clear();
    done()
}
