//! Capped exponential reconnect backoff with full jitter.

/// Reconnect delays: attempt `n` waits a uniform time in `[0, min(cap, initial·2ⁿ⁻¹)]`,
/// never less than `floor_ms` (so a dead server is not hammered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first ceiling.
    pub initial_ms: u32,
    /// The largest ceiling.
    pub cap_ms: u32,
    /// The smallest delay.
    pub floor_ms: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 1_000,
            cap_ms: 30_000,
            floor_ms: 250,
        }
    }
}

impl Backoff {
    /// The ceiling for `attempt` (1-based).
    pub fn ceiling_ms(&self, attempt: u32) -> u32 {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_ms
            .saturating_mul(1u32 << doublings)
            .min(self.cap_ms)
            .max(self.floor_ms)
    }

    /// The delay for `attempt`, given a uniform random `fraction` in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, fraction: f64) -> u32 {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let ceiling = self.ceiling_ms(attempt);
        let jittered = (f64::from(ceiling) * fraction) as u32;
        jittered.max(self.floor_ms).min(ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::default();
        let ceilings: Vec<u32> = (1..=8).map(|n| b.ceiling_ms(n)).collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        assert_eq!(b.ceiling_ms(u32::MAX), 30_000);
    }

    #[test]
    fn delays_stay_within_floor_and_ceiling_for_any_fraction() {
        let b = Backoff::default();
        for attempt in 1..40 {
            for fraction in [0.0, 0.1, 0.5, 0.999, 1.0, -3.0, f64::NAN, f64::INFINITY] {
                let d = b.delay_ms(attempt, fraction);
                assert!(
                    d >= b.floor_ms && d <= b.ceiling_ms(attempt),
                    "{attempt} {fraction} {d}"
                );
            }
        }
        assert_eq!(b.delay_ms(3, 0.5), 2_000);
    }
}
