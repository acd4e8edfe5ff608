//! The two clocks the machines read. Every duration (timeouts, backoff, liveness, queue
//! age, stream stalls) is measured on the monotonic clock, which never steps; the wall
//! clock is only used where a value meets a server or a later page load: frame
//! timestamps, id timestamps and the creation time of a persisted send.

/// One reading of both clocks, taken by the shell and handed to every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Monotonic milliseconds (`performance.now()`): durations only, never shown.
    pub mono: i64,
    /// Epoch milliseconds (`Date.now()`): may step either way at any time.
    pub wall: i64,
}

impl Now {
    /// A reading from both clocks.
    pub fn new(mono: i64, wall: i64) -> Self {
        Now { mono, wall }
    }

    /// The same reading `ms` later on both clocks (tests and simulations).
    pub fn after(self, ms: i64) -> Self {
        Now {
            mono: self.mono.saturating_add(ms),
            wall: self.wall.saturating_add(ms),
        }
    }

    /// The wall clock as an unsigned id timestamp (0 before the epoch).
    pub fn wall_u64(self) -> u64 {
        self.wall.max(0) as u64
    }
}
