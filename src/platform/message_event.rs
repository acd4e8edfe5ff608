//! The `message` event as a JS object, built by one small JS function from the message's
//! strings: the app's hottest event skips writing and parsing JSON for its flat fields
//! (`docs/benchmarks.md`, the eighth session). The object equals
//! [`write_js_camel`](super::json::write_js_camel) of the message, key order included
//! (the order of [`InboundMessage`]'s `ToJson`); the fragments go as JSON unless they
//! are the message's one plain text, the mentions and the reply whenever there are any.

use wasm_bindgen::prelude::*;

use crate::json::{self, ToJson};
use crate::protocol::Fragment;
use crate::session::InboundMessage;

use super::json::write_js_camel;

#[wasm_bindgen(inline_js = r#"
export function messageEvent(pool, chatType, id, chat, sender, name, text, fragments,
    mentions, reply, flags, sentAt) {
  let at = 0;
  const cut = (length) => pool.slice(at, (at += length));
  const type = cut(chatType);
  const event = {
    messageId: cut(id),
    chatId: cut(chat),
    chatType: type,
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
    /// UTF-16 length of one of them (the chat type, always ASCII, first: nothing the
    /// server chose opens the text); a length of 0 for `fragments` means one text
    /// fragment of the message's text, for `mentions` none, for `reply` `null`. `flags`:
    /// bit 0 `mentionsMe`, bit 1 `mentionsAll`.
    #[wasm_bindgen(js_name = messageEvent, catch)]
    #[allow(clippy::too_many_arguments)]
    fn message_event(
        pool: &str,
        chat_type: usize,
        id: usize,
        chat: usize,
        sender: usize,
        name: usize,
        text: usize,
        fragments: usize,
        mentions: usize,
        reply: usize,
        flags: u32,
        sent_at: f64,
    ) -> Result<JsValue, JsValue>;
}

/// The strings of an event, one after the other, and their lengths as JS counts them.
struct Pool(String);

impl Pool {
    /// Appends `s`; its length in UTF-16 code units.
    fn push(&mut self, s: &str) -> usize {
        self.0.push_str(s);
        if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        }
    }

    /// Appends `value`'s camelCase JSON, if any; its length (0 for none).
    fn push_json<T: ToJson + ?Sized>(&mut self, value: Option<&T>) -> usize {
        value.map_or(0, |value| self.push(&json::to_string_camel(value)))
    }
}

/// The `message` event the app receives for `m` (from its JSON text should the function
/// ever throw).
pub fn message_js(m: &InboundMessage) -> JsValue {
    let mut pool = Pool(String::with_capacity(256));
    let chat_type = pool.push(m.origin.chat_type.as_str());
    let id = pool.push(&m.message_id);
    let chat = pool.push(&m.origin.chat_id);
    let sender = pool.push(&m.origin.sender_id);
    let name = pool.push(&m.origin.sender_name);
    let text = pool.push(&m.text);
    let plain = matches!(m.fragments.as_slice(),
        [Fragment::Text { text, delta: None }] if *text == m.text);
    let fragments = pool.push_json((!plain).then_some(&m.fragments));
    let mentions = pool.push_json((!m.mentions.is_empty()).then_some(&m.mentions));
    let reply = pool.push_json(m.reply.as_ref());
    let flags = u32::from(m.mentions_me) | u32::from(m.mentions_all) << 1;
    // Exact: a frame's time is within ±(2^53 − 1) (`protocol::bounds`).
    let sent_at = m.sent_at as f64;
    message_event(
        &pool.0, chat_type, id, chat, sender, name, text, fragments, mentions, reply, flags,
        sent_at,
    )
    .unwrap_or_else(|_| write_js_camel(m))
}
