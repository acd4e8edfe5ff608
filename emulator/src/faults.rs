//! Fault injection, armed through the admin API and consumed by the handlers.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// How the next refresh calls misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshFault {
    /// HTTP 500 with a non-envelope body.
    Http500,
    /// HTTP 200 with envelope code 1 (internal).
    Code1,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// No answer for `hang_ms`.
    Hang,
    /// The proper answer (the pair rotated), after `hang_ms`.
    Slow,
}

/// What to do with the ack of an accepted send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckPlan {
    /// Send it now.
    Now,
    /// Send it after this many ms.
    Delay(u64),
    /// Never send it.
    Withhold,
    /// Never send it, and drop the socket without a close frame.
    Drop,
}

#[derive(Debug, Default)]
struct State {
    refresh: Option<(RefreshFault, u32, u64)>,
    handshake: Option<(String, u32)>,
    ack_delay_ms: u64,
    withhold_acks: u32,
    drop_instead_of_ack: u32,
    duplicate_replays: u32,
}

/// The armed faults. Each is consumed as it fires.
#[derive(Debug, Default)]
pub struct Faults(Mutex<State>);

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next `count` refresh calls fail with `fault` (hanging `hang_ms` for `Hang`).
    pub fn arm_refresh(&self, fault: RefreshFault, count: u32, hang_ms: u64) {
        self.state().refresh = (count > 0).then_some((fault, count, hang_ms));
    }

    /// Takes one refresh fault, if armed: the fault and its hang time.
    pub fn take_refresh(&self) -> Option<(RefreshFault, u64)> {
        let mut state = self.state();
        let (fault, count, hang_ms) = state.refresh?;
        state.refresh = (count > 1).then_some((fault, count - 1, hang_ms));
        Some((fault, hang_ms))
    }

    /// Makes the next `count` handshakes answer `hello-fail` with `reason`.
    pub fn arm_handshake(&self, reason: String, count: u32) {
        self.state().handshake = (count > 0).then_some((reason, count));
    }

    /// Takes one handshake refusal, if armed.
    pub fn take_handshake(&self) -> Option<String> {
        let mut state = self.state();
        let (reason, count) = state.handshake.take()?;
        if count > 1 {
            state.handshake = Some((reason.clone(), count - 1));
        }
        Some(reason)
    }

    /// Delays every ack by `delay_ms`, withholds the next `withhold` acks, and drops the
    /// socket instead of the `drop` acks after those.
    pub fn arm_acks(&self, delay_ms: u64, withhold: u32, drop: u32) {
        let mut state = self.state();
        state.ack_delay_ms = delay_ms;
        state.withhold_acks = withhold;
        state.drop_instead_of_ack = drop;
    }

    /// What to do with the next ack.
    pub fn take_ack_plan(&self) -> AckPlan {
        let mut state = self.state();
        if state.withhold_acks > 0 {
            state.withhold_acks -= 1;
            AckPlan::Withhold
        } else if state.drop_instead_of_ack > 0 {
            state.drop_instead_of_ack -= 1;
            AckPlan::Drop
        } else if state.ack_delay_ms > 0 {
            AckPlan::Delay(state.ack_delay_ms)
        } else {
            AckPlan::Now
        }
    }

    /// Makes the next `count` replayed envelopes go out twice.
    pub fn arm_duplicate_replays(&self, count: u32) {
        self.state().duplicate_replays = count;
    }

    /// True when this replayed envelope should be sent twice.
    pub fn take_duplicate_replay(&self) -> bool {
        let mut state = self.state();
        let fire = state.duplicate_replays > 0;
        state.duplicate_replays = state.duplicate_replays.saturating_sub(1);
        fire
    }

    /// Disarms everything.
    pub fn clear(&self) {
        *self.state() = State::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_the_armed_number_of_times() {
        let faults = Faults::default();
        faults.arm_refresh(RefreshFault::Code1, 2, 0);
        assert_eq!(faults.take_refresh(), Some((RefreshFault::Code1, 0)));
        assert_eq!(faults.take_refresh(), Some((RefreshFault::Code1, 0)));
        assert_eq!(faults.take_refresh(), None);
        faults.arm_handshake("auth service unavailable".into(), 1);
        assert!(faults.take_handshake().is_some());
        assert!(faults.take_handshake().is_none());
        faults.arm_acks(5, 1, 2);
        assert_eq!(faults.take_ack_plan(), AckPlan::Withhold);
        assert_eq!(faults.take_ack_plan(), AckPlan::Drop);
        assert_eq!(faults.take_ack_plan(), AckPlan::Drop);
        assert_eq!(faults.take_ack_plan(), AckPlan::Delay(5));
        faults.clear();
        assert_eq!(faults.take_ack_plan(), AckPlan::Now);
    }
}
