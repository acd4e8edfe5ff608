//! HS256 access tokens issued and checked by the emulator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The claims of an emulator access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The device id the session was created with.
    pub did: String,
    /// Issued at (epoch seconds).
    pub iat: i64,
    /// Expires at (epoch seconds).
    pub exp: i64,
    /// Unique token id, so two tokens issued in the same second differ.
    pub jti: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three segments, bad base64 or bad JSON.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// Past `exp`.
    Expired,
}

/// Signs and verifies tokens with one secret key.
pub struct Signer {
    key: Vec<u8>,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl Signer {
    /// A signer for `key`.
    pub fn new(key: Vec<u8>) -> Self {
        Signer { key }
    }

    fn mac(&self, signing_input: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(signing_input.as_bytes());
        mac
    }

    /// A signed compact JWT for `claims`.
    pub fn issue(&self, claims: &AccessClaims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.mac(&input).finalize().into_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The claims of `token` if it is well-formed, signed by us and not expired at `now`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<AccessClaims, TokenError> {
        let (input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (_, payload) = input.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(input)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: AccessClaims =
            serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if now_secs >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: "u1".into(),
            did: "d1".into(),
            iat: 100,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let signer = Signer::new(b"k".to_vec());
        let token = signer.issue(&claims(200));
        assert_eq!(signer.verify(&token, 199), Ok(claims(200)));
        assert_eq!(signer.verify(&token, 200), Err(TokenError::Expired));
        let sdk_view = clawchat_wasm::auth::decode_claims(&token).unwrap();
        assert_eq!(
            (sdk_view.exp, sdk_view.iat, sdk_view.did.as_deref()),
            (Some(200), Some(100), Some("d1"))
        );
    }

    #[test]
    fn other_keys_and_tampering_are_refused() {
        let token = Signer::new(b"k".to_vec()).issue(&claims(200));
        assert_eq!(
            Signer::new(b"other".to_vec()).verify(&token, 0),
            Err(TokenError::BadSignature)
        );
        let mut tampered = token.clone();
        tampered.insert(40, 'x');
        assert!(Signer::new(b"k".to_vec()).verify(&tampered, 0).is_err());
        for junk in ["", "a", "a.b", "a.b.c", "..", "a.b.!!"] {
            assert!(
                Signer::new(b"k".to_vec()).verify(junk, 0).is_err(),
                "{junk}"
            );
        }
    }
}
