//! Capped exponential reconnect backoff with added jitter (PROTOCOL.md §4: 500 ms
//! doubling to 15 s, plus 0–30 %).

/// Reconnect delays: attempt `n` waits `min(cap, initial·2ⁿ⁻¹)` plus a uniform extra of
/// up to `jitter_percent` % of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first base delay.
    pub initial_ms: u32,
    /// The largest base delay.
    pub cap_ms: u32,
    /// The most jitter added, in percent of the base delay.
    pub jitter_percent: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 500,
            cap_ms: 15_000,
            jitter_percent: 30,
        }
    }
}

impl Backoff {
    /// The base delay for `attempt` (1-based), before jitter.
    pub fn base_ms(&self, attempt: u32) -> u32 {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_ms
            .saturating_mul(1u32 << doublings)
            .min(self.cap_ms)
    }

    /// The longest delay `attempt` can get (base plus full jitter).
    pub fn ceiling_ms(&self, attempt: u32) -> u32 {
        self.delay_ms(attempt, 1.0)
    }

    /// The delay for `attempt`, given a uniform random `fraction` in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, fraction: f64) -> u32 {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let base = f64::from(self.base_ms(attempt));
        let jitter = base * f64::from(self.jitter_percent.min(100)) / 100.0 * fraction;
        (base + jitter).min(f64::from(u32::MAX)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_delays_double_from_half_a_second_up_to_fifteen() {
        let b = Backoff::default();
        let bases: Vec<u32> = (1..=8).map(|n| b.base_ms(n)).collect();
        assert_eq!(
            bases,
            [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]
        );
        assert_eq!(b.base_ms(u32::MAX), 15_000);
    }

    #[test]
    fn jitter_adds_zero_to_thirty_percent_for_any_fraction() {
        let b = Backoff::default();
        for attempt in 1..40 {
            for fraction in [0.0, 0.1, 0.5, 0.999, 1.0, -3.0, f64::NAN, f64::INFINITY] {
                let d = b.delay_ms(attempt, fraction);
                let base = b.base_ms(attempt);
                assert!(
                    d >= base && d <= base + base * 3 / 10,
                    "{attempt} {fraction} {d}"
                );
            }
        }
        assert_eq!(b.delay_ms(1, 0.0), 500);
        assert_eq!(b.delay_ms(1, 0.5), 575);
        assert_eq!(b.ceiling_ms(6), 19_500);
    }
}
