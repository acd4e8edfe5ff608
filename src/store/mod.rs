//! The stored session: one row per account with the token pair, user and device ids
//! and the activation time. No expiry column: expiry is derived from the token.

pub mod history_page;
pub mod memory;
pub mod message_cache;
pub mod message_memory;
pub mod message_pages;
pub mod outbox_memory;

use std::fmt;

use crate::api::TokenPair;
use crate::json::{self, FromJson, JsonError, Reader, ToJson, Writer};

/// One account's credentials as stored (IndexedDB, or the app's storage object), its
/// keys snake_case. `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The key of the row (the account).
    pub account_key: String,
    /// The user id.
    pub user_id: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The device id bound at sign-in; every refresh uses it.
    pub device_id: String,
    /// When the session was activated (ms); the fallback for expiry.
    pub activated_at: i64,
    /// When this pair was last rotated (ms, the rotating tab's clock; 0 if never): the
    /// per-account refresh floor, shared by every tab through the row. Absent (or
    /// `null`) in rows of builds before it: 0.
    pub refreshed_at: i64,
}

impl FromJson<'_> for StoredSession {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut account_key, mut user_id, mut access_token) = (None, None, None);
        let (mut refresh_token, mut device_id, mut activated_at) = (None, None, None);
        let mut refreshed_at = None;
        r.object(|r, key| {
            match key {
                "account_key" => account_key = Some(r.read()?),
                "user_id" => user_id = Some(r.read()?),
                "access_token" => access_token = Some(r.read()?),
                "refresh_token" => refresh_token = Some(r.read()?),
                "device_id" => device_id = Some(r.read()?),
                "activated_at" => activated_at = Some(r.read()?),
                "refreshed_at" => refreshed_at = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(StoredSession {
            account_key: json::required(account_key, "account_key")?,
            user_id: json::required(user_id, "user_id")?,
            access_token: json::required(access_token, "access_token")?,
            refresh_token: json::required(refresh_token, "refresh_token")?,
            device_id: json::required(device_id, "device_id")?,
            activated_at: json::required(activated_at, "activated_at")?,
            refreshed_at: refreshed_at.unwrap_or_default(),
        })
    }
}

impl ToJson for StoredSession {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("account_key", &self.account_key)
            .field("user_id", &self.user_id)
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("device_id", &self.device_id)
            .field("activated_at", &self.activated_at)
            .field("refreshed_at", &self.refreshed_at);
        o.end();
    }
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("account_key", &self.account_key)
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("activated_at", &self.activated_at)
            .field("refreshed_at", &self.refreshed_at)
            .finish_non_exhaustive()
    }
}

impl StoredSession {
    /// The same session with a pair rotated at `now`.
    pub fn rotated(&self, pair: &TokenPair, now: i64) -> StoredSession {
        StoredSession {
            access_token: pair.access_token.clone(),
            refresh_token: pair.refresh_token.clone(),
            refreshed_at: now,
            ..self.clone()
        }
    }

    /// Checks a row read back from storage: every id and token present.
    pub fn validate(self) -> Result<StoredSession, StoreError> {
        let blank = [
            ("account_key", &self.account_key),
            ("user_id", &self.user_id),
            ("access_token", &self.access_token),
            ("device_id", &self.device_id),
        ]
        .into_iter()
        .find(|(_, v)| v.trim().is_empty());
        match blank {
            Some((field, _)) => Err(StoreError::Malformed(format!(
                "stored session has a blank {field}"
            ))),
            None => Ok(self),
        }
    }
}

/// A storage failure. Messages never contain tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The storage is not available here (no IndexedDB, a JS store without methods).
    Unavailable(String),
    /// A read or write failed.
    Io(String),
    /// A stored row does not have the expected shape.
    Malformed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "token store unavailable: {m}"),
            StoreError::Io(m) => write!(f, "token store failed: {m}"),
            StoreError::Malformed(m) => write!(f, "token store row malformed: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> StoredSession {
        StoredSession {
            account_key: "ann".into(),
            user_id: "u1".into(),
            access_token: "secret-access".into(),
            refresh_token: "secret-refresh".into(),
            device_id: "d1".into(),
            activated_at: 5,
            refreshed_at: 0,
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let text = format!("{:?}", session());
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn rotation_keeps_identity_and_device() {
        let pair = TokenPair {
            access_token: "a2".into(),
            refresh_token: "r2".into(),
        };
        let rotated = session().rotated(&pair, 9);
        assert_eq!(
            (
                rotated.access_token.as_str(),
                rotated.refresh_token.as_str()
            ),
            ("a2", "r2")
        );
        assert_eq!(
            (
                rotated.device_id.as_str(),
                rotated.activated_at,
                rotated.refreshed_at
            ),
            ("d1", 5, 9)
        );
    }

    #[test]
    fn rows_with_blank_fields_are_malformed_and_wrong_shapes_fail_to_parse() {
        assert!(session().validate().is_ok());
        let mut blank = session();
        blank.device_id = " ".into();
        assert!(
            matches!(blank.validate(), Err(StoreError::Malformed(m)) if m.contains("device_id"))
        );
        for row in ["{}", r#"{"account_key":1}"#, "[]", "null"] {
            assert!(json::from_str::<StoredSession>(row).is_err(), "{row}");
        }
    }

    /// What serde's derive wrote (the build before), and rows of older builds.
    #[test]
    fn rows_are_written_as_before_and_older_rows_read() {
        let text = r#"{"account_key":"ann","user_id":"u1","access_token":"secret-access","refresh_token":"secret-refresh","device_id":"d1","activated_at":5,"refreshed_at":0}"#;
        assert_eq!(json::to_string(&session()), text);
        assert_eq!(json::from_str(text), Ok(session()));
        let rotated = StoredSession {
            refreshed_at: 9,
            ..session()
        };
        assert_eq!(json::from_str(&text.replace(":0}", ":9}")), Ok(rotated));
        // Before the refresh floor, and `null` there (serde refused it: lenient here,
        // a session is not lost over it), and keys of a newer build.
        let older = text.replace(r#","refreshed_at":0"#, "");
        assert_eq!(json::from_str(&older), Ok(session()));
        let null = text.replace(":0}", r#":null,"next":{"a":[1]}}"#);
        assert_eq!(json::from_str(&null), Ok(session()));
        assert_eq!(
            json::from_str::<StoredSession>(&text.replace(r#""device_id":"d1","#, "")),
            Err(JsonError::Missing { field: "device_id" })
        );
    }
}
