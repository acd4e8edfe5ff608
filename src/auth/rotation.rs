//! The token rotation flow as a pure machine (PROTOCOL.md §2, §4, §5): lock → re-read the
//! store → request → classify → persist → swap → reconnect → broadcast, with save retries,
//! compare-and-delete before a logout, a per-account floor kept in the stored row, and a
//! proactive schedule on the server's clock. Inputs carry `now`; outputs are [`Effect`]s
//! for a driver; [`Rotation::poll_timeout`] says when to call [`Rotation::on_timeout`].
//!
//! Rules (each a decision of this module, none of the driver):
//! - a pair the server answered with is in use the moment it arrives, even when saving it
//!   fails; the save is retried with backoff while the lock is held, so no other tab can
//!   read the stale row and spend the old token;
//! - a refresh token the server answered for is never sent again (it joins `spent`);
//! - a failed store read is transient, with no request;
//! - a permanent refusal is confirmed by re-reading the row under the lock (read again
//!   with backoff, the lock kept, when the read fails): the row is cleared and the logout
//!   broadcast only when it still holds the refused token; a row another tab removed
//!   ends the session here without a request;
//! - after a lost answer (no status: the server may have rotated) the same token is
//!   retried soon, within a server's grace window;
//! - the floor between requests is per account: the row carries when it was rotated;
//! - the schedule runs on the server's clock, estimated from `iat` at receipt and from
//!   `Date` headers, with the lead capped at half the token's life;
//! - a still-valid token connects at once; only an expired or nearly expired one is
//!   refreshed first, and the request deadline bounds even that;
//! - the lock (a lease without Web Locks) is renewed while held and outlives the request.

use crate::api::RefreshResult;
use crate::json::{ToJson, Writer};
use crate::store::{StoreError, StoredSession};

use super::schedule::{jitter_from_fraction, TokenTimes};

/// Why a refresh was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The proactive timer.
    Proactive,
    /// Before the first connect, the token being expired or nearly so.
    PreConnect,
    /// The hub answered `hello-fail` "authentication failed".
    HelloFail,
    /// A REST call got 401/403.
    RestUnauthorized,
    /// The tab became visible, went online or got focus.
    Wake,
    /// The app called `refreshNow()`.
    Manual,
    /// The machine's own retry after a transient failure.
    Retry,
}

impl Trigger {
    /// The name the app sees in a [`RefreshReport`].
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Proactive => "proactive",
            Trigger::PreConnect => "pre_connect",
            Trigger::HelloFail => "hello_fail",
            Trigger::RestUnauthorized => "rest_unauthorized",
            Trigger::Wake => "wake",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
        }
    }
}

/// What a refresh came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This tab rotated the pair.
    Success,
    /// Another tab had rotated: its pair is now in use here.
    Adopted,
    /// Not rotated; the tokens are kept.
    Transient,
    /// The refresh token is dead: logged out.
    Permanent,
    /// Nothing was done.
    Skipped,
}

/// What a refresh request came to, as the app sees it (never a token):
/// `{"outcome":"transient","trigger":"wake","reason":"…"}` (`reason` null on success).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// The outcome.
    pub outcome: Outcome,
    /// What asked for it.
    pub trigger: &'static str,
    /// Why, for anything but success.
    pub reason: Option<String>,
}

impl RefreshReport {
    fn new(outcome: Outcome, trigger: Trigger, reason: Option<String>) -> Self {
        RefreshReport {
            outcome,
            trigger: trigger.name(),
            reason,
        }
    }

    /// True when the client now holds a fresh pair.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Success | Outcome::Adopted)
    }
}

impl Outcome {
    /// Its name, as the report shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Adopted => "adopted",
            Outcome::Transient => "transient",
            Outcome::Permanent => "permanent",
            Outcome::Skipped => "skipped",
        }
    }
}

impl ToJson for RefreshReport {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("outcome", self.outcome.as_str())
            .field("trigger", self.trigger)
            .field("reason", &self.reason);
        o.end();
    }
}

/// Timings of the flow (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationConfig {
    /// Least time between two refresh requests of the account.
    pub floor_ms: i64,
    /// A request without an answer by then is abandoned (§4: 20 s).
    pub request_timeout_ms: i64,
    /// How long to wait for the lock before giving up (transient).
    pub lock_wait_ms: i64,
    /// The lease's life without Web Locks: longer than a request plus a save.
    pub lease_ttl_ms: i64,
    /// How often a held lease is renewed.
    pub lease_renew_ms: i64,
    /// First delay before saving a rotated pair again; doubles up to the cap.
    pub save_retry_ms: i64,
    /// Longest delay between two saves.
    pub save_retry_cap_ms: i64,
    /// First delay of a transient retry; doubles up to the cap (§4: 1 s … 30 s).
    pub retry_ms: i64,
    /// Longest delay between two transient retries.
    pub retry_cap_ms: i64,
    /// A token with less than this left is refreshed before connecting.
    pub connect_margin_ms: i64,
}

impl Default for RotationConfig {
    fn default() -> Self {
        RotationConfig {
            floor_ms: super::schedule::MIN_REFRESH_INTERVAL_MS,
            request_timeout_ms: 20_000,
            lock_wait_ms: 25_000,
            lease_ttl_ms: 60_000,
            lease_renew_ms: 15_000,
            save_retry_ms: 500,
            save_retry_cap_ms: 8_000,
            retry_ms: 1_000,
            retry_cap_ms: 30_000,
            connect_margin_ms: 60_000,
        }
    }
}

/// Why the driver reads the stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPurpose {
    /// Under the lock, before deciding to request.
    UnderLock,
    /// Under the lock, after a permanent refusal (compare-and-delete).
    ConfirmRefusal,
    /// Another tab said it rotated: adopt a newer row (no lock).
    Adopt,
}

/// What the tabs of the account are told (no token: they re-read the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// A rotated pair was persisted.
    Rotated,
    /// The account was logged out.
    LoggedOut {
        /// The refresh code, or 0 for an explicit logout.
        code: i64,
        /// Why.
        reason: String,
    },
}

/// What the driver must do. `flow` ties a result back to the flow that asked for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Request the account's exclusive refresh lock; answer with [`Rotation::on_lock`].
    AcquireLock {
        /// The flow.
        flow: u64,
    },
    /// Extend the lease (no-op with Web Locks).
    RenewLock {
        /// The flow.
        flow: u64,
    },
    /// Release the lock, or abandon the request for it.
    ReleaseLock {
        /// The flow.
        flow: u64,
    },
    /// Read the stored row; answer with [`Rotation::on_read`].
    Read {
        /// The flow.
        flow: u64,
        /// Why.
        purpose: ReadPurpose,
    },
    /// Call the refresh endpoint; answer with [`Rotation::on_answer`].
    Request {
        /// The flow.
        flow: u64,
        /// The refresh token to present.
        refresh_token: String,
        /// The device id recorded with the tokens.
        device_id: String,
    },
    /// Abort the request of this flow (its answer would be ignored).
    AbortRequest {
        /// The flow.
        flow: u64,
    },
    /// Persist the row; answer with [`Rotation::on_saved`].
    Save {
        /// The flow (0: the session chosen at start).
        flow: u64,
        /// The row.
        session: StoredSession,
    },
    /// Delete the row; answer with [`Rotation::on_cleared`].
    Clear {
        /// The flow.
        flow: u64,
    },
    /// Use this session from now on (connect with its token; replace a live socket).
    Use(StoredSession),
    /// Start connecting (the tab is in charge and the token is usable).
    Connect,
    /// Tell the other tabs.
    Broadcast(News),
    /// Settle these refresh requests with `report`.
    Report {
        /// The waiting requests.
        tickets: Vec<u64>,
        /// Tell the app too (a `refresh` event): once per attempt, never for a skip.
        announce: bool,
        /// What it came to.
        report: RefreshReport,
    },
    /// Logged out: stop the connection, fail pending sends, tell the app.
    LoggedOut {
        /// The refresh code, or 0.
        code: i64,
        /// Why.
        reason: String,
    },
    /// Tell the app something went wrong that it should know about.
    Warn(String),
}

/// Why starting failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Idle,
    Locking { until: i64 },
    Reading,
    Requesting { token: String, until: i64 },
    Saving,
    SaveWait { at: i64 },
    Confirming,
    ConfirmWait { at: i64 },
    Clearing,
}

/// How many superseded refresh tokens are remembered (a stale row holds one of them).
const SPENT_MEMORY: usize = 16;

/// The rotation flow of one tab for one account.
#[derive(Debug)]
pub struct Rotation {
    config: RotationConfig,
    session: Option<StoredSession>,
    times: TokenTimes,
    spent: Vec<String>,
    refused: Option<(String, i64, String)>,
    offset_ms: i64,
    jitter_ms: i64,
    in_charge: bool,
    connect_pending: bool,
    phase: Phase,
    flow: u64,
    trigger: Trigger,
    tickets: Vec<u64>,
    unsaved: bool,
    save_failures: u32,
    retry_failures: u32,
    retry_at: Option<i64>,
    renew_at: Option<i64>,
    last_request_at: Option<i64>,
    stopped: bool,
}

impl Rotation {
    /// Counts one more failed store call; how long to wait before trying again.
    fn next_store_retry(&mut self) -> i64 {
        self.save_failures = self.save_failures.saturating_add(1);
        backoff(
            self.config.save_retry_ms,
            self.config.save_retry_cap_ms,
            self.save_failures,
        )
    }

    /// A machine with no session yet; `jitter_fraction` in `[0, 1)` spreads the proactive
    /// points of clients (a fixed one per tab).
    pub fn new(config: RotationConfig, jitter_fraction: f64) -> Self {
        Rotation {
            config,
            session: None,
            times: TokenTimes::default(),
            spent: Vec::new(),
            refused: None,
            offset_ms: 0,
            jitter_ms: jitter_from_fraction(jitter_fraction),
            in_charge: false,
            connect_pending: false,
            phase: Phase::Idle,
            flow: 0,
            trigger: Trigger::Manual,
            tickets: Vec::new(),
            unsaved: false,
            save_failures: 0,
            retry_failures: 0,
            retry_at: None,
            renew_at: None,
            last_request_at: None,
            stopped: false,
        }
    }

    /// The timings.
    pub fn config(&self) -> &RotationConfig {
        &self.config
    }

    /// The session in use.
    pub fn session(&self) -> Option<&StoredSession> {
        self.session.as_ref()
    }

    /// True after a logout (here or in another tab).
    pub fn logged_out(&self) -> bool {
        self.stopped
    }

    /// The estimated server clock minus the local one (ms).
    pub fn server_offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// True while the lock is held or requested.
    fn lock_wanted(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    /// Chooses the session at start: the stored row, or the offered one (from the
    /// options) when it is newer or nothing is stored; the offered one is saved.
    pub fn start(
        &mut self,
        stored: Result<Option<StoredSession>, StoreError>,
        offered: Option<StoredSession>,
    ) -> Result<Vec<Effect>, StartError> {
        let mut out = Vec::new();
        let session = match (stored, offered) {
            (Ok(Some(stored)), Some(offered)) if offered.activated_at <= stored.activated_at => {
                stored
            }
            (stored, Some(offered)) => {
                if let Err(err) = stored {
                    out.push(Effect::Warn(format!(
                        "the stored session was not read: {err}"
                    )));
                }
                self.unsaved = true;
                out.push(Effect::Save {
                    flow: 0,
                    session: offered.clone(),
                });
                offered
            }
            (Ok(Some(stored)), None) => stored,
            (Err(err), None) => {
                return Err(StartError(format!(
                    "the stored session could not be read: {err}"
                )))
            }
            (Ok(None), None) => {
                return Err(StartError(
                    "no stored session for this account: sign in first".into(),
                ))
            }
        };
        out.push(Effect::Use(session.clone()));
        self.set_session(Some(session));
        Ok(out)
    }

    /// The tab takes charge of (or gives up) the connection and the proactive refresh. In
    /// charge, a token valid for more than the margin connects at once; an expired or
    /// nearly expired one is refreshed first (bounded by the request deadline).
    pub fn set_in_charge(&mut self, in_charge: bool, now: i64) -> Vec<Effect> {
        self.in_charge = in_charge;
        if !in_charge || self.stopped {
            self.connect_pending = false;
            return Vec::new();
        }
        if self.session.is_none() {
            return Vec::new();
        }
        let expires = self.times.expires_at.map(|exp| exp - self.offset_ms);
        if expires.is_none_or(|exp| exp - now > self.config.connect_margin_ms) {
            return vec![Effect::Connect];
        }
        self.connect_pending = true;
        self.request(Trigger::PreConnect, None, now)
    }

    /// A REST answer's `Date` header (ms): a server clock sample.
    pub fn on_server_date(&mut self, server_ms: i64, now: i64) {
        self.offset_ms = server_ms + 500 - now;
    }

    fn floor_base(&self) -> Option<i64> {
        let rotated = self.session.as_ref().map_or(0, |s| s.refreshed_at);
        let base = self.last_request_at.unwrap_or(0).max(rotated);
        (base > 0).then_some(base)
    }

    fn within_floor(&self, now: i64) -> bool {
        self.floor_base()
            .is_some_and(|base| (now - base).abs() < self.config.floor_ms)
    }

    fn proactive_at(&self) -> Option<i64> {
        if !self.in_charge || self.stopped {
            return None;
        }
        let session = self.session.as_ref()?;
        if session.refresh_token.trim().is_empty() {
            return None;
        }
        let point = self.times.refresh_at(self.jitter_ms)? - self.offset_ms;
        let floor = self
            .floor_base()
            .map_or(i64::MIN, |b| b + self.config.floor_ms);
        Some(point.max(floor))
    }

    /// When [`Rotation::on_timeout`] must run next, if ever.
    pub fn poll_timeout(&self) -> Option<i64> {
        let phase = match &self.phase {
            Phase::Locking { until } | Phase::Requesting { until, .. } => Some(*until),
            Phase::SaveWait { at } | Phase::ConfirmWait { at } => Some(*at),
            _ => None,
        };
        let idle = matches!(self.phase, Phase::Idle);
        [
            phase,
            self.renew_at,
            self.retry_at.filter(|_| idle && !self.stopped),
            self.proactive_at().filter(|_| idle),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Time passed: deadlines, lease renewal, save retries, retries, the proactive point.
    pub fn on_timeout(&mut self, now: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.renew_at.is_some_and(|at| at <= now) {
            self.renew_at = Some(now + self.config.lease_renew_ms);
            out.push(Effect::RenewLock { flow: self.flow });
        }
        match self.phase.clone() {
            Phase::Locking { until } if until <= now => {
                out.push(Effect::ReleaseLock { flow: self.flow });
                self.phase = Phase::Idle;
                let reason = "the refresh lock was not granted in time".to_owned();
                self.transient(reason, false, now, &mut out);
            }
            Phase::Requesting { until, .. } if until <= now => {
                out.push(Effect::AbortRequest { flow: self.flow });
                let timed_out = RefreshResult::Transient {
                    status: None,
                    code: None,
                    message: "the refresh request timed out".into(),
                };
                out.extend(self.on_answer(self.flow, timed_out, now));
            }
            Phase::SaveWait { at } if at <= now => {
                if let Some(session) = self.session.clone() {
                    self.phase = Phase::Saving;
                    out.push(Effect::Save {
                        flow: self.flow,
                        session,
                    });
                }
            }
            Phase::ConfirmWait { at } if at <= now => {
                self.phase = Phase::Confirming;
                out.push(Effect::Read {
                    flow: self.flow,
                    purpose: ReadPurpose::ConfirmRefusal,
                });
            }
            Phase::Idle => {
                if self.retry_at.is_some_and(|at| at <= now) {
                    self.retry_at = None;
                    out.extend(self.request(Trigger::Retry, None, now));
                } else if self.proactive_at().is_some_and(|at| at <= now) {
                    out.extend(self.request(Trigger::Proactive, None, now));
                }
            }
            _ => {}
        }
        out
    }

    /// A refresh is wanted. Joins the flow under way, if any; `ticket` identifies the
    /// caller in the [`Effect::Report`] (none for timers and socket triggers).
    pub fn request(&mut self, trigger: Trigger, ticket: Option<u64>, now: i64) -> Vec<Effect> {
        let skip = |reason: &str| {
            vec![Effect::Report {
                tickets: ticket.into_iter().collect(),
                announce: false,
                report: RefreshReport::new(Outcome::Skipped, trigger, Some(reason.into())),
            }]
        };
        if self.stopped {
            return skip("logged out");
        }
        let Some(session) = &self.session else {
            return skip("no session");
        };
        if session.refresh_token.trim().is_empty() {
            return skip("no refresh token");
        }
        self.tickets.extend(ticket);
        match self.phase {
            Phase::Idle => {
                self.trigger = trigger;
                self.flow += 1;
                self.phase = Phase::Locking {
                    until: now + self.config.lock_wait_ms,
                };
                vec![Effect::AcquireLock { flow: self.flow }]
            }
            Phase::SaveWait { .. } if trigger != Trigger::Retry && self.within_floor(now) => {
                let tickets = std::mem::take(&mut self.tickets);
                let reason = "the last refresh of this account was moments ago";
                vec![Effect::Report {
                    tickets,
                    announce: false,
                    report: RefreshReport::new(Outcome::Skipped, trigger, Some(reason.into())),
                }]
            }
            Phase::SaveWait { .. } => {
                // The lock is held and our unsaved pair is the newest there is.
                self.trigger = trigger;
                let mut out = Vec::new();
                self.decide(None, now, &mut out);
                out
            }
            _ => Vec::new(),
        }
    }

    /// The lock of `flow` was granted (or could not be had).
    pub fn on_lock(&mut self, flow: u64, granted: bool, now: i64) -> Vec<Effect> {
        let current = flow == self.flow && matches!(self.phase, Phase::Locking { .. });
        if !current {
            return if granted {
                vec![Effect::ReleaseLock { flow }]
            } else {
                Vec::new()
            };
        }
        let mut out = Vec::new();
        if !granted {
            self.phase = Phase::Idle;
            self.transient(
                "the refresh lock is unavailable".into(),
                false,
                now,
                &mut out,
            );
            return out;
        }
        self.renew_at = Some(now + self.config.lease_renew_ms);
        self.phase = Phase::Reading;
        out.push(Effect::Read {
            flow,
            purpose: ReadPurpose::UnderLock,
        });
        out
    }

    /// True when `row` holds a pair newer than ours (another tab rotated it).
    fn is_newer(&self, row: &StoredSession) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| row.refresh_token != s.refresh_token)
            && !self.spent.contains(&row.refresh_token)
            && self
                .refused
                .as_ref()
                .is_none_or(|(token, ..)| *token != row.refresh_token)
    }

    fn supersede(&mut self, token: String) {
        if !self.spent.contains(&token) {
            self.spent.push(token);
        }
        if self.spent.len() > SPENT_MEMORY {
            self.spent.remove(0);
        }
    }

    fn adopt(&mut self, row: StoredSession, out: &mut Vec<Effect>) {
        if let Some(old) = self.session.take() {
            self.supersede(old.refresh_token);
        }
        self.refused = None;
        self.unsaved = false;
        self.retry_at = None;
        self.retry_failures = 0;
        self.set_session(Some(row.clone()));
        out.push(Effect::Use(row));
    }

    /// The stored row, read for `purpose`.
    pub fn on_read(
        &mut self,
        flow: u64,
        purpose: ReadPurpose,
        result: Result<Option<StoredSession>, StoreError>,
        now: i64,
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        match purpose {
            ReadPurpose::Adopt => {
                let lock_held = !matches!(self.phase, Phase::Idle | Phase::Locking { .. });
                if let Ok(Some(row)) = result {
                    if !lock_held && self.is_newer(&row) {
                        self.adopt(row, &mut out);
                        if matches!(self.phase, Phase::Locking { .. }) {
                            // The flow waiting for the lock wanted a fresh pair: it has one.
                            out.push(Effect::ReleaseLock { flow: self.flow });
                            self.phase = Phase::Idle;
                            self.finish(Outcome::Adopted, None, &mut out);
                        }
                    }
                }
            }
            ReadPurpose::UnderLock if flow == self.flow && self.phase == Phase::Reading => {
                match result {
                    Err(err) => {
                        self.release(now, &mut out);
                        self.transient(format!("store read failed: {err}"), false, now, &mut out);
                    }
                    Ok(row) => self.decide(row, now, &mut out),
                }
            }
            ReadPurpose::ConfirmRefusal if flow == self.flow && self.phase == Phase::Confirming => {
                match result {
                    Err(err) => {
                        // Keep the lock (no other tab may spend the refused token on a
                        // stale row) and read again with backoff.
                        let delay = self.next_store_retry();
                        self.phase = Phase::ConfirmWait { at: now + delay };
                        let reason = format!("the refusal is not confirmed yet: {err}");
                        out.push(Effect::Report {
                            tickets: std::mem::take(&mut self.tickets),
                            announce: false,
                            report: RefreshReport::new(
                                Outcome::Transient,
                                self.trigger,
                                Some(reason),
                            ),
                        });
                    }
                    Ok(Some(row)) if self.is_newer(&row) => {
                        self.save_failures = 0;
                        self.adopt(row, &mut out);
                        self.release(now, &mut out);
                        self.finish(Outcome::Adopted, None, &mut out);
                    }
                    Ok(_) => {
                        self.save_failures = 0;
                        self.phase = Phase::Clearing;
                        out.push(Effect::Clear { flow });
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Under the lock, with the row as read (`None` also when it is not worth reading).
    fn decide(&mut self, row: Option<StoredSession>, now: i64, out: &mut Vec<Effect>) {
        if row.is_none() && !self.unsaved {
            // Another tab cleared the row (a confirmed refusal or a logout) and its
            // broadcast has not arrived yet: the account is gone, nothing is sent.
            let reason = "the session was removed from storage by another tab";
            self.release(now, out);
            self.finish(Outcome::Permanent, Some(reason.into()), out);
            out.extend(self.on_logged_out_elsewhere(0, reason));
            return;
        }
        if let Some(row) = row.filter(|r| self.is_newer(r)) {
            self.adopt(row, out);
            self.release(now, out);
            self.finish(Outcome::Adopted, None, out);
            return;
        }
        let Some(session) = self.session.clone() else {
            self.release(now, out);
            self.finish(Outcome::Skipped, Some("no session".into()), out);
            return;
        };
        if self
            .refused
            .as_ref()
            .is_some_and(|(token, ..)| *token == session.refresh_token)
        {
            // Latched: never sent again. The row holds it (or nothing newer): clear.
            self.phase = Phase::Clearing;
            out.push(Effect::Clear { flow: self.flow });
            return;
        }
        if self.trigger != Trigger::Retry && self.within_floor(now) {
            self.release(now, out);
            self.finish(
                Outcome::Skipped,
                Some("the last refresh of this account was moments ago".into()),
                out,
            );
            return;
        }
        self.last_request_at = Some(now);
        self.phase = Phase::Requesting {
            token: session.refresh_token.clone(),
            until: now + self.config.request_timeout_ms,
        };
        out.push(Effect::Request {
            flow: self.flow,
            refresh_token: session.refresh_token,
            device_id: session.device_id,
        });
    }

    /// The classified answer to the request of `flow`.
    pub fn on_answer(&mut self, flow: u64, result: RefreshResult, now: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        let Phase::Requesting { token, .. } = self.phase.clone() else {
            return out;
        };
        if flow != self.flow || self.stopped {
            return out;
        }
        match result {
            RefreshResult::Success(pair) => {
                let Some(current) = self.session.take() else {
                    return out;
                };
                self.supersede(token);
                let rotated = current.rotated(&pair, now);
                self.set_session(Some(rotated.clone()));
                if let Some(iat) = self.times.issued_at {
                    // Issued just now on the server's clock: the offset to ours.
                    self.on_server_date(iat, now);
                }
                self.refused = None;
                self.unsaved = true;
                self.retry_at = None;
                self.retry_failures = 0;
                out.push(Effect::Use(rotated.clone()));
                out.push(Effect::Report {
                    tickets: std::mem::take(&mut self.tickets),
                    announce: true,
                    report: RefreshReport::new(Outcome::Success, self.trigger, None),
                });
                self.connect_if_pending(&mut out);
                self.phase = Phase::Saving;
                out.push(Effect::Save {
                    flow,
                    session: rotated,
                });
            }
            RefreshResult::Transient {
                status, message, ..
            } => {
                self.release(now, &mut out);
                // No status: the server may have rotated and the answer was lost; retry
                // soon, within a grace window, with the same token.
                self.transient(message, status.is_none(), now, &mut out);
            }
            RefreshResult::Permanent { code, message } => {
                self.refused = Some((token, code, message));
                self.phase = Phase::Confirming;
                out.push(Effect::Read {
                    flow,
                    purpose: ReadPurpose::ConfirmRefusal,
                });
            }
        }
        out
    }

    /// The save of `flow` finished.
    pub fn on_saved(&mut self, flow: u64, result: Result<(), StoreError>, now: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        if flow == 0 {
            match result {
                Ok(()) => self.unsaved = false,
                Err(err) => out.push(Effect::Warn(format!(
                    "the session is kept in memory only: {err}"
                ))),
            }
            return out;
        }
        if flow != self.flow || self.phase != Phase::Saving || self.stopped {
            return out;
        }
        match result {
            Ok(()) => {
                self.unsaved = false;
                self.save_failures = 0;
                out.push(Effect::Broadcast(News::Rotated));
                self.release(now, &mut out);
                if !self.tickets.is_empty() {
                    out.push(Effect::Report {
                        tickets: std::mem::take(&mut self.tickets),
                        announce: false,
                        report: RefreshReport::new(Outcome::Success, self.trigger, None),
                    });
                }
            }
            Err(err) => {
                let delay = self.next_store_retry();
                out.push(Effect::Warn(format!(
                    "the rotated pair is in use but not saved ({err}); saving again in {delay} ms"
                )));
                self.phase = Phase::SaveWait { at: now + delay };
                if !self.tickets.is_empty() {
                    out.push(Effect::Report {
                        tickets: std::mem::take(&mut self.tickets),
                        announce: false,
                        report: RefreshReport::new(Outcome::Success, self.trigger, None),
                    });
                }
            }
        }
        out
    }

    /// The row of `flow` was deleted (or the delete failed: the row is refused anyway).
    pub fn on_cleared(&mut self, flow: u64, result: Result<(), StoreError>) -> Vec<Effect> {
        let mut out = Vec::new();
        if flow != self.flow || self.phase != Phase::Clearing || self.stopped {
            return out;
        }
        if let Err(err) = result {
            out.push(Effect::Warn(format!(
                "could not clear the stored session: {err}"
            )));
        }
        self.unsaved = false;
        let (code, message) = self
            .refused
            .clone()
            .map_or((0, String::new()), |(_, code, message)| (code, message));
        self.release(0, &mut out); // nothing unsaved: released
        let reason = format!("{code}: {message}");
        self.finish(Outcome::Permanent, Some(reason), &mut out);
        self.stop(&mut out);
        out.push(Effect::Broadcast(News::LoggedOut {
            code,
            reason: message.clone(),
        }));
        out.push(Effect::LoggedOut {
            code,
            reason: message,
        });
        out
    }

    /// Another tab persisted a rotated pair: read the row to adopt it.
    pub fn on_rotated_elsewhere(&mut self) -> Vec<Effect> {
        if self.stopped {
            return Vec::new();
        }
        vec![Effect::Read {
            flow: self.flow,
            purpose: ReadPurpose::Adopt,
        }]
    }

    /// Another tab logged the account out.
    pub fn on_logged_out_elsewhere(&mut self, code: i64, reason: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        self.stop(&mut out);
        out.push(Effect::LoggedOut {
            code,
            reason: reason.to_owned(),
        });
        out
    }

    /// The app logs out: the row is cleared, every tab told.
    pub fn logout(&mut self, reason: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        self.stop(&mut out);
        out.push(Effect::Clear { flow: 0 });
        out.push(Effect::Broadcast(News::LoggedOut {
            code: 0,
            reason: reason.to_owned(),
        }));
        out.push(Effect::LoggedOut {
            code: 0,
            reason: reason.to_owned(),
        });
        out
    }

    fn stop(&mut self, out: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::Requesting { .. }) {
            out.push(Effect::AbortRequest { flow: self.flow });
        }
        if self.lock_wanted() {
            out.push(Effect::ReleaseLock { flow: self.flow });
        }
        if !self.tickets.is_empty() {
            out.push(Effect::Report {
                tickets: std::mem::take(&mut self.tickets),
                announce: false,
                report: RefreshReport::new(
                    Outcome::Permanent,
                    self.trigger,
                    Some("logged out".into()),
                ),
            });
        }
        self.phase = Phase::Idle;
        self.renew_at = None;
        self.retry_at = None;
        self.flow += 1;
        self.stopped = true;
        self.in_charge = false;
        self.connect_pending = false;
        self.set_session(None);
    }

    /// Ends the locked part of a flow: the lock is released, unless a pair in use is not
    /// saved yet: then the lock is kept and the save retried at once.
    fn release(&mut self, now: i64, out: &mut Vec<Effect>) {
        if self.unsaved && !self.stopped && self.session.is_some() {
            self.phase = Phase::SaveWait { at: now };
            return;
        }
        out.push(Effect::ReleaseLock { flow: self.flow });
        self.renew_at = None;
        self.phase = Phase::Idle;
    }

    /// True while the pair in use is not in the store yet.
    pub fn unsaved(&self) -> bool {
        self.unsaved
    }

    fn set_session(&mut self, session: Option<StoredSession>) {
        self.times = session.as_ref().map_or_else(TokenTimes::default, |s| {
            TokenTimes::of(&s.access_token, Some(s.activated_at))
        });
        self.session = session;
    }

    fn connect_if_pending(&mut self, out: &mut Vec<Effect>) {
        if std::mem::take(&mut self.connect_pending) && self.in_charge && !self.stopped {
            out.push(Effect::Connect);
        }
    }

    fn finish(&mut self, outcome: Outcome, reason: Option<String>, out: &mut Vec<Effect>) {
        out.push(Effect::Report {
            tickets: std::mem::take(&mut self.tickets),
            announce: true,
            report: RefreshReport::new(outcome, self.trigger, reason),
        });
        self.connect_if_pending(out);
    }

    /// A transient end: tokens kept; retried with backoff when the answer was lost (the
    /// server may have rotated) or the token is due, else at the next trigger.
    fn transient(&mut self, reason: String, unknown: bool, now: i64, out: &mut Vec<Effect>) {
        self.retry_failures = self.retry_failures.saturating_add(1);
        let due = self.in_charge && self.proactive_at().is_some_and(|at| at <= now);
        if unknown || due {
            let delay = backoff(
                self.config.retry_ms,
                self.config.retry_cap_ms,
                self.retry_failures,
            );
            self.retry_at = Some(now + delay);
        }
        self.finish(Outcome::Transient, Some(reason), out);
    }
}

/// `initial · 2^(n−1)`, capped.
fn backoff(initial: i64, cap: i64, n: u32) -> i64 {
    initial
        .saturating_mul(1i64 << n.saturating_sub(1).min(20))
        .min(cap)
}

#[cfg(test)]
mod tests;
