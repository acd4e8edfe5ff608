//! Reading claims from an access token (PROTOCOL.md §2 §A.0) without verifying it:
//! the client only needs `exp`, `iat` and `did` to schedule refreshes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use serde_json::Number;

use crate::json::{self, FromJson, JsonError, Kind, Reader};

/// The largest token this module will look into (**ours**; real JWTs are far smaller).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The claims the client uses. Each is `None` when absent or not of the right type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// Expiry, epoch seconds.
    pub exp: Option<i64>,
    /// Issued-at, epoch seconds.
    pub iat: Option<i64>,
    /// The device id the token was issued for.
    pub did: Option<String>,
}

impl Claims {
    /// Expiry in epoch milliseconds.
    pub fn exp_ms(&self) -> Option<i64> {
        self.exp.and_then(|s| s.checked_mul(1000))
    }

    /// Issued-at in epoch milliseconds.
    pub fn iat_ms(&self) -> Option<i64> {
        self.iat.and_then(|s| s.checked_mul(1000))
    }
}

/// Decodes the payload segment (base64url, padded or not) of a JWT. `None` on anything
/// odd: not three segments, bad base64, not a JSON object, oversized.
pub fn decode_claims(token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut segments = token.split('.');
    let (_header, payload) = (segments.next()?, segments.next()?);
    segments.next()?;
    if segments.next().is_some() || payload.is_empty() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    // Text, not bytes: the one `&str` JSON reader the rest of the client uses (a second,
    // byte-slice reader would add its own copy of the parser to the module).
    let text = std::str::from_utf8(&bytes).ok()?;
    json::from_str(text).ok()
}

/// The payload object: only the claims we read are kept, each `None` when of another
/// type (the rest is skipped without being built). A repeated claim: the last one counts
/// (RFC 7519 §4 allows that or refusing the token).
impl FromJson<'_> for Claims {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut claims = Claims::default();
        r.object(|r, key| {
            match key {
                "exp" => claims.exp = epoch_seconds(r)?,
                "iat" => claims.iat = epoch_seconds(r)?,
                "did" => {
                    claims.did = match r.peek()? {
                        Kind::String => Some(r.read()?),
                        _ => r.skip().map(|()| None)?,
                    }
                }
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(claims)
    }
}

/// A JSON number as whole epoch seconds: an integer as it is (any `i64`), another number
/// truncated when within ±10^15 s; `None` for anything else.
fn epoch_seconds(r: &mut Reader<'_>) -> Result<Option<i64>, JsonError> {
    if r.peek()? != Kind::Number {
        return r.skip().map(|()| None);
    }
    let number: Number = r.read()?;
    Ok(number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJIUzI1NiJ9.{}.sig",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_exp_iat_and_did() {
        let claims =
            decode_claims(&jwt(r#"{"exp":1700000600,"iat":1700000000,"did":"dev-1"}"#)).unwrap();
        assert_eq!(claims.exp, Some(1_700_000_600));
        assert_eq!(claims.iat, Some(1_700_000_000));
        assert_eq!(claims.exp_ms(), Some(1_700_000_600_000));
        assert_eq!(claims.did.as_deref(), Some("dev-1"));
    }

    #[test]
    fn padded_payloads_decode_too() {
        let payload = r#"{"exp":12}"#; // 10 bytes: padded base64 ends in "=="
        let padded = format!("h.{}.s", URL_SAFE.encode(payload));
        assert!(padded.contains('='));
        assert_eq!(decode_claims(&padded).unwrap().exp, Some(12));
    }

    #[test]
    fn fractional_exp_is_truncated_and_wrong_types_are_none() {
        assert_eq!(
            decode_claims(&jwt(r#"{"exp":10.9}"#)).unwrap().exp,
            Some(10)
        );
        let claims = decode_claims(&jwt(r#"{"exp":"10","iat":null,"did":5}"#)).unwrap();
        assert_eq!(claims, Claims::default());
        assert_eq!(decode_claims(&jwt(r#"{"exp":1e300}"#)).unwrap().exp, None);
    }

    #[test]
    fn the_last_of_a_repeated_claim_counts_and_other_claims_are_skipped() {
        let claims = decode_claims(&jwt(
            r#"{"exp":1,"sub":{"a":[1,{"b":null}]},"exp":2,"did":"a","did":["b"]}"#,
        ))
        .unwrap();
        assert_eq!((claims.exp, claims.did), (Some(2), None));
        let big = decode_claims(&jwt(r#"{"exp":100000000000000000,"iat":-1.5e3}"#)).unwrap();
        assert_eq!(
            (big.exp, big.iat),
            (Some(100_000_000_000_000_000), Some(-1500))
        );
        assert_eq!(big.exp_ms(), None, "beyond i64 milliseconds");
    }

    #[test]
    fn anything_odd_is_none() {
        let oversized = jwt(&format!(r#"{{"exp":1,"x":"{}"}}"#, "a".repeat(20_000)));
        for token in [
            "".to_owned(),
            "abc".to_owned(),
            "a.b".to_owned(),
            "a..c".to_owned(),
            "a.b.c.d".to_owned(),
            "a.!!!.c".to_owned(),
            jwt("not json"),
            jwt("[1,2]"),
            jwt("42"),
            jwt(r#"{"exp":1"#),
            jwt(r#"{"exp":1} x"#),
            jwt(r#"{"exp":1e400,"iat":5}"#),
            oversized,
        ] {
            assert_eq!(decode_claims(&token), None, "{token:.40}");
        }
    }
}
