//! The tab wire's JSON: the text serde's derives gave it (externally tagged, snake_case
//! message names, `Result` as `{"Ok":…}` / `{"Err":…}`), since tabs running the build
//! before and after a deploy talk on one channel.

use crate::json::{self, FromJson, JsonError, Reader, ToJson, Writer};
use crate::session::{Accepted, SendError};

use super::{EventJson, RelayedSend, TabWire};

/// One value's text as written (an element of a batch).
pub(super) struct Raw<'a>(pub &'a str);

impl<'a> FromJson<'a> for Raw<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, JsonError> {
        r.raw().map(Raw)
    }
}

impl FromJson<'_> for EventJson {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        r.raw().map(|text| EventJson(text.to_owned()))
    }
}

impl ToJson for EventJson {
    fn write(&self, w: &mut Writer) {
        w.raw(self.text());
    }
}

impl FromJson<'_> for RelayedSend {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut message_id, mut chat_id, mut fragments, mut reply) = (None, None, None, None);
        r.object(|r, key| {
            match key {
                "message_id" => message_id = Some(r.read()?),
                "chat_id" => chat_id = Some(r.read()?),
                "fragments" => fragments = Some(r.read()?),
                "reply" => reply = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(RelayedSend {
            message_id: json::required(message_id, "message_id")?,
            chat_id: json::required(chat_id, "chat_id")?,
            fragments: json::required(fragments, "fragments")?,
            reply,
        })
    }
}

impl ToJson for RelayedSend {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("message_id", &self.message_id)
            .field("chat_id", &self.chat_id)
            .field("fragments", &self.fragments)
            .field("reply", &self.reply);
        o.end();
    }
}

/// A send's outcome as serde wrote a `Result`: `{"Ok":…}` or `{"Err":…}`.
struct Outcome(Result<Accepted, SendError>);

impl FromJson<'_> for Outcome {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut outcome = None;
        r.object(|r, key| {
            if outcome.is_some() {
                return Err(r.type_error("one key"));
            }
            outcome = Some(match key {
                "Ok" => Ok(r.read()?),
                "Err" => Err(r.read()?),
                _ => return Err(JsonError::Variant { field: "outcome" }),
            });
            Ok(())
        })?;
        json::required(outcome, "outcome").map(Outcome)
    }
}

impl ToJson for Result<Accepted, SendError> {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        match self {
            Ok(accepted) => o.field("Ok", accepted),
            Err(failure) => o.field("Err", failure),
        };
        o.end();
    }
}

/// A message's fields as their JSON text, by name; each message reads the ones it has,
/// so a field another message has by the same name (or a newer build's) is ignored as
/// serde ignored it.
#[derive(Default)]
struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> FromJson<'a> for Fields<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, JsonError> {
        let mut fields = Fields::default();
        r.object(|r, key| {
            let name = NAMES.iter().find(|name| **name == key);
            match name {
                Some(name) => fields.0.push((name, r.raw()?)),
                None => r.skip()?,
            }
            Ok(())
        })?;
        Ok(fields)
    }
}

/// Every field name of the messages.
const NAMES: [&str; 12] = [
    "tab",
    "from",
    "send",
    "to",
    "message_id",
    "chat_id",
    "is_typing",
    "outcome",
    "name",
    "payload",
    "code",
    "reason",
];

impl<'a> Fields<'a> {
    /// Field `name` read as a `T` (the last one, if repeated), or [`JsonError::Missing`].
    fn get<T: FromJson<'a>>(&self, name: &'static str) -> Result<T, JsonError> {
        let raw = self.0.iter().rev().find(|(key, _)| *key == name);
        json::from_str(json::required(raw, name)?.1)
    }
}

impl TabWire {
    /// The message's name on the wire.
    fn name(&self) -> &'static str {
        match self {
            TabWire::Hello { .. } => "hello",
            TabWire::Bye { .. } => "bye",
            TabWire::Leader { .. } => "leader",
            TabWire::Send { .. } => "send",
            TabWire::Received { .. } => "received",
            TabWire::Typing { .. } => "typing",
            TabWire::Settled { .. } => "settled",
            TabWire::Event { .. } => "event",
            TabWire::Rotated => "rotated",
            TabWire::LoggedOut { .. } => "logged_out",
        }
    }

    /// The message of name `name` from its fields.
    fn from_fields(name: &str, f: &Fields<'_>) -> Result<TabWire, JsonError> {
        Ok(match name {
            "hello" => TabWire::Hello { tab: f.get("tab")? },
            "bye" => TabWire::Bye { tab: f.get("tab")? },
            "leader" => TabWire::Leader { tab: f.get("tab")? },
            "send" => TabWire::Send {
                from: f.get("from")?,
                send: f.get("send")?,
            },
            "received" => TabWire::Received {
                to: f.get("to")?,
                message_id: f.get("message_id")?,
            },
            "typing" => TabWire::Typing {
                chat_id: f.get("chat_id")?,
                is_typing: f.get("is_typing")?,
            },
            "settled" => TabWire::Settled {
                to: f.get("to")?,
                message_id: f.get("message_id")?,
                outcome: f.get::<Outcome>("outcome")?.0,
            },
            "event" => TabWire::Event {
                name: f.get("name")?,
                payload: f.get("payload")?,
            },
            "logged_out" => TabWire::LoggedOut {
                code: f.get("code")?,
                reason: f.get("reason")?,
            },
            _ => return Err(JsonError::Variant { field: "TabWire" }),
        })
    }
}

impl FromJson<'_> for TabWire {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        if r.peek()? == json::Kind::String {
            return match r.string()?.as_ref() {
                "rotated" => Ok(TabWire::Rotated),
                _ => Err(JsonError::Variant { field: "TabWire" }),
            };
        }
        let mut message = None;
        r.object(|r, name| {
            if message.is_some() {
                return Err(r.type_error("one key"));
            }
            message = Some(match name {
                // serde took a unit message written as a one-key object, its value null.
                "rotated" if r.null()? => TabWire::Rotated,
                _ => TabWire::from_fields(name, &r.read()?)?,
            });
            Ok(())
        })?;
        json::required(message, "TabWire")
    }
}

impl ToJson for TabWire {
    fn write(&self, w: &mut Writer) {
        if let TabWire::Rotated = self {
            return w.string(self.name());
        }
        let mut outer = w.object();
        let mut o = outer.key(self.name()).object();
        match self {
            TabWire::Hello { tab } | TabWire::Bye { tab } | TabWire::Leader { tab } => {
                o.field("tab", tab);
            }
            TabWire::Send { from, send } => {
                o.field("from", from).field("send", send);
            }
            TabWire::Received { to, message_id } => {
                o.field("to", to).field("message_id", message_id);
            }
            TabWire::Typing { chat_id, is_typing } => {
                o.field("chat_id", chat_id).field("is_typing", is_typing);
            }
            TabWire::Settled {
                to,
                message_id,
                outcome,
            } => {
                o.field("to", to)
                    .field("message_id", message_id)
                    .field("outcome", outcome);
            }
            TabWire::Event { name, payload } => {
                o.field("name", name).field("payload", payload);
            }
            TabWire::LoggedOut { code, reason } => {
                o.field("code", code).field("reason", reason);
            }
            TabWire::Rotated => {}
        }
        o.end();
        outer.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Fragment, ReplyContext, ReplyPreview};
    use crate::session::SendErrorKind;

    fn relayed(reply: Option<ReplyContext>) -> RelayedSend {
        RelayedSend {
            message_id: "m".into(),
            chat_id: "c".into(),
            fragments: vec![Fragment::text("hi")],
            reply,
        }
    }

    fn failure() -> SendError {
        SendError {
            kind: SendErrorKind::ChatClosed,
            code: None,
            reason: "r".into(),
            message_id: "m".into(),
            chat_id: "c".into(),
            trace_id: "t".into(),
        }
    }

    /// Every message with the text serde's derive wrote for it (the build before).
    fn messages() -> Vec<(TabWire, &'static str)> {
        let reply = ReplyContext {
            reply_to_msg_id: "m0".into(),
            reply_preview: ReplyPreview {
                id: "m0".into(),
                nick_name: "ann".into(),
                fragments: vec![Fragment::text("q")],
            },
        };
        let accepted = Accepted {
            message_id: "m".into(),
            accepted_at: 7,
        };
        vec![
            (
                TabWire::Hello { tab: "t".into() },
                r#"{"hello":{"tab":"t"}}"#,
            ),
            (TabWire::Bye { tab: "t".into() }, r#"{"bye":{"tab":"t"}}"#),
            (
                TabWire::Leader { tab: "t".into() },
                r#"{"leader":{"tab":"t"}}"#,
            ),
            (
                TabWire::Send {
                    from: "f".into(),
                    send: relayed(Some(reply)),
                },
                r#"{"send":{"from":"f","send":{"message_id":"m","chat_id":"c","fragments":[{"kind":"text","text":"hi"}],"reply":{"reply_to_msg_id":"m0","reply_preview":{"id":"m0","nick_name":"ann","fragments":[{"kind":"text","text":"q"}]}}}}}"#,
            ),
            (
                TabWire::Send {
                    from: "f".into(),
                    send: relayed(None),
                },
                r#"{"send":{"from":"f","send":{"message_id":"m","chat_id":"c","fragments":[{"kind":"text","text":"hi"}],"reply":null}}}"#,
            ),
            (
                TabWire::Received {
                    to: "f".into(),
                    message_id: "m".into(),
                },
                r#"{"received":{"to":"f","message_id":"m"}}"#,
            ),
            (
                TabWire::Typing {
                    chat_id: "c".into(),
                    is_typing: true,
                },
                r#"{"typing":{"chat_id":"c","is_typing":true}}"#,
            ),
            (
                TabWire::Settled {
                    to: "f".into(),
                    message_id: "m".into(),
                    outcome: Ok(accepted),
                },
                r#"{"settled":{"to":"f","message_id":"m","outcome":{"Ok":{"messageId":"m","acceptedAt":7}}}}"#,
            ),
            (
                TabWire::Settled {
                    to: "f".into(),
                    message_id: "m".into(),
                    outcome: Err(failure()),
                },
                r#"{"settled":{"to":"f","message_id":"m","outcome":{"Err":{"kind":"chat_closed","code":null,"reason":"r","messageId":"m","chatId":"c","traceId":"t"}}}}"#,
            ),
            (
                TabWire::Event {
                    name: "state".into(),
                    payload: EventJson::from_text(r#" {"state": "ready"} "#.into()).unwrap(),
                },
                r#"{"event":{"name":"state","payload":{"state": "ready"}}}"#,
            ),
            (TabWire::Rotated, r#""rotated""#),
            (
                TabWire::LoggedOut {
                    code: 401,
                    reason: "gone".into(),
                },
                r#"{"logged_out":{"code":401,"reason":"gone"}}"#,
            ),
        ]
    }

    #[test]
    fn every_message_is_written_as_before_and_read_back() {
        for (message, text) in messages() {
            assert_eq!(message.encode(), text);
            assert_eq!(TabWire::decode(text), Some(message), "{text}");
        }
    }

    #[test]
    fn messages_read_as_serde_read_them() {
        let read = |text: &str| TabWire::decode(text);
        // A unit message as a one-key object; unknown and other messages' fields ignored;
        // a missing `Option` is `None`.
        assert_eq!(read(r#"{"rotated":null}"#), Some(TabWire::Rotated));
        assert_eq!(
            read(r#"{"hello":{"code":"x","tab":"t","extra":[1]}}"#),
            Some(TabWire::Hello { tab: "t".into() })
        );
        let no_reply = r#"{"send":{"from":"f","send":{"message_id":"m","chat_id":"c","fragments":[{"kind":"text","text":"hi"}]}}}"#;
        assert_eq!(
            read(no_reply),
            Some(TabWire::Send {
                from: "f".into(),
                send: relayed(None)
            })
        );
        let without_code = r#"{"settled":{"to":"f","message_id":"m","outcome":{"Err":{"kind":"chat_closed","reason":"r","messageId":"m","chatId":"c","traceId":"t"}}}}"#;
        assert!(
            matches!(read(without_code), Some(TabWire::Settled { outcome: Err(e), .. }) if e == failure())
        );
        for junk in [
            r#""hello""#,
            r#"{"rotated":1}"#,
            r#"{"hello":{"tab":"a"},"bye":{"tab":"b"}}"#,
            r#"{"shout":{"tab":"t"}}"#,
            r#"{"logged_out":{"code":401}}"#,
            r#"{"typing":{"chat_id":"c","is_typing":"yes"}}"#,
            r#"{"settled":{"to":"f","message_id":"m","outcome":{"Maybe":{}}}}"#,
            r#"{"settled":{"to":"f","message_id":"m","outcome":{"Ok":{"messageId":"m","acceptedAt":7},"Err":{}}}}"#,
            r#"{"event":{"name":"x","payload":}}"#,
            "{}",
            "[]",
            "",
        ] {
            assert_eq!(read(junk), None, "{junk}");
        }
    }

    #[test]
    fn event_payloads_are_one_json_value_kept_as_written() {
        assert_eq!(
            EventJson::from_text(" [1, 2 ]\n".into()).map(|e| e.text().to_owned()),
            Some("[1, 2 ]".into())
        );
        for junk in ["", "1 2", "{", "nul"] {
            assert!(EventJson::from_text(junk.into()).is_none(), "{junk}");
        }
        assert_eq!(EventJson::of(&failure().kind).text(), r#""chat_closed""#);
    }

    /// Review finding: a `stream` event the leader emits from a frame its own decoder
    /// accepted must reach the followers. The reader's depth cap (128) is applied to the
    /// whole tab-wire text, which wraps the event 2 (single) or 3 (batch) levels deeper
    /// than the event itself, so an agent's stream frame with a deeply nested fragment
    /// (legal: the frame is within the cap) makes every follower drop the post — and, in a
    /// batch, every other event posted with it. The build before read the tab wire with
    /// serde_json's `RawValue`, which skips without a depth limit.
    #[test]
    fn a_stream_event_the_leader_decoded_reaches_the_followers() {
        use crate::protocol::decode;
        use crate::session::inbound::InboundFilter;
        use crate::session::Delivery;
        // The fragment object at depth 4 (frame, payload, fragments), 124 arrays in it:
        // 128 levels, the most the frame decoder takes.
        let deep = format!(
            r#"{{"kind":"chart","n":{}{}}}"#,
            "[".repeat(124),
            "]".repeat(124)
        );
        let frame = format!(
            r#"{{"version":"2","event":"message.created","trace_id":"t","emitted_at":9,"chat_id":"c1","chat_type":"direct","sender":{{"id":"a1"}},"payload":{{"message_id":"s1","sequence":1,"fragments":[{deep}]}}}}"#
        );
        let frame = decode(&frame).expect("the leader decodes the frame");
        let Ok(Delivery::Stream(view)) = InboundFilter::new("me", 60_000).accept(frame, 0) else {
            panic!("not a stream")
        };
        // What the leader's `JSON.stringify` of its event object gives (compact JSON).
        let text = json::to_string_camel(&view);
        let payload = EventJson::from_text(text).expect("the leader relays the event");
        let stream = TabWire::Event {
            name: "stream".into(),
            payload,
        };
        let typing = TabWire::Event {
            name: "typing".into(),
            payload: EventJson::from_text(r#"{"chatId":"c2","isTyping":true}"#.into()).unwrap(),
        };
        assert_eq!(
            TabWire::unbatch(&stream.encode()),
            vec![stream.clone()],
            "a single post"
        );
        assert_eq!(
            TabWire::unbatch(&TabWire::batch(vec![typing.encode(), stream.encode()])),
            vec![typing, stream],
            "a batch"
        );
    }
}
