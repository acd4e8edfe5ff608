// The bench's local server: serves the bench pages (bench/web) and, under /pkg/, the SDK
// package (the directory `pkg` names) on one loopback origin, and `/replay`, a minimal
// WebSocket hub (RFC 6455 by hand, no dependency) that does the ClawChat handshake with
// any token and then writes prepared `message.send` frames as fast as the socket takes
// them. The frames of a push are encoded once and cached, so the server's own cost stays
// out of the measurement.
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";

import { messageFrames } from "../web/frames.js";

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One unmasked server → client text frame. */
function wsFrame(text) {
  const body = Buffer.from(text);
  const n = body.length;
  const head = n < 126 ? Buffer.from([0x81, n])
    : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x81, 127, 0, 0, 0, 0]), Buffer.from([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])]);
  return Buffer.concat([head, body]);
}

const downlink = (event, payload, traceId = "") =>
  JSON.stringify({ version: "2", event, trace_id: traceId, emitted_at: Date.now(), payload });

/** Reads masked client frames from `socket` and calls `onText` for each text frame. */
function readFrames(socket, onText) {
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const opcode = pending[0] & 15;
      let len = pending[1] & 127;
      let at = 2;
      if (len === 126) {
        if (pending.length < 4) return;
        len = pending.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (pending.length < 10) return;
        len = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      if (pending.length < at + 4 + len) return;
      const mask = pending.subarray(at, at + 4);
      const body = Buffer.from(pending.subarray(at + 4, at + 4 + len));
      for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
      pending = pending.subarray(at + 4 + len);
      if (opcode === 1) onText(body.toString());
      else if (opcode === 8) socket.end(Buffer.from([0x88, 0]));
      else if (opcode === 9) socket.write(Buffer.concat([Buffer.from([0x8a, body.length]), body]));
    }
  });
}

/** Starts the server on `port`; resolves to `{ url, close() }`. */
export async function startServer({ root, pkg, port }) {
  const sockets = new Map(); // device id → socket, after the handshake
  const prepared = new Map(); // "count:batch" → encoded frames

  const batch = (url) => {
    const count = Number(url.searchParams.get("n"));
    const id = Number(url.searchParams.get("batch"));
    const key = `${count}:${id}`;
    if (!prepared.has(key)) prepared.set(key, Buffer.concat(messageFrames(count, id).map(wsFrame)));
    return prepared.get(key);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://bench");
    if (url.pathname === "/prepare") {
      batch(url);
      res.end("ok");
      return;
    }
    if (url.pathname === "/push") {
      const socket = sockets.get(url.searchParams.get("device"));
      if (!socket) {
        res.writeHead(404).end("no such device connected");
        return;
      }
      socket.write(batch(url));
      res.end("ok");
      return;
    }
    const path = url.pathname === "/" ? "/bench.html" : url.pathname;
    const file = path.startsWith("/pkg/") ? join(pkg, normalize(path.slice(5))) : join(root, "bench/web", normalize(path));
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": "max-age=600",
        // Cross-origin isolation: performance.now() at 5 µs instead of 100 µs.
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });

  server.on("upgrade", (req, socket) => {
    const key = req.headers["sec-websocket-key"];
    if (!req.url.startsWith("/replay") || !key) {
      socket.destroy();
      return;
    }
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    socket.setNoDelay(true);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const nonce = randomBytes(12).toString("hex");
    socket.write(wsFrame(downlink("connect.challenge", { nonce })));
    let device = null;
    readFrames(socket, (text) => {
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        return;
      }
      if (frame.event === "connect" && frame.payload?.nonce === nonce) {
        device = String(frame.payload.device_id ?? "");
        sockets.set(device, socket);
        socket.write(wsFrame(downlink("hello-ok", { device_id: device, delivery_mode: "device_replay" }, frame.trace_id)));
      } else if (frame.event === "ping") {
        socket.write(wsFrame(downlink("pong", frame.payload ?? {}, frame.trace_id)));
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (device !== null && sockets.get(device) === socket) sockets.delete(device);
    });
  });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      for (const socket of sockets.values()) socket.destroy();
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}
