//! INTERIM (helper `rows`, issue 13): the codec impls the tab wire and the pending-send
//! list need of the protocol types they hold — [`Fragment`], [`ReplyContext`],
//! [`ReplyPreview`] — written to read and write exactly what their serde impls do.
//! Helper `proto` converts these types for good; when its branch is merged, this whole
//! file (and its `mod` line) goes, and its tests' literals check proto's impls.

use serde_json::Value;

use super::{Fragment, ReplyContext, ReplyPreview};
use crate::json::{self, FromJson, JsonError, Reader, ToJson, Writer};

/// As serde does: any JSON value, classified by [`Fragment::from_value`].
impl FromJson<'_> for Fragment {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        reader.read::<Value>().map(Fragment::from_value)
    }
}

/// As serde does: the fragment's JSON object, keys sorted (a JSON map keeps them so).
impl ToJson for Fragment {
    fn write(&self, writer: &mut Writer) {
        serde_json::to_value(self)
            .unwrap_or(Value::Null)
            .write(writer);
    }
}

impl FromJson<'_> for ReplyPreview {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut id, mut nick_name, mut fragments) = (None, String::new(), Vec::new());
        reader.object(|r, key| {
            match key {
                "id" => id = Some(r.read()?),
                "nick_name" => nick_name = r.read()?,
                "fragments" => fragments = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(ReplyPreview {
            id: json::required(id, "id")?,
            nick_name,
            fragments,
        })
    }
}

impl ToJson for ReplyPreview {
    fn write(&self, writer: &mut Writer) {
        let mut o = writer.object();
        o.field("id", &self.id)
            .field("nick_name", &self.nick_name)
            .field("fragments", &self.fragments);
        o.end();
    }
}

impl FromJson<'_> for ReplyContext {
    fn read(reader: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut reply_to_msg_id, mut reply_preview) = (None, None);
        reader.object(|r, key| {
            match key {
                "reply_to_msg_id" => reply_to_msg_id = Some(r.read()?),
                "reply_preview" => reply_preview = Some(r.read()?),
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(ReplyContext {
            reply_to_msg_id: json::required(reply_to_msg_id, "reply_to_msg_id")?,
            reply_preview: json::required(reply_preview, "reply_preview")?,
        })
    }
}

impl ToJson for ReplyContext {
    fn write(&self, writer: &mut Writer) {
        let mut o = writer.object();
        o.field("reply_to_msg_id", &self.reply_to_msg_id)
            .field("reply_preview", &self.reply_preview);
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Media, MediaKind};

    /// What the serde impls wrote for these values (taken from the build before).
    #[test]
    fn writes_what_serde_wrote_and_reads_it_back() {
        let fragments = vec![
            Fragment::text("hi"),
            Fragment::Mention {
                user_id: Some("u".into()),
                display: None,
            },
            Fragment::Media(Media {
                kind: MediaKind::Image,
                url: "/u".into(),
                name: None,
                mime: Some("image/png".into()),
                size: Some(3),
                width: None,
                height: None,
                duration: None,
            }),
        ];
        let reply = ReplyContext {
            reply_to_msg_id: "m0".into(),
            reply_preview: ReplyPreview {
                id: "m0".into(),
                nick_name: "ann".into(),
                fragments: fragments.clone(),
            },
        };
        let text = r#"{"reply_to_msg_id":"m0","reply_preview":{"id":"m0","nick_name":"ann","fragments":[{"kind":"text","text":"hi"},{"kind":"mention","user_id":"u"},{"kind":"image","mime":"image/png","size":3,"url":"/u"}]}}"#;
        assert_eq!(json::to_string(&reply), text);
        assert_eq!(json::from_str::<ReplyContext>(text), Ok(reply));
    }

    #[test]
    fn reads_defaults_unknown_keys_and_missing_fields_as_serde_did() {
        let preview: ReplyPreview = json::from_str(r#"{"id":"m","x":[1]}"#).unwrap();
        assert_eq!(
            (preview.nick_name.as_str(), preview.fragments.len()),
            ("", 0)
        );
        assert_eq!(
            json::from_str::<ReplyPreview>("{}"),
            Err(JsonError::Missing { field: "id" })
        );
        assert_eq!(
            json::from_str::<ReplyContext>(r#"{"reply_to_msg_id":"m"}"#),
            Err(JsonError::Missing {
                field: "reply_preview"
            })
        );
        let odd: Fragment = json::from_str(r#"{"kind":"sticker","pack":7}"#).unwrap();
        assert!(matches!(odd, Fragment::Unsupported(_)));
        assert_eq!(json::to_string(&odd), r#"{"kind":"sticker","pack":7}"#);
    }
}
