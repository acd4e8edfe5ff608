//! Reading claims from an access token (PROTOCOL.md §2 §A.0) without verifying it:
//! the client only needs `exp`, `iat` and `did` to schedule refreshes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

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
    // An object only (a derived struct would also accept an array).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    // Text, not bytes: the one `&str` JSON reader the rest of the client uses (a second,
    // byte-slice reader would add its own copy of the parser to the module).
    let text = std::str::from_utf8(&bytes).ok()?;
    let raw: RawClaims = serde_json::from_str(text).ok()?;
    Some(Claims {
        exp: raw.exp.as_ref().and_then(epoch_seconds),
        iat: raw.iat.as_ref().and_then(epoch_seconds),
        did: raw.did.as_ref().and_then(Value::as_str).map(str::to_owned),
    })
}

/// The payload object, only the claims we read kept (each of any JSON type; the rest
/// skipped without being built).
#[derive(serde::Deserialize)]
struct RawClaims {
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    did: Option<Value>,
}

/// A finite JSON number as whole epoch seconds (fractions truncated).
fn epoch_seconds(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    })
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
            oversized,
        ] {
            assert_eq!(decode_claims(&token), None, "{token:.40}");
        }
    }
}
