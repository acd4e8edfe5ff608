//! The refresh grace window of newer ClawChat servers (PROTOCOL.md §4): a refresh token
//! that was just spent, presented again within the window by the same device, returns
//! the *same* new pair it was rotated into, at most [`MAX_REUSES`] times. It softens
//! the race of a response lost in flight; after the window, or the reuses, a spent
//! token is refused as before. Kept in memory only (a restart ends every window), so
//! the rotated tokens are never written to disk in clear.

use std::collections::HashMap;

use crate::state::IssuedTokens;

/// How many times a spent token may be redeemed again within its window.
pub const MAX_REUSES: u32 = 2;

/// What a spent token presented again is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reuse {
    /// Within the window: the pair it was rotated into.
    Same(IssuedTokens),
    /// Within the window, but from another device than the one it is bound to.
    DeviceMismatch,
    /// No window (never spent here, expired, reuses used up, or strict mode).
    Refused,
}

#[derive(Debug)]
struct Spent {
    device_id: String,
    successor: IssuedTokens,
    until_ms: i64,
    reuses_left: u32,
}

/// The spent tokens still in their grace window, by the digest of the token.
#[derive(Debug)]
pub struct GraceWindow {
    window_ms: i64,
    spent: HashMap<Vec<u8>, Spent>,
}

impl GraceWindow {
    /// A window of `window_secs` (0 = strict single use: nothing is remembered).
    pub fn new(window_secs: u64) -> Self {
        GraceWindow {
            window_ms: i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            spent: HashMap::new(),
        }
    }

    /// Records that the token with `digest`, bound to `device_id`, was just rotated into
    /// `successor` at `now_ms`. Forgets windows that have closed.
    pub fn record(
        &mut self,
        digest: Vec<u8>,
        device_id: &str,
        successor: &IssuedTokens,
        now_ms: i64,
    ) {
        self.spent
            .retain(|_, s| s.until_ms > now_ms && s.reuses_left > 0);
        if self.window_ms == 0 {
            return;
        }
        self.spent.insert(
            digest,
            Spent {
                device_id: device_id.to_owned(),
                successor: successor.clone(),
                until_ms: now_ms.saturating_add(self.window_ms),
                reuses_left: MAX_REUSES,
            },
        );
    }

    /// The answer to the spent token with `digest` presented again by `device_id`.
    pub fn reuse(&mut self, digest: &[u8], device_id: &str, now_ms: i64) -> Reuse {
        let Some(spent) = self.spent.get_mut(digest) else {
            return Reuse::Refused;
        };
        if now_ms >= spent.until_ms || spent.reuses_left == 0 {
            self.spent.remove(digest);
            return Reuse::Refused;
        }
        if spent.device_id != device_id {
            return Reuse::DeviceMismatch;
        }
        spent.reuses_left -= 1;
        Reuse::Same(spent.successor.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(n: u8) -> IssuedTokens {
        IssuedTokens {
            access_token: format!("a{n}"),
            refresh_token: format!("r{n}"),
            expires_at_ms: 1,
        }
    }

    #[test]
    fn a_spent_token_returns_the_same_pair_twice_within_the_window() {
        let mut grace = GraceWindow::new(60);
        grace.record(b"h".to_vec(), "d", &pair(1), 1_000);
        assert_eq!(grace.reuse(b"h", "other", 2_000), Reuse::DeviceMismatch);
        assert_eq!(grace.reuse(b"h", "d", 2_000), Reuse::Same(pair(1)));
        assert_eq!(grace.reuse(b"h", "d", 60_999), Reuse::Same(pair(1)));
        assert_eq!(grace.reuse(b"h", "d", 61_000), Reuse::Refused);
        assert_eq!(grace.reuse(b"unknown", "d", 2_000), Reuse::Refused);
    }

    #[test]
    fn the_window_closes_in_time_and_strict_mode_remembers_nothing() {
        let mut grace = GraceWindow::new(60);
        grace.record(b"h".to_vec(), "d", &pair(1), 1_000);
        assert_eq!(grace.reuse(b"h", "d", 61_000), Reuse::Refused);
        grace.record(b"old".to_vec(), "d", &pair(2), 0);
        grace.record(b"new".to_vec(), "d", &pair(3), 100_000);
        assert_eq!(grace.spent.len(), 1, "closed windows are forgotten");

        let mut strict = GraceWindow::new(0);
        strict.record(b"h".to_vec(), "d", &pair(1), 1_000);
        assert_eq!(strict.reuse(b"h", "d", 1_000), Reuse::Refused);
    }
}
