//! Bounds on every untrusted length, count and number of a decoded frame (all **ours**).
//!
//! A frame is at most [`super::MAX_FRAME_BYTES`], so no single value can be larger than
//! that; these bounds keep what one frame can make the client *remember* small (ids go
//! into dedupe windows and maps, names into events) and keep every number exact in
//! JavaScript. A frame that breaks one is refused whole with
//! [`ProtocolError::OutOfBounds`], which names the field and never the value.

use serde_json::Number;

use super::error::ProtocolError;
use super::fragment::{Fragment, Media};
use super::frame::{Event, Frame};
use super::payload::{MessagePayload, StreamPayload, StreamingInfo};
use crate::json::RawJson;

/// Ids: message, chat, trace, user, device ids and nonces. ClawChat's are under 64 bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Short labels: event names, codes, modes, MIME types, routing types.
pub const MAX_LABEL_BYTES: usize = 256;
/// Names people read: nick names, file names, mention displays, failure reasons.
pub const MAX_NAME_BYTES: usize = 1024;
/// Media URLs (browsers handle far longer ones; chat media URLs are short).
pub const MAX_URL_BYTES: usize = 4096;
/// An access token in `connect` (a JWT of a few hundred bytes).
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Fragments in one message body or reply preview; also the largest streaming
/// `target_fragment_index` + 1 (a chat message has a handful).
pub const MAX_FRAGMENTS: usize = 256;
/// Entries in `context.mentions`.
pub const MAX_MENTIONS: usize = 256;
/// The largest integer JavaScript represents exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

type Checked = Result<(), ProtocolError>;

fn out_of_bounds(field: &'static str) -> ProtocolError {
    ProtocolError::OutOfBounds { field }
}

fn len(field: &'static str, value: &str, max: usize) -> Checked {
    if value.len() <= max {
        Ok(())
    } else {
        Err(out_of_bounds(field))
    }
}

fn opt_len(field: &'static str, value: Option<&str>, max: usize) -> Checked {
    value.map_or(Ok(()), |v| len(field, v, max))
}

fn id(field: &'static str, value: &str) -> Checked {
    len(field, value, MAX_ID_BYTES)
}

fn count(field: &'static str, n: usize, max: usize) -> Checked {
    if n <= max {
        Ok(())
    } else {
        Err(out_of_bounds(field))
    }
}

fn unsigned(field: &'static str, n: u64) -> Checked {
    if n <= MAX_SAFE_INTEGER {
        Ok(())
    } else {
        Err(out_of_bounds(field))
    }
}

fn signed(field: &'static str, n: i64) -> Checked {
    unsigned(field, n.unsigned_abs())
}

/// True when the number `text` is exact in JavaScript (read as serde_json reads it: an
/// integer beyond 64 bits is a float).
fn exact_number(text: &str) -> bool {
    text.parse::<Number>().is_ok_and(|n| {
        n.as_f64().is_some_and(f64::is_finite)
            && n.as_u64().is_none_or(|u| u <= MAX_SAFE_INTEGER)
            && n.as_i64()
                .is_none_or(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER)
    })
}

fn raw(field: &'static str, value: &RawJson) -> Checked {
    if value.all_numbers(exact_number) {
        Ok(())
    } else {
        Err(out_of_bounds(field))
    }
}

fn media(m: &Media) -> Checked {
    len("fragment.url", &m.url, MAX_URL_BYTES)?;
    opt_len("fragment.name", m.name.as_deref(), MAX_NAME_BYTES)?;
    opt_len("fragment.mime", m.mime.as_deref(), MAX_LABEL_BYTES)?;
    m.size.map_or(Ok(()), |n| unsigned("fragment.size", n))?;
    m.duration
        .map_or(Ok(()), |n| unsigned("fragment.duration", n))
}

/// Checks a list of fragments: its count, and each fragment's fields.
pub fn fragments(list: &[Fragment]) -> Checked {
    count("fragments", list.len(), MAX_FRAGMENTS)?;
    list.iter().try_for_each(|fragment| match fragment {
        Fragment::Text { .. } => Ok(()),
        Fragment::Mention { user_id, display } => {
            opt_len("fragment.user_id", user_id.as_deref(), MAX_ID_BYTES)?;
            opt_len("fragment.display", display.as_deref(), MAX_NAME_BYTES)
        }
        Fragment::Media(m) => media(m),
        Fragment::Unsupported(value) => raw("fragment", value),
    })
}

fn streaming(info: Option<&StreamingInfo>) -> Checked {
    let Some(info) = info else { return Ok(()) };
    len("streaming.status", &info.status, MAX_LABEL_BYTES)?;
    unsigned("streaming.sequence", info.sequence)?;
    opt_len(
        "streaming.mutation_policy",
        info.mutation_policy.as_deref(),
        MAX_LABEL_BYTES,
    )?;
    info.started_at
        .map_or(Ok(()), |t| signed("streaming.started_at", t))?;
    info.completed_at
        .map_or(Ok(()), |t| signed("streaming.completed_at", t))
}

fn message(p: &MessagePayload) -> Checked {
    id("message_id", &p.message_id)?;
    len("message_mode", &p.message_mode, MAX_LABEL_BYTES)?;
    fragments(&p.message.body.fragments)?;
    let context = &p.message.context;
    count("mentions", context.mentions.len(), MAX_MENTIONS)?;
    context
        .mentions
        .iter()
        .try_for_each(|mention| raw("mentions", mention))?;
    if let Some(reply) = &context.reply {
        id("reply_to_msg_id", &reply.reply_to_msg_id)?;
        id("reply_preview.id", &reply.reply_preview.id)?;
        len(
            "reply_preview.nick_name",
            &reply.reply_preview.nick_name,
            MAX_NAME_BYTES,
        )?;
        fragments(&reply.reply_preview.fragments)?;
    }
    streaming(p.streaming.as_ref())
}

fn stream(p: &StreamPayload) -> Checked {
    id("message_id", &p.message_id)?;
    unsigned("sequence", p.sequence)?;
    opt_len("message_mode", p.message_mode.as_deref(), MAX_LABEL_BYTES)?;
    if let Some(mutation) = &p.mutation {
        len("mutation.type", &mutation.kind, MAX_LABEL_BYTES)?;
        // An append may target the fragment just past the last one, no further.
        count(
            "mutation.target_fragment_index",
            usize::try_from(mutation.target_fragment_index).unwrap_or(usize::MAX),
            MAX_FRAGMENTS - 1,
        )?;
    }
    fragments(&p.fragments)?;
    streaming(p.streaming.as_ref())
}

fn event(event: &Event) -> Checked {
    match event {
        Event::Challenge(c) => id("nonce", &c.nonce),
        Event::Connect(c) => {
            len("token", &c.token, MAX_TOKEN_BYTES)?;
            id("nonce", &c.nonce)?;
            opt_len("device_id", c.device_id.as_deref(), MAX_ID_BYTES)
        }
        Event::HelloOk(h) => {
            id("device_id", &h.device_id)?;
            len("delivery_mode", &h.delivery_mode, MAX_LABEL_BYTES)
        }
        Event::HelloFail(h) => len("reason", &h.reason, MAX_NAME_BYTES),
        Event::Send(p) | Event::Reply(p) => message(p),
        Event::Stream(_, p) => stream(p),
        Event::Ack(a) => {
            id("message_id", &a.message_id)?;
            signed("accepted_at", a.accepted_at)
        }
        Event::SendError(e) => {
            len("code", &e.code, MAX_LABEL_BYTES)?;
            opt_len("reason", e.reason.as_deref(), MAX_NAME_BYTES)?;
            opt_len("message", e.message.as_deref(), MAX_NAME_BYTES)?;
            opt_len("message_id", e.message_id.as_deref(), MAX_ID_BYTES)
        }
        Event::Typing(_) => Ok(()),
        Event::Ping(v) | Event::Pong(v) | Event::ReplayDone(v) => raw("payload", v),
        Event::LegacyOffline(_) => Ok(()),
        Event::Unknown { name, .. } => len("event", name, MAX_LABEL_BYTES),
    }
}

/// Checks every bound of a decoded frame.
pub fn frame(frame: &Frame) -> Checked {
    id("trace_id", &frame.trace_id)?;
    signed("emitted_at", frame.emitted_at)?;
    opt_len("chat_id", frame.chat_id.as_deref(), MAX_ID_BYTES)?;
    if let Some(to) = &frame.to {
        id("to.id", &to.id)?;
        len("to.type", &to.kind, MAX_LABEL_BYTES)?;
    }
    if let Some(sender) = &frame.sender {
        id("sender.id", &sender.id)?;
        len("sender.type", &sender.kind, MAX_LABEL_BYTES)?;
        len("sender.nick_name", &sender.nick_name, MAX_NAME_BYTES)?;
    }
    event(&frame.event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode;

    fn send_frame(payload: &str) -> String {
        format!(
            r#"{{"version":"2","event":"message.send","trace_id":"t","emitted_at":1,"chat_id":"c","sender":{{"id":"u","type":"direct","nick_name":"U"}},"payload":{payload}}}"#
        )
    }

    fn refused_field(text: &str) -> &'static str {
        match decode(text) {
            Err(ProtocolError::OutOfBounds { field }) => field,
            other => panic!("expected OutOfBounds, got {other:?}"),
        }
    }

    #[test]
    fn ids_longer_than_the_bound_are_refused_without_echoing_them() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let text = send_frame(&format!(r#"{{"message_id":"{long}"}}"#));
        let err = decode(&text).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::OutOfBounds {
                field: "message_id"
            }
        );
        assert!(!err.to_string().contains(&long));
        let ok = send_frame(&format!(r#"{{"message_id":"{}"}}"#, &long[1..]));
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn integers_javascript_cannot_hold_exactly_are_refused() {
        let big = MAX_SAFE_INTEGER + 1;
        let media = format!(
            r#"{{"message_id":"m","message":{{"body":{{"fragments":[{{"kind":"file","url":"/f","size":{big}}}]}}}}}}"#
        );
        assert_eq!(refused_field(&send_frame(&media)), "fragment.size");
        let mention = format!(
            r#"{{"message_id":"m","message":{{"context":{{"mentions":[{{"n":{big}}}]}}}}}}"#
        );
        assert_eq!(refused_field(&send_frame(&mention)), "mentions");
        let exact = format!(
            r#"{{"message_id":"m","message":{{"context":{{"mentions":[{{"n":{MAX_SAFE_INTEGER}}}]}}}}}}"#
        );
        assert!(decode(&send_frame(&exact)).is_ok());
    }

    #[test]
    fn fragment_counts_and_stream_indexes_are_bounded() {
        let many = vec![r#"{"kind":"text","text":""}"#; MAX_FRAGMENTS + 1].join(",");
        let text = send_frame(&format!(
            r#"{{"message_id":"m","message":{{"body":{{"fragments":[{many}]}}}}}}"#
        ));
        assert_eq!(refused_field(&text), "fragments");
        for index in [u64::from(u32::MAX), 5_000_000, MAX_FRAGMENTS as u64] {
            let add = format!(
                r#"{{"version":"2","event":"message.add","trace_id":"t","emitted_at":1,"payload":{{"message_id":"s","sequence":2,"mutation":{{"type":"append","target_fragment_index":{index}}},"fragments":[]}}}}"#
            );
            assert_eq!(refused_field(&add), "mutation.target_fragment_index");
        }
    }
}
