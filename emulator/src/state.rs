//! The state shared by every handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use crate::config::Config;
use crate::db::Db;
use crate::faults::Faults;
use crate::grace::GraceWindow;
use crate::hub::{Hub, LiveSession};
use crate::jwt::{AccessClaims, Signer};
use crate::writer::Writer;

/// Counters the admin API reports, for tests to assert on.
#[derive(Debug, Default)]
pub struct Counters {
    /// Calls to `POST /v1/auth/refresh`, whatever their outcome.
    pub refresh_calls: AtomicU64,
    /// Handshakes answered with `hello-ok`.
    pub hello_ok: AtomicU64,
    /// Handshakes answered with `hello-fail`.
    pub hello_fail: AtomicU64,
    /// Sends accepted (resends included).
    pub sends_accepted: AtomicU64,
    /// Frames that failed to decode.
    pub bad_frames: AtomicU64,
    /// App-level `ping` frames answered (a client's liveness probes).
    pub pings: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the counters and live sessions.
#[derive(Debug, Serialize)]
pub struct Stats {
    refresh_calls: u64,
    hello_ok: u64,
    hello_fail: u64,
    sends_accepted: u64,
    bad_frames: u64,
    pings: u64,
    takeovers: u64,
    handovers: u64,
    live_sessions: Vec<LiveSession>,
}

/// Everything the handlers share.
pub struct AppState {
    /// Flags.
    pub config: Config,
    /// Storage.
    pub db: Arc<Db>,
    /// The group-commit writer of sent messages.
    pub writer: Writer,
    /// Token signer (its key is stored in the database, so tokens survive a restart).
    pub signer: Signer,
    /// Live sessions.
    pub hub: Arc<Hub>,
    /// Armed faults.
    pub faults: Faults,
    /// Counters.
    pub counters: Counters,
    /// Where uploads are stored.
    pub media_dir: std::path::PathBuf,
    /// Refresh tokens spent moments ago, redeemable again for a short while.
    pub grace: Mutex<GraceWindow>,
}

/// `len` random bytes, base64url: for ids, nonces and refresh tokens.
pub fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A prefixed random id, e.g. `u-…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", random_token(12))
}

/// True when `device_id` is the device a token was bound to (`did`) or a sibling of it
/// (`<did><suffix>`, a second tab or process of the same device).
pub fn device_belongs(device_id: &str, did: &str) -> bool {
    device_id.starts_with(did)
}

/// A freshly issued token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// The access JWT.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// When the access token expires (epoch ms).
    pub expires_at_ms: i64,
}

impl AppState {
    /// Epoch milliseconds on the emulator's (offset) clock.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.config.clock_offset_secs * 1000
    }

    /// Epoch seconds on the emulator's clock.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Issues an access token and a stored refresh token for (user, device).
    pub fn issue_tokens(
        &self,
        user_id: &str,
        device_id: &str,
        ttl_secs: u64,
    ) -> crate::db::DbResult<IssuedTokens> {
        let now = self.now_secs();
        let claims = AccessClaims {
            sub: user_id.to_owned(),
            did: device_id.to_owned(),
            iat: now,
            exp: now + ttl_secs as i64,
            jti: random_token(9),
        };
        let refresh_token = random_token(32);
        self.db
            .insert_refresh(&refresh_token, user_id, device_id, ttl_secs, now)?;
        Ok(IssuedTokens {
            access_token: self.signer.issue(&claims),
            refresh_token,
            expires_at_ms: claims.exp * 1000,
        })
    }

    /// The refresh grace window, locked.
    pub fn grace(&self) -> MutexGuard<'_, GraceWindow> {
        self.grace.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot for the admin API.
    pub fn stats(&self) -> Stats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            refresh_calls: read(&self.counters.refresh_calls),
            hello_ok: read(&self.counters.hello_ok),
            hello_fail: read(&self.counters.hello_fail),
            sends_accepted: read(&self.counters.sends_accepted),
            bad_frames: read(&self.counters.bad_frames),
            pings: read(&self.counters.pings),
            takeovers: self.hub.takeovers(),
            handovers: self.hub.handovers(),
            live_sessions: self.hub.live(),
        }
    }
}
