//! When to refresh (PROTOCOL.md §2 §A.0–§A.1, §A.4), on the server's clock: the lead is
//! capped at half the token's life, so a short token is never "due" from birth.

use super::jwt::decode_claims;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Lifetime assumed when the token has no `exp` (or no `iat`).
pub const FALLBACK_LIFETIME_MS: i64 = 24 * HOUR_MS;
/// Shortest lead before expiry.
pub const MIN_LEAD_MS: i64 = 30 * MINUTE_MS;
/// Longest lead before expiry.
pub const MAX_LEAD_MS: i64 = 2 * HOUR_MS;
/// Proactive jitter bound (uniform in ±this).
pub const JITTER_MS: i64 = 5 * MINUTE_MS;
/// Floor between two refresh attempts.
pub const MIN_REFRESH_INTERVAL_MS: i64 = 30_000;

/// When a token was issued and expires (epoch ms), decoded once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenTimes {
    /// Its `exp`, else `activated_at + 24 h`, else unknown.
    pub expires_at: Option<i64>,
    /// Its `iat`, if present.
    pub issued_at: Option<i64>,
}

impl TokenTimes {
    /// The times of `access_token` (activated at `activated_at_ms`, the expiry fallback).
    pub fn of(access_token: &str, activated_at_ms: Option<i64>) -> Self {
        let claims = decode_claims(access_token);
        TokenTimes {
            expires_at: claims
                .as_ref()
                .and_then(|c| c.exp_ms())
                .or_else(|| activated_at_ms.map(|at| at.saturating_add(FALLBACK_LIFETIME_MS))),
            issued_at: claims.and_then(|c| c.iat_ms()),
        }
    }

    /// The proactive refresh point with `jitter_ms`, if the expiry is known.
    pub fn refresh_at(&self, jitter_ms: i64) -> Option<i64> {
        Some(refresh_at_ms(self.expires_at?, self.issued_at, jitter_ms))
    }
}

/// Expiry of `access_token` in epoch ms: its `exp`, else `activated_at + 24 h`, else none.
pub fn expiry_ms(access_token: &str, activated_at_ms: Option<i64>) -> Option<i64> {
    TokenTimes::of(access_token, activated_at_ms).expires_at
}

/// `exp − min(clamp(0.25 × life, 30 min, 2 h), ½ life) + jitter`, the life taken as 24 h
/// when `iat` is unknown; the jitter is bounded by ±5 min and by a tenth of the life, so
/// the point always lies inside the token's life.
pub fn refresh_at_ms(exp_ms: i64, iat_ms: Option<i64>, jitter_ms: i64) -> i64 {
    let lifetime = iat_ms
        .map_or(FALLBACK_LIFETIME_MS, |iat| exp_ms.saturating_sub(iat))
        .max(0);
    let lead = (lifetime / 4)
        .clamp(MIN_LEAD_MS, MAX_LEAD_MS)
        .min(lifetime / 2);
    let bound = JITTER_MS.min(lifetime / 10);
    exp_ms - lead + jitter_ms.clamp(-bound, bound)
}

/// The proactive refresh point of `access_token`, if its expiry is known.
pub fn proactive_point_ms(
    access_token: &str,
    activated_at_ms: Option<i64>,
    jitter_ms: i64,
) -> Option<i64> {
    TokenTimes::of(access_token, activated_at_ms).refresh_at(jitter_ms)
}

/// A uniform jitter in ±[`JITTER_MS`] from a fraction in `[0, 1)`.
pub fn jitter_from_fraction(fraction: f64) -> i64 {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.5
    };
    ((fraction * 2.0 - 1.0) * JITTER_MS as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn jwt(payload: &str) -> String {
        format!("h.{}.s", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn the_lead_is_a_quarter_of_the_lifetime_clamped_to_30_min_and_2_h() {
        let exp = 100 * HOUR_MS;
        assert_eq!(
            refresh_at_ms(exp, Some(exp - 4 * HOUR_MS), 0),
            exp - HOUR_MS,
            "quarter of 4 h"
        );
        assert_eq!(
            refresh_at_ms(exp, Some(exp - HOUR_MS), 0),
            exp - 30 * MINUTE_MS,
            "clamped up"
        );
        assert_eq!(
            refresh_at_ms(exp, Some(exp - 60 * HOUR_MS), 0),
            exp - 2 * HOUR_MS,
            "clamped down"
        );
        assert_eq!(
            refresh_at_ms(exp, None, 0),
            exp - 2 * HOUR_MS,
            "unknown iat: 24 h lifetime"
        );
    }

    #[test]
    fn jitter_stays_within_five_minutes() {
        let exp = 100 * HOUR_MS;
        let base = refresh_at_ms(exp, None, 0);
        assert_eq!(refresh_at_ms(exp, None, 10 * HOUR_MS), base + JITTER_MS);
        assert_eq!(refresh_at_ms(exp, None, -10 * HOUR_MS), base - JITTER_MS);
        for f in [0.0, 0.25, 0.5, 0.999, 1.0, f64::NAN, -1.0] {
            let j = jitter_from_fraction(f);
            assert!((-JITTER_MS..=JITTER_MS).contains(&j), "{f} {j}");
        }
        assert_eq!(jitter_from_fraction(0.5), 0);
    }

    #[test]
    fn expiry_comes_from_exp_else_activation_plus_24_h_else_none() {
        assert_eq!(expiry_ms(&jwt(r#"{"exp":100}"#), Some(5)), Some(100_000));
        assert_eq!(
            expiry_ms("opaque-token", Some(5)),
            Some(5 + FALLBACK_LIFETIME_MS)
        );
        assert_eq!(expiry_ms("opaque-token", None), None);
        assert_eq!(proactive_point_ms("opaque-token", None, 0), None);
    }

    #[test]
    fn a_short_token_is_refreshed_at_half_its_life_never_at_birth() {
        let token = jwt(r#"{"iat":0,"exp":14400}"#); // 4 h: point at 3 h
        assert_eq!(proactive_point_ms(&token, None, 0), Some(3 * HOUR_MS));
        let emulator = jwt(r#"{"iat":1000,"exp":1900}"#); // 900 s: half of it
        assert_eq!(proactive_point_ms(&emulator, None, 0), Some(1_450_000));
        let demo = jwt(r#"{"iat":0,"exp":90}"#);
        assert_eq!(proactive_point_ms(&demo, None, 0), Some(45_000));
        assert_eq!(
            proactive_point_ms(&demo, None, JITTER_MS),
            Some(54_000),
            "jitter bounded by a tenth of the life"
        );
    }
}
