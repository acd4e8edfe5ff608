//! JSON request bodies of the account and chat routes, and the account answer as the
//! JS API's `Session`, written by the JSON codec (keys in the order serde_json's sorted
//! maps wrote them, so the texts are as before).

use crate::json::{Reader, ToJson, Writer};

/// `POST /v1/chats`: a direct chat or a group.
pub fn create_chat_body(kind: &str, member_ids: &[String], name: &str) -> String {
    let mut body = Writer::default();
    let mut object = body.object();
    object
        .field("member_ids", member_ids)
        .field("name", name)
        .field("type", kind);
    object.end();
    body.finish()
}

/// `POST /v1/dev/sign-in` (the emulator's): `null` for what is not given.
pub fn sign_in_body(nickname: &str, device_id: Option<&str>, ttl_secs: Option<u32>) -> String {
    let mut body = Writer::default();
    let mut object = body.object();
    object
        .field("device_id", &device_id)
        .field("nickname", nickname)
        .field("ttl_secs", &ttl_secs);
    object.end();
    body.finish()
}

/// `POST /v1/agents/connect`: a one-time code, for a web user.
pub fn activate_body(code: &str) -> String {
    let mut body = Writer::default();
    let mut object = body.object();
    object
        .field("code", code)
        .field("platform", "web")
        .field("type", "user");
    object.end();
    body.finish()
}

/// The JS API's name of each field of an account answer's `data`, with the wire's.
const SESSION_FIELDS: [(&str, &str); 7] = [
    ("accessToken", "access_token"),
    ("activatedAt", "activated_at"),
    ("deviceId", "device_id"),
    ("nickname", "nickname"),
    ("refreshToken", "refresh_token"),
    ("userId", "user_id"),
    ("websocketUrl", "websocket_url"),
];

/// An account answer's `data` (sign-in, activation) as the JS API's `Session`: the
/// wire's fields under camelCase names, each as written (`null` when absent or when
/// `data` is no object). `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountSession<'a>([&'a str; 7]);

impl std::fmt::Debug for AccountSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountSession(<redacted>)")
    }
}

impl<'a> AccountSession<'a> {
    /// The session fields of `data` (JSON text).
    pub fn read(data: &'a str) -> Self {
        let mut values = ["null"; 7];
        let read = Reader::new(data).object(|r, key| {
            match SESSION_FIELDS.iter().position(|(_, wire)| *wire == key) {
                Some(index) => {
                    let raw = r.raw()?;
                    if let Some(slot) = values.get_mut(index) {
                        *slot = raw;
                    }
                    Ok(())
                }
                None => r.skip(),
            }
        });
        AccountSession(if read.is_ok() { values } else { ["null"; 7] })
    }
}

impl ToJson for AccountSession<'_> {
    fn write(&self, writer: &mut Writer) {
        let mut object = writer.object();
        for ((key, _), value) in SESSION_FIELDS.iter().zip(self.0) {
            object.key(key).raw(value);
        }
        object.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_string;
    use serde_json::{json, Value};

    #[test]
    fn bodies_are_what_serde_json_wrote() {
        let members = vec!["u1".to_owned(), "u\"2".to_owned()];
        assert_eq!(
            create_chat_body("group", &members, "g é"),
            r#"{"member_ids":["u1","u\"2"],"name":"g é","type":"group"}"#
        );
        assert_eq!(
            create_chat_body("direct", &[], ""),
            json!({"type": "direct", "member_ids": Vec::<String>::new(), "name": ""}).to_string()
        );
        assert_eq!(
            sign_in_body("ann", Some("d1"), Some(90)),
            r#"{"device_id":"d1","nickname":"ann","ttl_secs":90}"#
        );
        assert_eq!(
            sign_in_body("ann", None, None),
            r#"{"device_id":null,"nickname":"ann","ttl_secs":null}"#
        );
        assert_eq!(
            activate_body("c\\1"),
            r#"{"code":"c\\1","platform":"web","type":"user"}"#
        );
    }

    /// The session as `js::account_request` built it with serde_json before the codec.
    fn serde_session(data: &Value) -> String {
        let field = |key: &str| data.get(key).cloned().unwrap_or(Value::Null);
        json!({
            "userId": field("user_id"),
            "nickname": field("nickname"),
            "deviceId": field("device_id"),
            "accessToken": field("access_token"),
            "refreshToken": field("refresh_token"),
            "websocketUrl": field("websocket_url"),
            "activatedAt": field("activated_at"),
        })
        .to_string()
    }

    #[test]
    fn an_account_answer_is_a_camel_case_session_with_nulls_for_the_missing() {
        let data = json!({"user_id": "u1", "nickname": "ann", "device_id": "d1",
            "access_token": "a", "refresh_token": "r", "websocket_url": "ws://h/ws",
            "activated_at": 1_700_000_000_000_i64, "extra": {"x_y": 1}});
        let text = data.to_string();
        let session = to_string(&AccountSession::read(&text));
        assert_eq!(
            session,
            r#"{"accessToken":"a","activatedAt":1700000000000,"deviceId":"d1","nickname":"ann","refreshToken":"r","userId":"u1","websocketUrl":"ws://h/ws"}"#
        );
        assert_eq!(session, serde_session(&data));
        for text in [
            r#"{"user_id": 5, "nickname": {"nick_name": [1.5]}, "user_id": "u\u00e9"}"#,
            "[1]",
            "null",
            "{",
        ] {
            let ours: Value =
                serde_json::from_str(&to_string(&AccountSession::read(text))).unwrap();
            let data = serde_json::from_str(text).unwrap_or(Value::Null);
            let old: Value = serde_json::from_str(&serde_session(&data)).unwrap();
            assert_eq!(ours, old, "{text}");
        }
    }

    /// Review finding: `AccountSession` holds the access and refresh tokens of a
    /// sign-in answer as written, and its derived `Debug` prints them; every other type
    /// holding a token (`StoredSession`, `TokenPair`, `Connect`) redacts them in `Debug`.
    #[test]
    fn debug_never_shows_the_tokens_of_an_account_answer() {
        let data = r#"{"user_id":"u1","access_token":"eyJSECRET","refresh_token":"rt_SECRET"}"#;
        let text = format!("{:?}", AccountSession::read(data));
        assert!(!text.contains("SECRET"), "{text}");
    }
}
