// An in-page stand-in for `WebSocket`, for the CPU-only benches: it plays the hub's side
// of the handshake and then hands prepared frames to `onmessage` as real MessageEvents,
// with no network in between. Installed as `globalThis.WebSocket` before a client opens
// its socket, so the SDK (whose glue calls `new WebSocket(url)` at that moment) and the
// baseline go through the very same object — the SDK is driven only through its public
// API and its own socket handlers, and nothing in `src/` knows about the bench.

/** Resolves after one macrotask (no 4 ms clamp, unlike nested `setTimeout`). */
export function nextTask() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
}

const downlink = (event, payload, traceId = "") =>
  JSON.stringify({ version: "2", event, trace_id: traceId, emitted_at: Date.now(), payload });

export class ReplaySocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  /** The socket opened last (the one a bench pushes frames into). */
  static last = null;

  constructor(url) {
    this.url = url;
    this.readyState = ReplaySocket.CONNECTING;
    this.binaryType = "blob";
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this.nonce = `n${Math.random().toString(36).slice(2)}`;
    ReplaySocket.last = this;
    setTimeout(() => {
      this.readyState = ReplaySocket.OPEN;
      this.onopen?.(new Event("open"));
      this.deliver(downlink("connect.challenge", { nonce: this.nonce }));
    }, 0);
  }

  deliver(text) {
    if (this.readyState === ReplaySocket.OPEN) this.onmessage?.(new MessageEvent("message", { data: text }));
  }

  send(text) {
    if (this.readyState !== ReplaySocket.OPEN) throw new DOMException("not open", "InvalidStateError");
    const frame = JSON.parse(text);
    if (frame.event === "connect" && frame.payload?.nonce === this.nonce) {
      const payload = { device_id: frame.payload.device_id, delivery_mode: "device_replay" };
      setTimeout(() => this.deliver(downlink("hello-ok", payload, frame.trace_id)), 0);
    } else if (frame.event === "ping") {
      setTimeout(() => this.deliver(downlink("pong", frame.payload ?? {}, frame.trace_id)), 0);
    }
  }

  close() {
    if (this.readyState === ReplaySocket.CLOSED) return;
    this.readyState = ReplaySocket.CLOSED;
    setTimeout(() => this.onclose?.(new CloseEvent("close", { code: 1000 })), 0);
  }

  /**
   * Delivers `events` (prepared MessageEvents) in tasks of `chunk` frames, as a busy
   * socket does, then waits one more task so work the client deferred is done too.
   */
  async push(events, chunk = 1000) {
    for (let i = 0; i < events.length; i += chunk) {
      const end = Math.min(i + chunk, events.length);
      for (let j = i; j < end; j++) this.onmessage(events[j]);
      await nextTask();
    }
    await nextTask();
  }
}
