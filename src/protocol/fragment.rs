//! Message fragments: the pieces a message body is made of.

use std::borrow::Cow;

use crate::json::{FromJson, JsonError, Kind, RawJson, Reader, ToJson, Writer};

/// The kind of a media fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl MediaKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::File => "file",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "image" => MediaKind::Image,
            "file" => MediaKind::File,
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            _ => return None,
        })
    }
}

impl FromJson<'_> for MediaKind {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        MediaKind::parse(&r.string()?).ok_or(JsonError::Variant { field: "kind" })
    }
}

impl ToJson for MediaKind {
    fn write(&self, w: &mut Writer) {
        w.string(self.as_str());
    }
}

/// A media attachment: where it lives and what is known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// Which kind of media this is.
    pub kind: MediaKind,
    /// Where the bytes can be fetched.
    pub url: String,
    /// File name shown to people.
    pub name: Option<String>,
    /// MIME type, e.g. `image/png`.
    pub mime: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration in milliseconds.
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
    Unsupported(RawJson),
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
            Fragment::Unsupported(raw) => raw.text().len(),
        }
    }
}

/// One field of a fragment as read, before its `kind` (which may come last) says what
/// the field must be.
#[derive(Default)]
enum Slot<'a> {
    #[default]
    Absent,
    Null,
    Text(Cow<'a, str>),
    Number(&'a str),
    Other,
}

impl<'a> FromJson<'a> for Slot<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, JsonError> {
        Ok(match r.peek()? {
            Kind::Null => {
                r.null()?;
                Slot::Null
            }
            Kind::String => Slot::Text(r.string()?),
            Kind::Number => Slot::Number(r.number_text()?),
            Kind::Bool | Kind::Array | Kind::Object => {
                r.skip()?;
                Slot::Other
            }
        })
    }
}

impl Slot<'_> {
    /// The string, or `None` for anything else.
    fn text(self) -> Option<String> {
        match self {
            Slot::Text(text) => Some(text.into_owned()),
            _ => None,
        }
    }

    /// An optional string field: absent or `null` is `Some(None)`, another type does not
    /// fit (`None`).
    fn optional_text(self) -> Option<Option<String>> {
        match self {
            Slot::Absent | Slot::Null => Some(None),
            Slot::Text(text) => Some(Some(text.into_owned())),
            Slot::Number(_) | Slot::Other => None,
        }
    }

    /// An optional integer field: absent or `null` is `Some(None)`; a fraction, a
    /// number out of `T`'s range or another type does not fit (`None`).
    fn optional_number<T: std::str::FromStr>(self) -> Option<Option<T>> {
        match self {
            Slot::Absent | Slot::Null => Some(None),
            Slot::Number(text) => text.parse().ok().map(Some),
            Slot::Text(_) | Slot::Other => None,
        }
    }
}

/// The fields of a fragment object that some kind uses; the last of a repeated key wins.
#[derive(Default)]
struct Fields<'a> {
    kind: Slot<'a>,
    text: Slot<'a>,
    delta: Slot<'a>,
    user_id: Slot<'a>,
    display: Slot<'a>,
    url: Slot<'a>,
    name: Slot<'a>,
    mime: Slot<'a>,
    size: Slot<'a>,
    width: Slot<'a>,
    height: Slot<'a>,
    duration: Slot<'a>,
}

impl<'a> FromJson<'a> for Fields<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, JsonError> {
        let mut f = Fields::default();
        r.object(|r, key| {
            let slot = match key {
                "kind" => &mut f.kind,
                "text" => &mut f.text,
                "delta" => &mut f.delta,
                "user_id" => &mut f.user_id,
                "display" => &mut f.display,
                "url" => &mut f.url,
                "name" => &mut f.name,
                "mime" => &mut f.mime,
                "size" => &mut f.size,
                "width" => &mut f.width,
                "height" => &mut f.height,
                "duration" => &mut f.duration,
                _ => return r.skip(),
            };
            *slot = r.read()?;
            Ok(())
        })?;
        Ok(f)
    }
}

impl Fields<'_> {
    /// The fragment these fields make, or `None` when its kind is unknown or a field
    /// does not fit it.
    fn fragment(self) -> Option<Fragment> {
        let Slot::Text(kind) = self.kind else {
            return None;
        };
        Some(match kind.as_ref() {
            "text" => Fragment::Text {
                text: self.text.text()?,
                delta: self.delta.text(),
            },
            "mention" => Fragment::Mention {
                user_id: self.user_id.text(),
                display: self.display.text(),
            },
            other => Fragment::Media(Media {
                kind: MediaKind::parse(other)?,
                url: self.url.text()?,
                name: self.name.optional_text()?,
                mime: self.mime.optional_text()?,
                size: self.size.optional_number()?,
                width: self.width.optional_number()?,
                height: self.height.optional_number()?,
                duration: self.duration.optional_number()?,
            }),
        })
    }
}

impl FromJson<'_> for Fragment {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        if r.peek()? != Kind::Object {
            return r.read().map(Fragment::Unsupported);
        }
        // Read for the known fields and, when they do not make a fragment (rare), read
        // again as the value kept verbatim.
        let mut probe = r.clone();
        match Fields::read(&mut probe)?.fragment() {
            Some(fragment) => {
                *r = probe;
                Ok(fragment)
            }
            None => r.read().map(Fragment::Unsupported),
        }
    }
}

/// Keys in sorted order, as the JSON map fragments were once written through kept them.
impl ToJson for Fragment {
    fn write(&self, w: &mut Writer) {
        match self {
            Fragment::Text { text, delta } => {
                let mut o = w.object();
                o.field_some("delta", delta)
                    .field("kind", "text")
                    .field("text", text);
                o.end();
            }
            Fragment::Mention { user_id, display } => {
                let mut o = w.object();
                o.field_some("display", display)
                    .field("kind", "mention")
                    .field_some("user_id", user_id);
                o.end();
            }
            Fragment::Media(media) => media.write(w),
            Fragment::Unsupported(raw) => raw.write(w),
        }
    }
}

impl ToJson for Media {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field_some("duration", &self.duration)
            .field_some("height", &self.height)
            .field("kind", &self.kind)
            .field_some("mime", &self.mime)
            .field_some("name", &self.name)
            .field_some("size", &self.size)
            .field("url", &self.url)
            .field_some("width", &self.width);
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use serde_json::{json, Value};

    /// The fragment kept verbatim as `text`.
    fn kept(text: &str) -> Fragment {
        Fragment::Unsupported(json::from_str(text).unwrap())
    }

    fn round_trip(raw: Value) -> (Fragment, Value) {
        let fragment: Fragment = json::from_str(&raw.to_string()).unwrap();
        let back: Value = serde_json::from_str(&json::to_string(&fragment)).unwrap();
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
            assert_eq!(fragment, kept(&raw.to_string()));
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn a_repeated_key_counts_once_and_the_last_one_wins() {
        let parse = |text: &str| json::from_str::<Fragment>(text).unwrap();
        assert_eq!(
            parse(r#"{"kind":"text","text":1,"delta":"d","text":"b","delta":2}"#),
            Fragment::text("b")
        );
        assert_eq!(
            parse(r#"{"kind":"text","text":"a","text":1}"#),
            kept(r#"{"kind":"text","text":"a","text":1}"#)
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
            let fragment: Fragment = json::from_str(raw).unwrap();
            assert_eq!(json::to_string(&fragment), raw);
        }
    }

    /// A kept fragment is written compact, its keys and numbers as received (a JSON map
    /// once sorted them and re-spelled numbers: JS reads the same value either way).
    #[test]
    fn kept_fragments_are_written_compact_with_keys_and_numbers_as_received() {
        let fragment: Fragment =
            json::from_str(r#" { "z" : [1.50, 1E2] , "kind" : "sticker", "a_b" : "\u00e9" } "#)
                .unwrap();
        assert_eq!(
            json::to_string(&fragment),
            r#"{"z":[1.50,1E2],"kind":"sticker","a_b":"é"}"#
        );
        assert_eq!(
            json::to_string_camel(&fragment),
            r#"{"z":[1.50,1E2],"kind":"sticker","aB":"é"}"#
        );
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

    /// Through the codec, as frames are read and events written.
    fn codec(text: &str) -> (Fragment, String) {
        let fragment: Fragment = json::from_str(text).unwrap();
        let back = json::to_string(&fragment);
        (fragment, back)
    }

    #[test]
    fn the_codec_writes_what_serde_wrote_and_reads_it_back() {
        // The literals are what the serde path wrote for these fragments.
        for text in [
            r#"{"kind":"text","text":"hi\n\u0001 there"}"#,
            r#"{"delta":"b","kind":"text","text":"ab"}"#,
            r#"{"display":"@bo","kind":"mention","user_id":"u2"}"#,
            r#"{"kind":"mention"}"#,
            r#"{"height":3,"kind":"image","mime":"image/png","size":10,"url":"/m/1.png","width":2}"#,
            r#"{"duration":1200,"kind":"audio","url":"/m/a.ogg"}"#,
            r#"{"kind":"file","name":"a.pdf","url":"/m/a.pdf"}"#,
            r#"{"kind":"sticker","pack_id":7,"z":[null,1.5]}"#,
        ] {
            let (_, back) = codec(text);
            assert_eq!(back, text);
        }
    }

    #[test]
    fn the_codec_reads_keys_in_any_order_and_nulls_as_absent() {
        let (fragment, back) = codec(
            r#"{"url":"/v","size":null,"name":null,"extra":{"a":[1]},"kind":"video","width":2}"#,
        );
        assert_eq!(back, r#"{"kind":"video","url":"/v","width":2}"#);
        assert!(matches!(
            fragment,
            Fragment::Media(Media {
                size: None,
                width: Some(2),
                ..
            })
        ));
        let (mention, _) = codec(r#"{"user_id":7,"display":null,"kind":"mention"}"#);
        assert_eq!(
            mention,
            Fragment::Mention {
                user_id: None,
                display: None
            }
        );
    }

    #[test]
    fn the_codec_keeps_what_does_not_fit_verbatim() {
        for text in [
            r#"{"kind":"image","url":null}"#,
            r#"{"kind":"image","url":"/i","size":-1}"#,
            r#"{"kind":"image","url":"/i","size":1.5}"#,
            r#"{"kind":"image","url":"/i","width":4294967296}"#,
            r#"{"kind":"image","url":"/i","name":3}"#,
            r#"{"kind":"text","text":["a"]}"#,
            r#"{"kind":7,"text":"a"}"#,
            r#"{"kind":"Text","text":"a"}"#,
            r#"[1,{"b":2,"a":1}]"#,
            r#""plain""#,
            "null",
            "12",
        ] {
            let (fragment, back) = codec(text);
            assert_eq!(fragment, kept(text), "{text}");
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                serde_json::from_str::<Value>(&back).unwrap(),
                value,
                "{text}"
            );
        }
    }

    #[test]
    fn broken_json_in_a_fragment_is_an_error() {
        for text in [
            r#"{"kind":"text","text":"a""#,
            r#"{"kind":"text","text":tru}"#,
            "[1,]",
        ] {
            assert!(json::from_str::<Fragment>(text).is_err(), "{text}");
        }
    }
}
