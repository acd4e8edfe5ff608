//! The `message` event as a JS object, built by one small JS function from the message's
//! strings: the app's hottest event skips writing and parsing JSON for its flat fields
//! (≈ 10 µs of a frame's 45 in `bench/browser inbound-cpu`). The object equals
//! [`write_js_camel`](super::json::write_js_camel) of the message, key order included;
//! the fragments, mentions and reply, when they are more than one plain text, go as JSON.

use wasm_bindgen::prelude::*;

use crate::json;
use crate::protocol::Fragment;
use crate::session::InboundMessage;

#[wasm_bindgen(inline_js = r#"
export function messageEvent(pool, id, chat, chatType, sender, name, text, fragments,
    mentions, reply, flags, sentAt) {
  let at = 0;
  const cut = (length) => pool.slice(at, (at += length));
  const event = {
    messageId: cut(id),
    chatId: cut(chat),
    chatType: cut(chatType),
    senderId: cut(sender),
    senderName: cut(name),
    fragments: null,
    text: cut(text),
    mentions: [],
    mentionsMe: (flags & 1) !== 0,
    mentionsAll: (flags & 2) !== 0,
    reply: null,
    sentAt,
  };
  event.fragments = fragments ? JSON.parse(cut(fragments)) : [{ kind: "text", text: event.text }];
  if (mentions) event.mentions = JSON.parse(cut(mentions));
  if (reply) event.reply = JSON.parse(cut(reply));
  return event;
}
"#)]
extern "C" {
    /// The event from `pool`, the strings one after the other, each argument after it the
    /// UTF-16 length of one of them; a length of 0 for `fragments` means one text fragment
    /// of the message's text, for `mentions` none, for `reply` `null`. `flags`: bit 0
    /// `mentionsMe`, bit 1 `mentionsAll`.
    #[wasm_bindgen(js_name = messageEvent)]
    #[allow(clippy::too_many_arguments)]
    fn message_event(
        pool: &str,
        id: u32,
        chat: u32,
        chat_type: u32,
        sender: u32,
        name: u32,
        text: u32,
        fragments: u32,
        mentions: u32,
        reply: u32,
        flags: u32,
        sent_at: f64,
    ) -> JsValue;
}

/// The strings of an event, one after the other, and their lengths as JS counts them.
struct Pool(String);

impl Pool {
    /// Appends `s`; its length in UTF-16 code units.
    fn push(&mut self, s: &str) -> u32 {
        self.0.push_str(s);
        let units = if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        };
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// Appends `value`'s camelCase JSON unless it `is_default` (then 0).
    fn push_json<T: json::ToJson + ?Sized>(&mut self, is_default: bool, value: &T) -> u32 {
        if is_default {
            0
        } else {
            self.push(&json::to_string_camel(value))
        }
    }
}

/// The `message` event the app receives for `m`.
pub fn message_js(m: &InboundMessage) -> JsValue {
    let mut pool = Pool(String::with_capacity(256));
    let id = pool.push(&m.message_id);
    let chat = pool.push(&m.origin.chat_id);
    let chat_type = pool.push(m.origin.chat_type.as_str());
    let sender = pool.push(&m.origin.sender_id);
    let name = pool.push(&m.origin.sender_name);
    let text = pool.push(&m.text);
    let plain = matches!(m.fragments.as_slice(),
        [Fragment::Text { text, delta: None }] if *text == m.text);
    let fragments = pool.push_json(plain, &m.fragments);
    let mentions = pool.push_json(m.mentions.is_empty(), &m.mentions);
    let reply = pool.push_json(m.reply.is_none(), &m.reply);
    let flags = u32::from(m.mentions_me) | u32::from(m.mentions_all) << 1;
    // Exact up to 2^53 ms, as `JSON.parse` of the number would be.
    message_event(
        &pool.0,
        id,
        chat,
        chat_type,
        sender,
        name,
        text,
        fragments,
        mentions,
        reply,
        flags,
        m.sent_at as f64,
    )
}
