//! The REST results the client reads itself (uploads, history pages), from their JSON
//! text. (The JS boundary's renaming of keys, snake_case ↔ camelCase, is the JSON
//! writer's: [`crate::json::Writer::camel_case`], [`crate::json::Writer::snake_case`].)

use std::borrow::Cow;

use serde_json::Number;

use super::envelope::text;
use crate::json::{Kind, Reader};

/// What `POST /media/upload` answers in its `data`: each field `None` when absent or of
/// another type (`size` a non-negative integer).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UploadAnswer {
    /// Where the file is served (relative to the base URL or absolute).
    pub url: Option<String>,
    /// Its media type.
    pub mime: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

impl UploadAnswer {
    /// The answer in `data` (JSON text); all `None` unless it is an object.
    pub fn read(data: &str) -> Self {
        let mut answer = UploadAnswer::default();
        let read = Reader::new(data).object(|r, key| {
            match key {
                "url" => answer.url = text(r)?.map(Cow::into_owned),
                "mime" => answer.mime = text(r)?.map(Cow::into_owned),
                "size" => {
                    answer.size = match r.peek()? {
                        Kind::Number => r.read::<Number>()?.as_u64(),
                        _ => r.skip().map(|()| None)?,
                    }
                }
                _ => r.skip()?,
            }
            Ok(())
        });
        read.map_or_else(|_| UploadAnswer::default(), |()| answer)
    }
}

/// The items of a history page's `data` (`{"items": [...]}`), each as its JSON text;
/// none when `data` or `items` is of another shape.
pub fn history_items(data: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let read = Reader::new(data).object(|r, key| match (key, r.peek()?) {
        ("items", Kind::Array) => {
            items.clear();
            r.array(|r| {
                items.push(r.raw()?);
                Ok(())
            })
        }
        ("items", _) => {
            items.clear();
            r.skip()
        }
        _ => r.skip(),
    });
    if read.is_err() {
        items.clear();
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{to_string_camel, Reparsed, ToJson, Writer};
    use serde_json::{json, Value};

    /// `value` renamed as JS receives it: written by a camelCase writer.
    fn camel_case_keys(value: Value) -> Value {
        let text = to_string_camel(&Reparsed(&value.to_string()));
        serde_json::from_str(&text).unwrap()
    }

    /// `value` renamed as it goes from JS to the wire: written by a snake_case writer.
    fn snake_case_keys(value: Value) -> Value {
        let mut writer = Writer::snake_case();
        Reparsed(&value.to_string()).write(&mut writer);
        serde_json::from_str(&writer.finish()).unwrap()
    }

    #[test]
    fn profiles_and_chats_get_camel_case_keys_and_keep_their_values() {
        let data = json!({"id": "u_1", "nickname": "ann_b", "avatar_url": "/a_b.png", "bio": null});
        assert_eq!(
            camel_case_keys(data),
            json!({"id": "u_1", "nickname": "ann_b", "avatarUrl": "/a_b.png", "bio": null})
        );
        let chats = json!([{"id": "c1", "type": "group", "name": "g", "member_ids": ["u1", "u2"]}]);
        assert_eq!(
            camel_case_keys(chats),
            json!([{"id": "c1", "type": "group", "name": "g", "memberIds": ["u1", "u2"]}])
        );
    }

    #[test]
    fn nested_keys_are_renamed_and_odd_keys_do_not_panic() {
        let data = json!({"last_message": {"sent_at": 1}, "_private": 1, "a__b": 2, "x_": 3,
            "é_é": 4, "": 5});
        assert_eq!(
            camel_case_keys(data),
            json!({"lastMessage": {"sentAt": 1}, "_private": 1, "aB": 2, "x": 3, "éé": 4, "": 5})
        );
        assert_eq!(camel_case_keys(json!("plain_text")), json!("plain_text"));
    }

    #[test]
    fn only_keys_are_renamed() {
        let value = json!({"message_id": "m_1", "fragments": [{"kind": "mention",
            "user_id": "u_1", "display": "a\"_b\":"}], "mentions": [{"user_id": "all",
            "nick_name": "x"}, "plain_id"], "_lead": 2, "": 3, "n": [1, {"a_b": null}]});
        assert_eq!(
            camel_case_keys(value),
            json!({"messageId": "m_1", "fragments": [{"kind": "mention", "userId": "u_1",
                "display": "a\"_b\":"}], "mentions": [{"userId": "all", "nickName": "x"},
                "plain_id"], "_lead": 2, "": 3, "n": [1, {"aB": null}]})
        );
    }

    #[test]
    fn upload_answers_read_as_serde_json_values_read_them() {
        let answer = UploadAnswer::read(
            r#"{"url":"/media/a\u00e9","mime":"image/png","size":12,"extra":[1e400]}"#,
        );
        assert_eq!(
            answer,
            UploadAnswer {
                url: Some("/media/aé".into()),
                mime: Some("image/png".into()),
                size: Some(12)
            }
        );
        for data in [
            r#"{"url":5,"mime":null,"size":-1}"#,
            r#"{"size":1.0}"#,
            r#"{"size":"12"}"#,
            r#"[{"url":"/a"}]"#,
            "null",
            r#"{"url":"/a""#,
        ] {
            assert_eq!(UploadAnswer::read(data), UploadAnswer::default(), "{data}");
        }
    }

    #[test]
    fn history_items_are_the_texts_of_the_items_array() {
        assert_eq!(
            history_items(r#"{"cursor":null,"items":[{"a":1}, "x" ,[2]],"more":true}"#),
            [r#"{"a":1}"#, r#""x""#, "[2]"]
        );
        assert_eq!(history_items(r#"{"items":[1],"items":[2]}"#), ["2"]);
        for data in [
            r#"{"items":{}}"#,
            r#"{"items":[1],"items":null}"#,
            "[[1]]",
            "null",
            r#"{"items":[1"#,
        ] {
            assert!(history_items(data).is_empty(), "{data}");
        }
    }

    #[test]
    fn camel_case_from_js_goes_back_to_the_wire_names() {
        let fragments = json!([{"kind": "mention", "userId": "u_1", "display": "@ann"},
            {"kind": "image", "url": "/a_b.png", "size": 3}, {"kind": "x", "aBC": 1, "": 2}]);
        let wire = snake_case_keys(fragments.clone());
        assert_eq!(
            wire,
            json!([{"kind": "mention", "user_id": "u_1", "display": "@ann"},
                {"kind": "image", "url": "/a_b.png", "size": 3}, {"kind": "x", "a_b_c": 1, "": 2}])
        );
        assert_eq!(camel_case_keys(wire)[0], fragments[0]);
        assert_eq!(
            snake_case_keys(json!({"user_id": "all"})),
            json!({"user_id": "all"})
        );
    }
}
