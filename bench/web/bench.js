// The in-page half of the browser benches: each function runs one side (the SDK or the
// plain-JS baseline) of one comparison in a fresh page and returns raw numbers; the node
// driver (bench/browser/run.mjs) pairs the sides, runs them 3 times and prints ratios.
import init, { ClawChatClient } from "/pkg/clawchat_wasm.js";
import { RawClient, sessionStore } from "./baseline.js";
import { cast, messageFrames } from "./frames.js";
import { ReplaySocket, nextTask } from "./replay-socket.js";

const { me } = cast();
let wasm = null;
const sdk = async () => (wasm ??= await init());

/** An unsigned JWT-shaped token: the replay hubs accept any token, the SDK reads `exp`. */
function fakeToken(userId, deviceId) {
  const b64 = (v) => btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "none" })}.${b64({ sub: userId, did: deviceId, iat: now, exp: now + 86_400 })}.x`;
}

const events = (frames) => frames.map((data) => new MessageEvent("message", { data }));

/** A connected client of `kind` ("sdk" | "raw") whose `message` handler counts. */
async function client(kind, { url, base = location.origin, session, storage = "memory" }) {
  const counter = { count: 0, chars: 0, target: Infinity, reached: null };
  const onMessage = (m) => {
    counter.count++;
    counter.chars += m.text.length;
    if (counter.count >= counter.target) counter.reached?.();
  };
  if (kind === "raw") {
    const raw = new RawClient({ url, ...session });
    raw.on("message", onMessage);
    await raw.connect();
    return { counter, send: (chat, text) => raw.sendText(chat, text), close: () => raw.close() };
  }
  await sdk();
  const c = new ClawChatClient({ baseUrl: base, websocketUrl: url, storage, session, logLevel: "error" });
  c.on("message", onMessage);
  const ready = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error("the SDK client was not ready within 30 s")), 30_000);
    c.on("state", (s) => s.state === "ready" && resolve());
  });
  await c.connect();
  await ready;
  return {
    counter,
    send: (chat, text) => c.sendText(chat, text),
    // The id of the chat's newest cached message, once every message delivered before
    // is written: a read waits for the cache writes queued before it.
    cachedNewest: async (chat) => (await c.history(chat, { limit: 1 }))[0]?.messageId,
    /** ms of one `history()` page of 50 from the cache, for each chat in turn. */
    historyMs: async (chats) => {
      const times = [];
      for (const chat of chats) {
        const t0 = performance.now();
        const page = await c.history(chat, { limit: 50 });
        times.push(performance.now() - t0);
        if (page.length !== 50) throw new Error(`a page of ${page.length} from the cache of ${chat}`);
      }
      return times;
    },
    close: () => c.disconnect(),
  };
}

/** Resolves when `counter` has counted `target` messages (rejects after `ms`). */
function counted(counter, target, ms = 300_000) {
  if (counter.count >= target) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${counter.count} of ${target} messages`)), ms);
    counter.target = target;
    counter.reached = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

const replaySession = (deviceId) => ({ userId: me, accessToken: fakeToken(me, deviceId), deviceId, refreshToken: "bench" });

/**
 * Bench 1: decode + dispatch of `n` frames pushed through the in-page replay socket, in
 * tasks of `chunk` frames (1: each in a task of its own, as from a real socket). With
 * `storage: "indexeddb"` (the SDK's default) the time runs until the SDK's message cache
 * has written them all (and trimmed each chat to its newest 200); the baseline caches
 * nothing.
 */
async function cpu({ kind, n, warmup, storage = "memory", chunk = 1000 }) {
  globalThis.WebSocket = ReplaySocket;
  const c = await client(kind, { url: "ws://replay.invalid/ws", session: replaySession(`cpu-${kind}-${storage}`), storage });
  const socket = ReplaySocket.last;
  const stored = kind === "sdk" && storage !== "memory";
  const chat = cast().chats[0].id;
  await socket.push(events(messageFrames(warmup, 1)), chunk);
  if (stored) await c.cachedNewest(chat);
  const frames = messageFrames(n, 2);
  const timed = events(frames);
  await nextTask();
  const t0 = performance.now();
  await socket.push(timed, chunk);
  const newest = stored ? await c.cachedNewest(chat) : null;
  const ms = performance.now() - t0;
  if (stored) {
    // A failed cache write is only a `warn` event: check the last one reached the store.
    const last = frames.map((f) => JSON.parse(f)).filter((f) => f.chat_id === chat).at(-1);
    if (newest !== last.payload.message_id) throw new Error(`the cache holds ${newest}, not ${last.payload.message_id}`);
  }
  if (c.counter.count !== warmup + n) throw new Error(`${kind}: ${c.counter.count} of ${warmup + n} delivered`);
  c.close();
  return { ms, perFrameUs: (ms * 1000) / n };
}

/**
 * Bench 2: frames/s over a real loopback socket from the replay server. With `follower`,
 * the client says `leaderReady` and waits for the driver's `startPush()` (the driver
 * opens a follower tab of the same account in between).
 */
async function socket({ kind, n, warmup, run, follower = false }) {
  const device = `sock-${kind}-${run}`;
  const url = `${location.origin.replace("http", "ws")}/replay`;
  const c = await client(kind, { url, session: replaySession(device) });
  if (follower) {
    const start = new Promise((resolve) => (window.startPush = resolve));
    window.leaderReady = true;
    await start;
  }
  const push = async (count, batch) => {
    await fetch(`/prepare?n=${count}&batch=${batch}`);
    const done = counted(c.counter, c.counter.count + count);
    const t0 = performance.now();
    await fetch(`/push?device=${device}&n=${count}&batch=${batch}`);
    await done;
    return performance.now() - t0;
  };
  await push(warmup, 1);
  const ms = await push(n, 2);
  c.close();
  return { ms, framesPerSec: (n * 1000) / ms };
}

/**
 * Bench 2b, the other tab: an SDK client of `device`'s account that follows the leader
 * tab and counts the messages relayed to it.
 */
async function follow({ device }) {
  await sdk();
  const c = new ClawChatClient({ websocketUrl: "ws://127.0.0.1:9/unused", baseUrl: location.origin, storage: "memory", session: replaySession(device), logLevel: "error" });
  window.relayed = 0;
  c.on("message", () => window.relayed++);
  // The leader answers the follower's hello with its state: from then on it relays.
  const heard = new Promise((resolve) => c.on("state", (s) => s.state === "ready" && c.role === "follower" && resolve()));
  await c.connect();
  await heard;
}

/**
 * Marks, on this page's sockets, when each `message.send` frame is written and when each
 * `message.ack` arrives (before the client's own handler runs), in the order they happen.
 */
function markRoundTrips() {
  const marks = { written: [], acked: [] };
  const Socket = globalThis.WebSocket;
  const write = Socket.prototype.send;
  globalThis.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", ({ data }) => {
        if (typeof data === "string" && data.includes('"event":"message.ack"')) marks.acked.push(performance.now());
      });
    }

    send(data) {
      if (typeof data === "string" && data.includes('"event":"message.send"')) marks.written.push(performance.now());
      return write.call(this, data);
    }
  };
  return marks;
}

/**
 * Bench 3: closed-loop sends against the emulator. Each round trip's latency (ms), and the
 * client's own part of it: the latency less the time from its frame written to its ack
 * arriving (the server, the network, the browser's socket), i.e. the client's work from
 * the send call to the frame and from the ack to the settled promise.
 */
async function sendAck({ kind, base, wsUrl, session, chatId, n, warmup, storage }) {
  const marks = markRoundTrips();
  const c = await client(kind, { url: wsUrl, base, session, storage });
  for (let i = 0; i < warmup; i++) await c.send(chatId, `warm-up ${i}`);
  const latencies = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.send(chatId, `bench message ${i}`);
    latencies.push(performance.now() - t0);
  }
  c.close();
  const written = marks.written.slice(-n);
  const acked = marks.acked.slice(-n);
  if (written.length !== n || acked.length !== n) throw new Error(`${written.length} sends and ${acked.length} acks marked of ${n}`);
  const own = latencies.map((latency, i) => latency - (acked[i] - written[i]));
  return { latencies, own };
}

/** Bench 4, set-up: stores the session the way each side keeps it (SDK: IndexedDB). */
async function storeSession({ kind, base, wsUrl, session }) {
  if (kind === "raw") {
    await sessionStore.save({ accountKey: session.userId, ...session, wsUrl });
    return;
  }
  const c = await client("sdk", { url: wsUrl, base, session, storage: "indexeddb" });
  c.close();
}

/** Bench 5: wasm memory after every `step` of `n` inbound frames (SDK only). */
async function memory({ n, step }) {
  globalThis.WebSocket = ReplaySocket;
  const c = await client("sdk", { url: "ws://replay.invalid/ws", session: replaySession("memory") });
  const bytes = () => wasm.memory.buffer.byteLength;
  const curve = [{ frames: 0, bytes: bytes() }];
  for (let done = 0; done < n; done += step) {
    await ReplaySocket.last.push(events(messageFrames(step, 10 + done / step)));
    curve.push({ frames: done + step, bytes: bytes() });
  }
  if (c.counter.count !== n) throw new Error(`${c.counter.count} of ${n} delivered`);
  c.close();
  return curve;
}

/**
 * Bench 6: `history()` pages read back from the default storage after `n` inbound frames
 * were cached (SDK only): ms of a page of 50 for each of the bench's chats.
 */
async function history({ n }) {
  globalThis.WebSocket = ReplaySocket;
  const c = await client("sdk", { url: "ws://replay.invalid/ws", session: replaySession("history"), storage: "indexeddb" });
  const chats = cast().chats.map((chat) => chat.id);
  await ReplaySocket.last.push(events(messageFrames(n, 11)));
  await c.cachedNewest(chats[0]);
  const times = await c.historyMs(chats);
  c.close();
  return times;
}

window.bench = { cpu, socket, follow, sendAck, storeSession, memory, history };
window.benchReady = true;
