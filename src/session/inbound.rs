//! Inbound frames: self-echo guard (fail-closed), mode filter, dedupe, and the events the
//! app receives.

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

use crate::json::{ObjectWriter, RawJson, ToJson, Writer};
use crate::protocol::{ChatType, Event, Fragment, Frame, MessagePayload};

use super::dedupe::DedupeWindow;
use super::mentions::mentioned;
use super::stream::{StreamAssembler, StreamSkip, StreamView};

/// How many message ids the dedupe window remembers (**ours**).
pub const DEDUPE_WINDOW: usize = 2048;

/// Where a message comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The chat.
    pub chat_id: String,
    /// Direct or group.
    pub chat_type: ChatType,
    /// The sender's user id.
    pub sender_id: String,
    /// The sender's display name.
    pub sender_name: String,
}

/// The message being replied to, as previewed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyInfo {
    /// Its id.
    pub message_id: String,
    /// Its sender's name.
    pub nick_name: String,
    /// Its preview fragments.
    pub fragments: Vec<Fragment>,
    /// Their plain text.
    pub text: String,
}

/// A message delivered to the app.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// Its id.
    pub message_id: String,
    /// Chat, chat type and sender.
    pub origin: Origin,
    /// The body.
    pub fragments: Vec<Fragment>,
    /// The body's plain text.
    pub text: String,
    /// Mentions as received.
    pub mentions: Vec<RawJson>,
    /// We are mentioned, by our id or through `user_id: "all"`.
    pub mentions_me: bool,
    /// Everyone in the chat is mentioned (`user_id: "all"`).
    pub mentions_all: bool,
    /// Set on replies.
    pub reply: Option<ReplyInfo>,
    /// Server time (ms).
    pub sent_at: i64,
}

/// A typing indicator change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingUpdate {
    /// Chat, chat type and who types.
    pub origin: Origin,
    /// Typing now or stopped.
    pub is_typing: bool,
}

impl Origin {
    /// Writes the fields into an event's object (camelCase, as the app reads them). The
    /// `message` event's JS builder (`platform::message_event`) keeps the same order.
    pub fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.field("chatId", &self.chat_id)
            .field("chatType", &self.chat_type)
            .field("senderId", &self.sender_id)
            .field("senderName", &self.sender_name);
    }
}

/// The `message` event (camelCase keys; write it camel-cased, see
/// [`crate::json::to_string_camel`], so the fragments' and mentions' keys are too). The
/// live event is built in JS by `platform::message_event` with the same keys in the same
/// order: change both (a browser check compares them).
impl ToJson for InboundMessage {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id);
        self.origin.write_fields(&mut o);
        o.field("fragments", &self.fragments)
            .field("text", &self.text)
            .field("mentions", &self.mentions)
            .field("mentionsMe", &self.mentions_me)
            .field("mentionsAll", &self.mentions_all)
            .field("reply", &self.reply)
            .field("sentAt", &self.sent_at);
        o.end();
    }
}

impl ToJson for ReplyInfo {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id)
            .field("nickName", &self.nick_name)
            .field("fragments", &self.fragments)
            .field("text", &self.text);
        o.end();
    }
}

/// The `typing` event.
impl ToJson for TypingUpdate {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        self.origin.write_fields(&mut o);
        o.field("isTyping", &self.is_typing);
        o.end();
    }
}

/// What an inbound frame amounts to for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A new message.
    Message(InboundMessage),
    /// A streamed message changed.
    Stream(StreamView),
    /// Someone started or stopped typing.
    Typing(TypingUpdate),
}

/// Why a frame was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Our own message echoed back.
    SelfEcho,
    /// Own user id unknown: message frames are refused rather than risk a loop.
    GuardClosed,
    /// A message mode other than "" / "normal".
    NonNormalMode,
    /// Seen before (replay or failover).
    Duplicate,
    /// A business frame without `chat_id` or `sender`.
    MissingRouting,
    /// Stale or out-of-order streaming frame.
    StaleStream,
    /// A streaming frame applied, its event held: the stream's next event carries it.
    HeldStream,
    /// A frame no honest peer sends, or past a bound: dropped, and the app is told why.
    Refused(&'static str),
}

/// The inbound filter and stream assembler.
#[derive(Debug)]
pub struct InboundFilter {
    own_user_id: String,
    seen: DedupeWindow,
    streams: StreamAssembler,
}

/// The plain text of fragments (text and mention displays, concatenated).
pub fn plain_text(fragments: &[Fragment]) -> String {
    fragments.iter().filter_map(Fragment::plain_text).collect()
}

/// The message `payload` is for the user `own_user_id`: delivered live (after the
/// filter) or read from the server's history (our own messages included).
pub fn to_message(
    origin: Origin,
    payload: MessagePayload,
    sent_at: i64,
    own_user_id: &str,
) -> InboundMessage {
    let context = payload.message.context;
    let reply = context.reply.map(|reply| ReplyInfo {
        message_id: reply.reply_to_msg_id,
        nick_name: reply.reply_preview.nick_name,
        text: plain_text(&reply.reply_preview.fragments),
        fragments: reply.reply_preview.fragments,
    });
    let fragments = payload.message.body.fragments;
    let mentioned = mentioned(&fragments, &context.mentions, own_user_id);
    InboundMessage {
        message_id: payload.message_id,
        origin,
        text: plain_text(&fragments),
        fragments,
        mentions: context.mentions,
        mentions_me: mentioned.me,
        mentions_all: mentioned.everyone,
        reply,
        sent_at,
    }
}

/// Chat, chat type and sender of a business frame (`None` without `chat_id` or `sender`).
pub fn origin_of(frame: &Frame) -> Option<Origin> {
    let sender = frame.sender.as_ref()?;
    Some(Origin {
        chat_id: frame.chat_id.clone().filter(|c| !c.is_empty())?,
        chat_type: frame.chat_type.unwrap_or(ChatType::Direct),
        sender_id: sender.id.clone(),
        sender_name: if sender.nick_name.is_empty() {
            sender.id.clone()
        } else {
            sender.nick_name.clone()
        },
    })
}

impl InboundFilter {
    /// A filter for the user `own_user_id` ("" when unknown: the guard stays closed).
    pub fn new(own_user_id: &str, stall_ms: i64) -> Self {
        InboundFilter {
            own_user_id: own_user_id.trim().to_owned(),
            seen: DedupeWindow::new(DEDUPE_WINDOW),
            streams: StreamAssembler::new(stall_ms),
        }
    }

    /// Sets our user id (opens the guard when non-empty).
    pub fn set_own_user_id(&mut self, user_id: &str) {
        self.own_user_id = user_id.trim().to_owned();
    }

    /// Notes a message another tab delivered (relayed by the leader): false when this
    /// filter has seen it, so a replay after a hand-over is not delivered twice.
    pub fn first_sighting(&mut self, message_id: &str) -> bool {
        self.seen.first_sighting(message_id)
    }

    /// Filters one business frame (send, reply, stream, typing) into a delivery.
    pub fn accept(&mut self, frame: Frame, now: i64) -> Result<Delivery, Skip> {
        let is_message = matches!(
            frame.event,
            Event::Send(_) | Event::Reply(_) | Event::Stream(..)
        );
        if is_message && self.own_user_id.is_empty() {
            return Err(Skip::GuardClosed);
        }
        let origin = origin_of(&frame).ok_or(Skip::MissingRouting)?;
        if origin.sender_id == self.own_user_id {
            return Err(Skip::SelfEcho);
        }
        match frame.event {
            Event::Send(payload) | Event::Reply(payload) => {
                self.message(origin, payload, frame.emitted_at)
            }
            Event::Stream(phase, payload) => {
                if payload
                    .message_mode
                    .as_deref()
                    .is_some_and(|m| !m.is_empty() && m != "normal")
                {
                    return Err(Skip::NonNormalMode);
                }
                match self.streams.apply(origin, phase, payload, now) {
                    Ok(Some(view)) => Ok(Delivery::Stream(view)),
                    Ok(None) => Err(Skip::HeldStream),
                    Err(StreamSkip::Stale) => Err(Skip::StaleStream),
                    Err(StreamSkip::Refused(why)) => Err(Skip::Refused(why)),
                }
            }
            Event::Typing(typing) => Ok(Delivery::Typing(TypingUpdate {
                origin,
                is_typing: typing.is_typing,
            })),
            _ => Err(Skip::MissingRouting),
        }
    }

    fn message(
        &mut self,
        origin: Origin,
        payload: MessagePayload,
        sent_at: i64,
    ) -> Result<Delivery, Skip> {
        if !payload.is_normal_mode() {
            return Err(Skip::NonNormalMode);
        }
        if !self.first_sighting(&payload.message_id) {
            return Err(Skip::Duplicate);
        }
        // The message as sent ends its stream: no held update of it comes after.
        self.streams.end(&payload.message_id);
        Ok(Delivery::Message(to_message(
            origin,
            payload,
            sent_at,
            &self.own_user_id,
        )))
    }

    /// Streams that stalled without `done`, now failed, and held stream updates due.
    pub fn on_tick(&mut self, now: i64) -> Vec<Delivery> {
        self.streams
            .on_tick(now)
            .into_iter()
            .map(Delivery::Stream)
            .collect()
    }

    /// When the earliest held stream update is due ([`InboundFilter::flush`]).
    pub fn poll_timeout(&self) -> Option<i64> {
        self.streams.poll_timeout()
    }

    /// The held stream updates due by `now`; all of them with `None` (the connection
    /// stops).
    pub fn flush(&mut self, now: Option<i64>) -> Vec<Delivery> {
        let events = self.streams.flush(now);
        events.into_iter().map(Delivery::Stream).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode;
    use serde_json::{json, Value};

    fn frame(event: &str, sender: &str, payload: Value) -> Frame {
        let text = json!({"version": "2", "event": event, "trace_id": "t", "emitted_at": 9, "chat_id": "c1",
            "chat_type": "group", "sender": {"id": sender, "type": "direct", "nick_name": "Ann"}, "payload": payload});
        decode(&text.to_string()).unwrap()
    }

    fn message(id: &str, mode: &str) -> Value {
        json!({"message_id": id, "message_mode": mode, "message": {"body": {"fragments": [{"kind": "text", "text": "hi "}, {"kind": "mention", "display": "@bo"}]},
            "context": {"mentions": ["u2"], "reply": {"reply_to_msg_id": "m0", "reply_preview": {"id": "m0", "nick_name": "Bo", "fragments": [{"kind": "text", "text": "earlier"}]}}}}})
    }

    #[test]
    fn a_message_from_someone_else_is_delivered_with_reply_and_mentions() {
        let mut f = InboundFilter::new("me", 60_000);
        let Ok(Delivery::Message(m)) =
            f.accept(frame("message.reply", "ann", message("m1", "normal")), 0)
        else {
            panic!()
        };
        assert_eq!(
            (
                m.text.as_str(),
                m.origin.sender_name.as_str(),
                m.origin.chat_type
            ),
            ("hi @bo", "Ann", ChatType::Group)
        );
        assert_eq!(m.reply.unwrap().text, "earlier");
        assert_eq!((m.mentions.len(), m.sent_at), (1, 9));
    }

    #[test]
    fn our_own_echo_is_skipped() {
        let mut f = InboundFilter::new("me", 60_000);
        assert_eq!(
            f.accept(frame("message.send", "me", message("m1", "")), 0),
            Err(Skip::SelfEcho)
        );
    }

    #[test]
    fn with_an_unknown_user_id_the_guard_refuses_message_frames() {
        let mut f = InboundFilter::new("  ", 60_000);
        assert_eq!(
            f.accept(frame("message.send", "ann", message("m1", "")), 0),
            Err(Skip::GuardClosed)
        );
        assert_eq!(
            f.accept(
                frame(
                    "message.add",
                    "ann",
                    json!({"message_id": "s", "sequence": 1})
                ),
                0
            ),
            Err(Skip::GuardClosed)
        );
        assert!(f
            .accept(frame("typing.update", "ann", json!({"is_typing": true})), 0)
            .is_ok());
        f.set_own_user_id("me");
        assert!(f
            .accept(frame("message.send", "ann", message("m1", "")), 0)
            .is_ok());
    }

    #[test]
    fn only_normal_and_empty_modes_are_user_messages() {
        let mut f = InboundFilter::new("me", 60_000);
        assert!(f
            .accept(frame("message.send", "ann", message("a", "")), 0)
            .is_ok());
        assert!(f
            .accept(frame("message.send", "ann", message("b", "normal")), 0)
            .is_ok());
        assert_eq!(
            f.accept(frame("message.send", "ann", message("c", "thinking")), 0),
            Err(Skip::NonNormalMode)
        );
    }

    #[test]
    fn replays_are_deduped_by_message_id() {
        let mut f = InboundFilter::new("me", 60_000);
        assert!(f
            .accept(frame("message.send", "ann", message("m1", "")), 0)
            .is_ok());
        assert_eq!(
            f.accept(frame("message.send", "ann", message("m1", "")), 0),
            Err(Skip::Duplicate)
        );
    }

    #[test]
    fn business_frames_without_routing_are_skipped() {
        let mut f = InboundFilter::new("me", 60_000);
        let mut no_sender = frame("message.send", "ann", message("m1", ""));
        no_sender.sender = None;
        assert_eq!(f.accept(no_sender, 0), Err(Skip::MissingRouting));
    }

    #[test]
    fn events_are_written_as_the_serde_path_wrote_them() {
        // The literals are what `to_js_camel` (serde, then the keys renamed in the text)
        // gave the app for these frames.
        let send = r#"{"version":"2","event":"message.send","trace_id":"t4","emitted_at":1700000000000,"chat_id":"c1","to":{"id":"c1","type":"group"},"chat_type":"group","sender":{"id":"u1","type":"direct","nick_name":"Ann \"A\" é🙂"},"payload":{"message_id":"msg-1","message_mode":"normal","message":{"body":{"fragments":[{"kind":"text","text":"hi\n\u0001 there"},{"kind":"mention","user_id":"u2","display":"@bo"},{"kind":"image","url":"/m/1.png","mime":"image/png","size":10,"width":2,"height":3},{"kind":"sticker","pack_id":7,"z":[null,1.5]}]},"context":{"mentions":[{"user_id":"u2","nick_name":"Bo"},"all"],"reply":{"reply_to_msg_id":"m0","reply_preview":{"id":"m0","nick_name":"Bo","fragments":[{"kind":"text","text":"earlier"}]}}}},"streaming":{"status":"done","sequence":3,"mutation_policy":"append","started_at":1,"completed_at":2}}}"#;
        let add = r#"{"version":"2","event":"message.add","trace_id":"t8","emitted_at":9,"chat_id":"c1","chat_type":"direct","sender":{"id":"a1"},"payload":{"message_id":"s1","sequence":2,"message_mode":"normal","mutation":{"type":"append","target_fragment_index":0},"fragments":[{"kind":"text","text":"ab","delta":"b"}],"streaming":{"status":"streaming","sequence":2}}}"#;
        let typing = r#"{"version":"2","event":"typing.update","trace_id":"t9","emitted_at":9,"chat_id":"c1","sender":{"id":"u9"},"payload":{"is_typing":true}}"#;
        let mut f = InboundFilter::new("me", 60_000);
        let mut accept = |text: &str| f.accept(decode(text).unwrap(), 0).unwrap();
        let Delivery::Message(m) = accept(send) else {
            panic!("not a message")
        };
        let serde_wrote = r#"{"messageId":"msg-1","chatId":"c1","chatType":"group","senderId":"u1","senderName":"Ann \"A\" é🙂","fragments":[{"kind":"text","text":"hi\n\u0001 there"},{"display":"@bo","kind":"mention","userId":"u2"},{"height":3,"kind":"image","mime":"image/png","size":10,"url":"/m/1.png","width":2},{"kind":"sticker","packId":7,"z":[null,1.5]}],"text":"hi\n\u0001 there@bo","mentions":[{"nickName":"Bo","userId":"u2"},"all"],"mentionsMe":true,"mentionsAll":true,"reply":{"messageId":"m0","nickName":"Bo","fragments":[{"kind":"text","text":"earlier"}],"text":"earlier"},"sentAt":1700000000000}"#;
        // One difference, on purpose: a mention entry is kept as received, its keys in
        // the server's order (a JSON map sorted them); the app gets the same object.
        let written = crate::json::to_string_camel(&m);
        assert_eq!(
            written,
            serde_wrote.replace(
                r#"{"nickName":"Bo","userId":"u2"}"#,
                r#"{"userId":"u2","nickName":"Bo"}"#
            )
        );
        assert_eq!(
            serde_json::from_str::<Value>(&written).unwrap(),
            serde_json::from_str::<Value>(serde_wrote).unwrap()
        );
        let Delivery::Stream(s) = accept(add) else {
            panic!("not a stream")
        };
        assert_eq!(
            crate::json::to_string_camel(&s),
            r#"{"messageId":"s1","chatId":"c1","chatType":"direct","senderId":"a1","senderName":"a1","fragments":[{"kind":"text","text":"ab"}],"text":"ab","status":"streaming","sequence":2,"reason":null}"#
        );
        let Delivery::Typing(t) = accept(typing) else {
            panic!("not typing")
        };
        assert_eq!(
            crate::json::to_string(&t),
            r#"{"chatId":"c1","chatType":"direct","senderId":"u9","senderName":"u9","isTyping":true}"#
        );
    }
}
