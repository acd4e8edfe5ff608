//! Message fragments: the pieces a message body is made of.

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kind of a media fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// Any file.
    File,
    /// A sound clip.
    Audio,
    /// A video clip.
    Video,
}

/// A media attachment: where it lives and what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// Which kind of media this is.
    pub kind: MediaKind,
    /// Where the bytes can be fetched.
    pub url: String,
    /// File name shown to people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type, e.g. `image/png`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Duration in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
}

/// One piece of a message body.
///
/// Fragments of a kind this client does not know, or of a known kind whose fields do not
/// parse, are kept verbatim as [`Fragment::Unsupported`] so nothing is ever dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Fragment {
    /// Plain text. On a streaming `add`, `text` is cumulative and `delta` the new part.
    Text {
        /// The text.
        text: String,
        /// The newly appended part (streaming only).
        delta: Option<String>,
    },
    /// A mention of a user.
    Mention {
        /// The mentioned user's id.
        user_id: Option<String>,
        /// How the mention is displayed.
        display: Option<String>,
    },
    /// An image, file, audio or video attachment.
    Media(Media),
    /// A fragment this client cannot interpret, preserved as received.
    Unsupported(Value),
}

impl Fragment {
    /// A text fragment without a delta.
    pub fn text(text: impl Into<String>) -> Self {
        Fragment::Text {
            text: text.into(),
            delta: None,
        }
    }

    /// The text this fragment contributes to a plain-text rendering.
    pub fn plain_text(&self) -> Option<&str> {
        match self {
            Fragment::Text { text, .. } => Some(text),
            Fragment::Mention { display, .. } => display.as_deref(),
            _ => None,
        }
    }

    /// Roughly how many bytes this fragment holds (its strings; raw ones as JSON text).
    pub fn approx_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        match self {
            Fragment::Text { text, delta } => text.len().saturating_add(opt(delta)),
            Fragment::Mention { user_id, display } => opt(user_id).saturating_add(opt(display)),
            Fragment::Media(m) => m
                .url
                .len()
                .saturating_add(opt(&m.name))
                .saturating_add(opt(&m.mime)),
            Fragment::Unsupported(raw) => raw.to_string().len(),
        }
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        match self {
            Fragment::Text { text, delta } => {
                map.insert("kind".into(), "text".into());
                map.insert("text".into(), text.as_str().into());
                if let Some(delta) = delta {
                    map.insert("delta".into(), delta.as_str().into());
                }
            }
            Fragment::Mention { user_id, display } => {
                map.insert("kind".into(), "mention".into());
                if let Some(id) = user_id {
                    map.insert("user_id".into(), id.as_str().into());
                }
                if let Some(display) = display {
                    map.insert("display".into(), display.as_str().into());
                }
            }
            Fragment::Media(media) => return serde_json::to_value(media).unwrap_or(Value::Null),
            Fragment::Unsupported(raw) => return raw.clone(),
        }
        Value::Object(map)
    }

    /// The fragment a JSON object describes (an unknown kind, or a known kind without its
    /// required fields, is kept as `Unsupported`).
    pub fn from_value(raw: Value) -> Self {
        let kind = raw.get("kind").and_then(Value::as_str).unwrap_or_default();
        let optional = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_owned);
        match kind {
            "text" => match raw.get("text").and_then(Value::as_str) {
                Some(text) => Fragment::Text {
                    text: text.to_owned(),
                    delta: optional("delta"),
                },
                None => Fragment::Unsupported(raw),
            },
            "mention" => Fragment::Mention {
                user_id: optional("user_id"),
                display: optional("display"),
            },
            "image" | "file" | "audio" | "video" => match Media::deserialize(&raw) {
                Ok(media) => Fragment::Media(media),
                Err(_) => Fragment::Unsupported(raw),
            },
            _ => Fragment::Unsupported(raw),
        }
    }
}

impl Serialize for Fragment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Fragment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Fragment::from_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(raw: Value) -> (Fragment, Value) {
        let fragment: Fragment = serde_json::from_value(raw).unwrap();
        let back = serde_json::to_value(&fragment).unwrap();
        (fragment, back)
    }

    #[test]
    fn every_known_kind_round_trips() {
        for raw in [
            json!({"kind": "text", "text": "hi"}),
            json!({"kind": "text", "text": "hi there", "delta": " there"}),
            json!({"kind": "mention", "user_id": "u1", "display": "@ann"}),
            json!({"kind": "image", "url": "/m/1.png", "mime": "image/png", "size": 10, "width": 2, "height": 3}),
            json!({"kind": "file", "url": "/m/a.pdf", "name": "a.pdf"}),
            json!({"kind": "audio", "url": "/m/a.ogg", "duration": 1200}),
            json!({"kind": "video", "url": "/m/v.mp4"}),
        ] {
            let (fragment, back) = round_trip(raw.clone());
            assert!(!matches!(fragment, Fragment::Unsupported(_)), "{raw}");
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn unknown_and_malformed_fragments_are_preserved_verbatim() {
        for raw in [
            json!({"kind": "sticker", "pack": 7}),
            json!({"kind": "text"}),
            json!({"kind": "image"}),
            json!({"no_kind": true}),
            json!("just a string"),
            json!(null),
        ] {
            let (fragment, back) = round_trip(raw.clone());
            assert_eq!(fragment, Fragment::Unsupported(raw.clone()));
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn a_repeated_key_counts_once_and_the_last_one_wins() {
        let parse = |text: &str| serde_json::from_str::<Fragment>(text).unwrap();
        assert_eq!(
            parse(r#"{"kind":"text","text":1,"delta":"d","text":"b","delta":2}"#),
            Fragment::text("b")
        );
        assert_eq!(
            parse(r#"{"kind":"text","text":"a","text":1}"#),
            Fragment::Unsupported(json!({"kind": "text", "text": 1}))
        );
        assert_eq!(
            parse(r#"{"kind":"sticker","kind":"mention","user_id":"u","display":7}"#),
            Fragment::Mention {
                user_id: Some("u".into()),
                display: None
            }
        );
    }

    #[test]
    fn fragments_are_written_with_their_keys_sorted_as_a_json_map_keeps_them() {
        for raw in [
            r#"{"delta":" there","kind":"text","text":"hi there"}"#,
            r#"{"display":"@ann","kind":"mention","user_id":"u1"}"#,
            r#"{"duration":5,"height":3,"kind":"video","mime":"video/mp4","name":"v","size":10,"url":"/v","width":2}"#,
            r#"{"a":1,"kind":"sticker","z":[null]}"#,
        ] {
            let fragment: Fragment = serde_json::from_str(raw).unwrap();
            assert_eq!(serde_json::to_string(&fragment).unwrap(), raw);
        }
    }

    #[test]
    fn plain_text_reads_text_and_mentions() {
        assert_eq!(Fragment::text("a").plain_text(), Some("a"));
        let mention = Fragment::Mention {
            user_id: None,
            display: Some("@b".into()),
        };
        assert_eq!(mention.plain_text(), Some("@b"));
    }
}
