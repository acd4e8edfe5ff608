//! The refresh guards (PROTOCOL.md §A.3) as a pure machine: single flight, the
//! rejected-token latch, the 30 s floor, and what each outcome leads to.

use crate::api::{RefreshResult, TokenPair};

pub use super::rotation::Trigger;
use super::schedule::{proactive_point_ms, MIN_REFRESH_INTERVAL_MS};

/// Why a refresh request did not start one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// This access token was already refused permanently.
    RejectedLatch,
    /// The last attempt was less than the floor ago.
    MinInterval,
    /// There is no refresh token.
    NoRefreshToken,
    /// Logged out or stopped.
    Stopped,
}

/// What a refresh request should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start a refresh (the caller runs it and reports with [`RefreshManager::finish`]).
    Start,
    /// One is in flight: wait for its result.
    Join,
    /// Do nothing.
    Skip(SkipReason),
}

/// What a finished refresh leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Persist this pair everywhere, then swap it in and reconnect.
    PersistThenSwap(TokenPair),
    /// Keep the current tokens; try again on the next trigger.
    KeepTokens(String),
    /// The refresh token is dead: clear storage, stop, log out.
    Logout {
        /// 10003 or 400.
        code: i64,
        /// Why.
        message: String,
    },
}

/// Guard state that survives a rebuild of the manager.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardState {
    /// The access token refused permanently, if any (kept in memory only).
    pub rejected_token: Option<String>,
    /// When the last attempt started (ms), 0 if never.
    pub last_attempt_at: i64,
}

/// The refresh guards.
#[derive(Debug, Default)]
pub struct RefreshManager {
    guard: GuardState,
    in_flight: bool,
    stopped: bool,
    floor_ms: i64,
}

impl RefreshManager {
    /// A manager with the protocol's 30 s floor.
    pub fn new() -> Self {
        Self::with_floor(MIN_REFRESH_INTERVAL_MS)
    }

    /// A manager with another floor (tests with second-long tokens).
    pub fn with_floor(floor_ms: i64) -> Self {
        RefreshManager {
            floor_ms: floor_ms.max(0),
            ..Default::default()
        }
    }

    /// Decides what a request for a refresh of `access_token` should do at `now`.
    pub fn request(
        &mut self,
        access_token: &str,
        refresh_token: Option<&str>,
        now: i64,
    ) -> Decision {
        if self.stopped {
            return Decision::Skip(SkipReason::Stopped);
        }
        if self.in_flight {
            return Decision::Join;
        }
        if self.guard.rejected_token.as_deref() == Some(access_token) {
            return Decision::Skip(SkipReason::RejectedLatch);
        }
        if self.guard.last_attempt_at != 0 && now - self.guard.last_attempt_at < self.floor_ms {
            return Decision::Skip(SkipReason::MinInterval);
        }
        if refresh_token.is_none_or(|t| t.trim().is_empty()) {
            return Decision::Skip(SkipReason::NoRefreshToken);
        }
        self.in_flight = true;
        self.guard.last_attempt_at = now;
        Decision::Start
    }

    /// Reports the result of the refresh started for `access_token`.
    pub fn finish(&mut self, access_token: &str, result: RefreshResult) -> Next {
        self.in_flight = false;
        match result {
            RefreshResult::Success(pair) => Next::PersistThenSwap(pair),
            RefreshResult::Transient { message, .. } => Next::KeepTokens(message),
            RefreshResult::Permanent { code, message } => {
                self.guard.rejected_token = Some(access_token.to_owned());
                self.stopped = true;
                Next::Logout { code, message }
            }
        }
    }

    /// The rotated pair was persisted and swapped in: the latch no longer applies.
    pub fn swapped(&mut self) {
        self.guard.rejected_token = None;
    }

    /// Stops the manager (logout): every later request is skipped.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// When the next proactive refresh should run for `access_token`: its proactive
    /// point, but never before the floor since the last attempt.
    pub fn next_refresh_at(
        &self,
        access_token: &str,
        activated_at_ms: Option<i64>,
        jitter_ms: i64,
    ) -> Option<i64> {
        if self.stopped {
            return None;
        }
        let point = proactive_point_ms(access_token, activated_at_ms, jitter_ms)?;
        let floor = if self.guard.last_attempt_at == 0 {
            i64::MIN
        } else {
            self.guard.last_attempt_at + self.floor_ms
        };
        Some(point.max(floor))
    }

    /// The guard state, to carry across a rebuild.
    pub fn export(&self) -> GuardState {
        self.guard.clone()
    }

    /// Restores guard state from a previous manager.
    pub fn restore(&mut self, state: GuardState) {
        self.guard = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> TokenPair {
        TokenPair {
            access_token: "a2".into(),
            refresh_token: "r2".into(),
        }
    }

    #[test]
    fn concurrent_callers_share_one_refresh() {
        let mut m = RefreshManager::new();
        assert_eq!(m.request("a1", Some("r1"), 1_000), Decision::Start);
        assert_eq!(m.request("a1", Some("r1"), 1_001), Decision::Join);
        assert_eq!(m.request("a1", Some("r1"), 1_002), Decision::Join);
        assert_eq!(
            m.finish("a1", RefreshResult::Success(pair())),
            Next::PersistThenSwap(pair())
        );
    }

    #[test]
    fn the_floor_spaces_attempts_by_30_seconds() {
        let mut m = RefreshManager::new();
        assert_eq!(m.request("a1", Some("r1"), 1_000), Decision::Start);
        m.finish(
            "a1",
            RefreshResult::Transient {
                status: Some(500),
                code: None,
                message: "x".into(),
            },
        );
        assert_eq!(
            m.request("a1", Some("r1"), 30_999),
            Decision::Skip(SkipReason::MinInterval)
        );
        assert_eq!(m.request("a1", Some("r1"), 31_000), Decision::Start);
    }

    #[test]
    fn a_permanent_failure_latches_the_token_and_logs_out_once() {
        let mut m = RefreshManager::with_floor(0);
        assert_eq!(m.request("a1", Some("r1"), 1), Decision::Start);
        let next = m.finish(
            "a1",
            RefreshResult::Permanent {
                code: 10003,
                message: "reused".into(),
            },
        );
        assert_eq!(
            next,
            Next::Logout {
                code: 10003,
                message: "reused".into()
            }
        );
        assert_eq!(
            m.request("a1", Some("r1"), 2),
            Decision::Skip(SkipReason::Stopped)
        );
        let mut rebuilt = RefreshManager::with_floor(0);
        rebuilt.restore(m.export());
        assert_eq!(
            rebuilt.request("a1", Some("r1"), 3),
            Decision::Skip(SkipReason::RejectedLatch)
        );
        assert_eq!(
            rebuilt.request("a-new", Some("r1"), 3),
            Decision::Start,
            "a new token clears the latch"
        );
    }

    #[test]
    fn transient_keeps_tokens_and_no_refresh_token_skips() {
        let mut m = RefreshManager::with_floor(0);
        assert_eq!(
            m.request("a1", None, 1),
            Decision::Skip(SkipReason::NoRefreshToken)
        );
        assert_eq!(
            m.request("a1", Some("  "), 1),
            Decision::Skip(SkipReason::NoRefreshToken)
        );
        m.request("a1", Some("r1"), 1);
        let next = m.finish(
            "a1",
            RefreshResult::Transient {
                status: None,
                code: Some(1),
                message: "db".into(),
            },
        );
        assert_eq!(next, Next::KeepTokens("db".into()));
        assert_eq!(
            m.request("a1", Some("r1"), 2),
            Decision::Start,
            "never logged out on transient"
        );
    }

    #[test]
    fn guard_state_survives_a_rebuild() {
        let mut m = RefreshManager::new();
        m.request("a1", Some("r1"), 5_000);
        m.finish(
            "a1",
            RefreshResult::Transient {
                status: None,
                code: None,
                message: String::new(),
            },
        );
        let mut rebuilt = RefreshManager::new();
        rebuilt.restore(m.export());
        assert_eq!(
            rebuilt.request("a1", Some("r1"), 6_000),
            Decision::Skip(SkipReason::MinInterval)
        );
    }
}
