//! Liveness of a ready socket, honest under background-tab throttling.
//!
//! Browsers cannot see WebSocket control frames, so the client sends a JSON `ping` after
//! `interval_ms` of quiet and calls the socket dead when nothing at all arrives within
//! `window_ms` of it (PROTOCOL.md §4: 20 s and 10 s). Silence between ticks is never
//! death by itself: a hidden tab runs its timers about once a minute. After a long gap
//! between ticks (timers throttled, tab frozen, machine asleep) an overdue ping is not
//! judged at once: a fresh ping goes out and is judged after a further window, since
//! the answer may still be queued behind the frozen timers.

/// What the shell should do about the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing.
    Fine,
    /// Write a `ping`.
    Ping,
    /// The socket is dead: close it and reconnect.
    Dead,
}

/// Liveness settings (all monotonic milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessTimings {
    /// Quiet this long sends a `ping`.
    pub interval_ms: i64,
    /// A `ping` unanswered this long means the socket is dead.
    pub window_ms: i64,
    /// Ticks further apart than this mean timers were throttled or the tab frozen
    /// (**ours**; the tick runs about once a second when the tab is visible).
    pub tick_gap_ms: i64,
}

impl Default for LivenessTimings {
    fn default() -> Self {
        LivenessTimings {
            interval_ms: 20_000,
            window_ms: 10_000,
            tick_gap_ms: 5_000,
        }
    }
}

/// A `ping` waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    sent_at: i64,
    /// Sent on waking up: judged strictly, never forgiven again.
    recheck: bool,
}

/// The liveness of one ready socket.
#[derive(Debug, Clone)]
pub struct Liveness {
    timings: LivenessTimings,
    last_heard: i64,
    last_check: i64,
    probe: Option<Probe>,
}

impl Liveness {
    /// Liveness of a socket that became ready at `now`.
    pub fn new(timings: LivenessTimings, now: i64) -> Self {
        Liveness {
            timings,
            last_heard: now,
            last_check: now,
            probe: None,
        }
    }

    /// Something arrived on the socket: it is alive, any ping is answered.
    pub fn heard(&mut self, now: i64) {
        self.last_heard = now;
        self.probe = None;
    }

    /// The periodic tick.
    pub fn on_tick(&mut self, now: i64) -> Verdict {
        let woke = now - self.last_check >= self.timings.tick_gap_ms;
        self.check(now, woke)
    }

    /// The page came back (visible, shown, online, focused): re-check at once, as after
    /// a long gap.
    pub fn on_wake(&mut self, now: i64) -> Verdict {
        self.check(now, true)
    }

    fn check(&mut self, now: i64, woke: bool) -> Verdict {
        self.last_check = now;
        let t = self.timings;
        match self.probe {
            Some(probe) if now - probe.sent_at >= t.window_ms => {
                if woke && !probe.recheck {
                    self.ping(now, true)
                } else {
                    Verdict::Dead
                }
            }
            Some(_) => Verdict::Fine,
            None => {
                let quiet = now - self.last_heard;
                if quiet >= t.interval_ms || (woke && quiet >= t.tick_gap_ms) {
                    self.ping(now, woke)
                } else {
                    Verdict::Fine
                }
            }
        }
    }

    fn ping(&mut self, now: i64, recheck: bool) -> Verdict {
        self.probe = Some(Probe {
            sent_at: now,
            recheck,
        });
        Verdict::Ping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: LivenessTimings = LivenessTimings {
        interval_ms: 20_000,
        window_ms: 10_000,
        tick_gap_ms: 5_000,
    };

    /// Ticks every `step` ms from `from` to `to`; a live peer answers every ping at once.
    fn run(l: &mut Liveness, from: i64, to: i64, step: i64, live: bool) -> Option<i64> {
        let mut now = from;
        while now <= to {
            match l.on_tick(now) {
                Verdict::Dead => return Some(now),
                Verdict::Ping if live => l.heard(now + 50),
                _ => {}
            }
            now += step;
        }
        None
    }

    #[test]
    fn a_silent_socket_dies_within_interval_plus_window_at_one_second_ticks() {
        let mut l = Liveness::new(T, 0);
        assert_eq!(run(&mut l, 1_000, 60_000, 1_000, false), Some(30_000));
    }

    #[test]
    fn minute_long_tick_gaps_never_drop_a_live_socket() {
        let mut l = Liveness::new(T, 0);
        assert_eq!(run(&mut l, 60_000, 3_600_000, 60_000, true), None);
    }

    #[test]
    fn with_throttled_ticks_a_silent_socket_still_dies_after_one_recheck() {
        let mut l = Liveness::new(T, 0);
        assert_eq!(l.on_tick(60_000), Verdict::Ping, "ping first after the gap");
        assert_eq!(l.on_tick(120_000), Verdict::Dead, "that ping was judged");
    }

    #[test]
    fn an_overdue_ping_after_a_freeze_gets_a_fresh_ping_and_a_grace_window() {
        let mut l = Liveness::new(T, 0);
        assert_eq!(run(&mut l, 1_000, 20_000, 1_000, false), None);
        // Frozen for ten minutes right after the ping.
        assert_eq!(l.on_tick(620_000), Verdict::Ping);
        l.heard(620_010);
        assert_eq!(run(&mut l, 621_000, 700_000, 1_000, true), None);
    }

    #[test]
    fn waking_pings_a_quiet_socket_and_leaves_a_chatty_one_alone() {
        let mut l = Liveness::new(T, 0);
        l.heard(9_000);
        assert_eq!(l.on_wake(10_000), Verdict::Fine, "heard 1 s ago");
        assert_eq!(l.on_wake(15_000), Verdict::Ping);
        assert_eq!(l.on_wake(16_000), Verdict::Fine, "ping in its window");
        assert_eq!(l.on_tick(25_000), Verdict::Dead);
    }

    #[test]
    fn any_frame_answers_a_ping() {
        let mut l = Liveness::new(T, 0);
        assert_eq!(run(&mut l, 1_000, 19_000, 1_000, false), None);
        assert_eq!(l.on_tick(20_000), Verdict::Ping);
        l.heard(21_000);
        assert_eq!(run(&mut l, 21_000, 40_000, 1_000, false), None);
        assert_eq!(l.on_tick(41_000), Verdict::Ping);
    }
}
