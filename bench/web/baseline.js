// The plain-JS baseline the SDK is measured against: a minimal ClawChat client written
// from shared/PROTOCOL.md, doing the same checks the SDK does on the same paths —
// handshake (§3), inbound message frames with the self-echo guard, mode filter, dedupe
// and fragment validation (§3 Events), sends matched to their acks by trace id (§4), and
// the session kept in IndexedDB. No retries, tabs or refresh: only what the measured
// paths need, so a ratio near 1 means the SDK costs no more than hand-written JS.

const MAX_FRAME_BYTES = 1024 * 1024;
const MAX_ID_CHARS = 256;
const MAX_FRAGMENTS = 1024;
const DEDUPE_WINDOW = 2048;
const MEDIA_KINDS = new Set(["image", "file", "audio", "video"]);
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v) => v === undefined || (Number.isSafeInteger(v) && v >= 0);
const optString = (v) => (typeof v === "string" ? v : null);

/** A fragment as the app sees it; unknown or malformed ones are kept verbatim. */
function fragment(raw) {
  if (!isObject(raw)) return raw;
  const kind = raw.kind;
  if (kind === "text") {
    if (typeof raw.text !== "string") return raw;
    return raw.delta === undefined ? { kind, text: raw.text } : { kind, text: raw.text, delta: optString(raw.delta) };
  }
  if (kind === "mention") return { kind, user_id: optString(raw.user_id), display: optString(raw.display) };
  if (MEDIA_KINDS.has(kind)) {
    const ok = typeof raw.url === "string" && isCount(raw.size) && isCount(raw.width) && isCount(raw.height)
      && isCount(raw.duration) && (raw.name === undefined || typeof raw.name === "string")
      && (raw.mime === undefined || typeof raw.mime === "string");
    return ok ? { ...raw } : raw;
  }
  return raw;
}

function fragments(raw) {
  if (!Array.isArray(raw) || raw.length > MAX_FRAGMENTS) return null;
  return raw.map(fragment);
}

function plainText(list) {
  let text = "";
  for (const f of list) {
    if (f.kind === "text" && typeof f.text === "string") text += f.text;
    else if (f.kind === "mention" && typeof f.display === "string") text += f.display;
  }
  return text;
}

/** Remembers the last `size` message ids (a set plus a ring of insertion order). */
class Dedupe {
  constructor(size) {
    this.seen = new Set();
    this.ring = new Array(size);
    this.next = 0;
  }

  firstSighting(id) {
    if (this.seen.has(id)) return false;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.ring.length;
    this.seen.add(id);
    return true;
  }
}

/** Parses one frame: an object with version "2" (or none) and a string event, else null. */
export function decodeFrame(text) {
  if (typeof text !== "string" || text.length > MAX_FRAME_BYTES) return null;
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(frame) || typeof frame.event !== "string") return null;
  if (frame.version !== undefined && frame.version !== "" && frame.version !== "2") return null;
  if (frame.trace_id !== undefined && typeof frame.trace_id !== "string") return null;
  if (frame.emitted_at !== undefined && !Number.isSafeInteger(frame.emitted_at)) return null;
  return frame;
}

/** Inbound message frames to app events: guard, routing, mode, dedupe, body checks. */
export class Inbound {
  constructor(ownUserId) {
    this.own = ownUserId.trim();
    this.dedupe = new Dedupe(DEDUPE_WINDOW);
    this.handlers = [];
  }

  /** A `message` event for a new message from someone else, else null. */
  message(frame) {
    if (!this.own) return null; // self-echo guard fails closed
    const { chat_id: chatId, sender, payload } = frame;
    if (typeof chatId !== "string" || !chatId || !isObject(sender) || typeof sender.id !== "string") return null;
    const chatType = frame.chat_type ?? "direct";
    if (chatType !== "direct" && chatType !== "group") return null;
    if (sender.id === this.own || !isObject(payload)) return null;
    const id = payload.message_id;
    if (typeof id !== "string" || !id || id.length > MAX_ID_CHARS) return null;
    const mode = payload.message_mode;
    if (mode !== undefined && mode !== "" && mode !== "normal") return null;
    const message = isObject(payload.message) ? payload.message : {};
    const body = fragments(isObject(message.body) ? message.body.fragments ?? [] : []);
    if (!body) return null;
    const context = isObject(message.context) ? message.context : {};
    const mentions = Array.isArray(context.mentions) ? context.mentions : [];
    let reply = null;
    if (isObject(context.reply)) {
      const preview = isObject(context.reply.reply_preview) ? context.reply.reply_preview : {};
      const quoted = fragments(preview.fragments ?? []) ?? [];
      reply = { messageId: optString(context.reply.reply_to_msg_id) ?? "", nickName: optString(preview.nick_name) ?? "",
        fragments: quoted, text: plainText(quoted) };
    }
    if (!this.dedupe.firstSighting(id)) return null;
    const nick = typeof sender.nick_name === "string" && sender.nick_name ? sender.nick_name : sender.id;
    return {
      messageId: id, chatId, chatType, senderId: sender.id,
      senderName: nick, fragments: body, text: plainText(body), mentions, reply, sentAt: frame.emitted_at ?? 0,
    };
  }

  /** Handles one text frame; true when it was delivered as a message. */
  onText(text) {
    const frame = decodeFrame(text);
    if (!frame || (frame.event !== "message.send" && frame.event !== "message.reply")) return false;
    const event = this.message(frame);
    if (!event) return false;
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        console.warn("a message handler threw", err);
      }
    }
    return true;
  }
}

/** `msg-` + a ULID from the clock and Web Crypto (§3 outbound ids). */
export function messageId() {
  let ms = Date.now();
  let time = "";
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let tail = "";
  for (const byte of random) tail += CROCKFORD[byte & 31];
  return `msg-${time}${tail}`;
}

/**
 * A raw WebSocket client: `connect()` resolves at `hello-ok`; inbound messages go to
 * `on("message")`; `sendText` resolves on the matching `message.ack`.
 */
export class RawClient {
  constructor({ url, userId, accessToken, deviceId }) {
    Object.assign(this, { url, accessToken, deviceId });
    this.inbound = new Inbound(userId);
    this.pending = new Map();
    this.traces = 0;
  }

  on(event, handler) {
    if (event === "message") this.inbound.handlers.push(handler);
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onclose = () => {
        reject(new Error("closed before hello-ok"));
        for (const { reject: fail } of this.pending.values()) fail(new Error("socket closed"));
        this.pending.clear();
      };
      ws.onmessage = (event) => {
        const text = event.data;
        if (this.inbound.onText(text)) return;
        const frame = decodeFrame(text);
        if (!frame) return;
        const payload = isObject(frame.payload) ? frame.payload : {};
        switch (frame.event) {
          case "connect.challenge":
            if (typeof payload.nonce !== "string") return;
            this.write("connect", null, {
              token: this.accessToken, nonce: payload.nonce, device_id: this.deviceId,
              capabilities: { multi_device: true, device_replay: true },
            });
            return;
          case "hello-ok":
            resolve();
            return;
          case "hello-fail":
            reject(new Error(`hello-fail: ${payload.reason}`));
            return;
          case "message.ack":
          case "message.error":
            this.settle(frame, payload);
            return;
          case "ping":
            this.write("pong", null, payload, frame.trace_id);
            return;
          default:
        }
      };
    });
  }

  settle(frame, payload) {
    const waiting = this.pending.get(frame.trace_id);
    if (!waiting) return;
    this.pending.delete(frame.trace_id);
    if (frame.event === "message.error") {
      waiting.reject(Object.assign(new Error(`send failed: ${payload.reason ?? payload.message}`), { code: payload.code }));
    } else if (payload.message_id !== waiting.messageId || typeof payload.accepted_at !== "number") {
      waiting.reject(new Error("ack does not echo our message id"));
    } else {
      waiting.resolve({ messageId: payload.message_id, acceptedAt: payload.accepted_at });
    }
  }

  write(event, chatId, payload, traceId = `trc-${++this.traces}`) {
    const frame = { version: "2", event, trace_id: traceId, emitted_at: Date.now(), payload };
    if (chatId) frame.chat_id = chatId;
    this.ws.send(JSON.stringify(frame));
    return traceId;
  }

  sendText(chatId, text) {
    const id = messageId();
    const payload = { message_id: id, message_mode: "normal",
      message: { body: { fragments: [{ kind: "text", text }] }, context: { mentions: [], reply: null } } };
    return new Promise((resolve, reject) => {
      const traceId = this.write("message.send", chatId, payload);
      this.pending.set(traceId, { messageId: id, resolve, reject });
    });
  }

  close() {
    this.ws.onclose = null;
    this.ws.close();
  }
}

/** The session row of the baseline, in its own IndexedDB database. */
export const sessionStore = {
  open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("bench-baseline", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("sessions", { keyPath: "accountKey" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  },
  async run(mode, act) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const request = act(db.transaction("sessions", mode).objectStore("sessions"));
      request.onsuccess = () => {
        db.close();
        resolve(request.result);
      };
      request.onerror = () => reject(request.error);
    });
  },
  save(session) {
    return this.run("readwrite", (store) => store.put(session));
  },
  load(accountKey) {
    return this.run("readonly", (store) => store.get(accountKey));
  },
};
