// Browser benches: the SDK side by side with the plain-JS baseline (bench/web/baseline.js)
// in one headless Chromium, each comparison run RUNS times (fresh pages, alternating which
// side goes first), printing min / median / max of the ratio. The machine is shared and
// noisy: the absolute figures drift from run to run, the ratios are what count.
//
// node bench/harness/run.mjs [inbound-cpu] [inbound-tasks] [inbound-cpu-stored] [inbound-tasks-stored] [inbound-socket] [inbound-follower] [send-ack] [send-ack-stored] [cold-start]
//   [cold-phases] [cold-compile] [code-cache] [memory] [history]
// (all when none is named; bench/browser builds what this needs first)
// The pages load the SDK from /pkg/: the npm package scripts/package.sh builds, as an app
// would, or the directory CLAWCHAT_BENCH_PACKAGE names (to compare two builds).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { Emulator, launch, launchWithProfile, ROOT } from "../../e2e/harness.mjs";
import { startServer } from "./server.mjs";

const RUNS = 3;
const CPU_FRAMES = 100_000;
const TASK_FRAMES = 10_000;
const HISTORY_FRAMES = 20_000;
const SOCKET_FRAMES = 20_000;
// Fewer: with IndexedDB each frame also waits for the cache's writes (≈ 0.06 ms a frame).
const STORED_FRAMES = 20_000;
const WARMUP_FRAMES = 2_000;
const SENDS = 1_000;
const WARMUP_SENDS = 50;
const COLD_LOADS = 7;
const BUSY_FRAMES = 20_000;
const BUSY_IDLE_MS = 12_000;
const MEMORY_FRAMES = 300_000;
const MEMORY_STEP = 100_000;

const OFFSET = Number(process.env.CLAWCHAT_E2E_PORT_OFFSET ?? 0);
const EMULATOR_PORT = 18827 + OFFSET; // and its admin listener on + 1
const SERVER_PORT = 18830 + OFFSET;
const PACKAGE = resolve(ROOT, process.env.CLAWCHAT_BENCH_PACKAGE ?? "target/npm/clawchat-wasm");
const ALL = ["inbound-cpu", "inbound-tasks", "inbound-cpu-stored", "inbound-tasks-stored", "inbound-socket", "inbound-follower", "send-ack", "send-ack-stored", "cold-start", "cold-phases", "cold-compile",
  "code-cache", "memory", "history"];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))];
const fmt = (x, digits = 2) => x.toFixed(digits);

/** One result line: min / median / max of the per-run ratios, then the detail. */
function report(label, ratios, detail) {
  const sorted = [...ratios].sort((a, b) => a - b);
  const digits = sorted[0] < 0.1 ? 3 : 2;
  console.log(`${label.padEnd(48)} min ${fmt(sorted[0], digits)}×  median ${fmt(median(sorted), digits)}×  max ${fmt(sorted.at(-1), digits)}×   ${detail}`);
}

/** Runs `fn(kind, run)` for both sides RUNS times, alternating which goes first. */
async function sideBySide(fn) {
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 ? ["raw", "sdk"] : ["sdk", "raw"];
    const result = {};
    for (const kind of order) result[kind] = await fn(kind, run);
    runs.push(result);
  }
  return runs;
}

/** A new bench page of `context`, once its `window.bench` is ready; page errors are printed under `label`. */
async function benchPage(context, base, label) {
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`page error (${label}):`, err.message));
  await page.goto(`${base}/bench.html`);
  await page.waitForFunction(() => window.benchReady === true);
  return page;
}

/** Calls `window.bench[name](args)` in a fresh context's bench page. */
async function inPage(browser, base, name, args) {
  const context = await browser.newContext();
  try {
    const page = await benchPage(context, base, name);
    return await page.evaluate(([n, a]) => window.bench[n](a), [name, args]);
  } finally {
    await context.close();
  }
}

/**
 * The SDK's socket bench in a leader tab; with `follower`, a second tab of the same
 * account joins (and must get every message relayed) before the frames are pushed.
 */
async function leaderWith(browser, base, follower, args) {
  const context = await browser.newContext();
  try {
    const open = () => benchPage(context, base, "inbound-follower");
    const leader = await open();
    const result = leader.evaluate((a) => window.bench.socket(a), { ...args, follower });
    if (!follower) return await result;
    await leader.waitForFunction(() => window.leaderReady === true, null, { timeout: 30_000 });
    const other = await open();
    await other.evaluate((a) => window.bench.follow(a), { device: `sock-sdk-${args.run}` });
    await leader.evaluate(() => window.startPush());
    const done = await result;
    const total = args.n + args.warmup;
    await other.waitForFunction((t) => window.relayed >= t, total, { timeout: 60_000 }).catch(async (err) => {
      throw new Error(`the follower got ${await other.evaluate(() => window.relayed)} of ${total} messages`, { cause: err });
    });
    return done;
  } finally {
    await context.close();
  }
}

/** The page tests' emulator, but the release build (as shipped) serving the bench pages. */
class ReleaseEmulator extends Emulator {
  constructor(port) {
    super({ port, ttlSecs: 86_400 });
    this.ws = `ws://127.0.0.1:${port}/ws`;
  }

  /** Starts it and resolves when it prints that it is ready. */
  start() {
    this.child = spawn(join(ROOT, "target/release/clawchat-emulator"), [
      "--listen", `127.0.0.1:${this.port}`, "--admin-listen", `127.0.0.1:${this.port + 1}`,
      "--db", join(this.dir, "db.sqlite3"), "--token-ttl-secs", String(this.ttlSecs),
      "--www-dir", join(ROOT, "bench/web"), "--pkg-dir", PACKAGE,
      // The bench pages come from the bench server: the emulator refuses foreign origins.
      "--allow-origin", `http://127.0.0.1:${SERVER_PORT}`,
    ], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
    return new Promise((resolve, reject) => {
      this.child.once("exit", (code) => reject(new Error(`emulator exited (${code})`)));
      this.child.stdout.on("data", (chunk) => String(chunk).includes("emulator ready") && resolve());
    });
  }

  async stop() {
    await super.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async call(path, body, token) {
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const reply = await (await fetch(`${this.base}${path}`, { method: "POST", headers, body: JSON.stringify(body) })).json();
    if (reply.code !== 0) throw new Error(`${path}: ${reply.msg}`);
    return reply.data;
  }

  /** A session for `nickname` as the SDK's options take it. */
  async signIn(nickname) {
    const d = await this.call("/v1/dev/sign-in", { nickname, device_id: `${nickname}-device`, ttl_secs: 86_400 });
    return { userId: d.user_id, accessToken: d.access_token, refreshToken: d.refresh_token, deviceId: d.device_id, activatedAt: d.activated_at };
  }

  async directChat(session, peer) {
    return (await this.call("/v1/chats", { type: "direct", member_ids: [peer.userId] }, session.accessToken)).id;
  }
}

/**
 * One browser context per side with the session stored, and `load(kind)`: a fresh page of
 * that side's cold page until `ready`, resolving to its time (or, with `trace`, the marks
 * of bench/web/cold-trace.js).
 */
async function coldSides({ browser, server, emulator, trace = false, kinds = ["sdk", "raw"] }) {
  const sides = {};
  for (const kind of kinds) {
    const session = await emulator.signIn(`bench-cold-${kind}${trace ? "-trace" : ""}`);
    const context = await browser.newContext();
    const page = await benchPage(context, server.url, "storeSession");
    await page.evaluate((a) => window.bench.storeSession(a), { kind, base: emulator.base, wsUrl: emulator.ws, session });
    await page.close();
    if (trace) await context.addInitScript({ path: join(ROOT, "bench/web/cold-trace.js") });
    sides[kind] = { context, url: `${server.url}/cold-${kind}.html?base=${encodeURIComponent(emulator.base)}&account=${session.userId}` };
  }
  const load = async (kind) => {
    const page = await sides[kind].context.newPage();
    page.on("pageerror", (err) => console.error(`page error (cold-${kind}):`, err.message));
    await page.goto(sides[kind].url);
    await page.waitForFunction(() => typeof window.readyAt === "number", null, { timeout: 30_000 });
    const result = await page.evaluate(() => window.coldMarks ?? window.readyAt);
    await page.close();
    return result;
  };
  return { sides, load };
}

/**
 * A fresh page of `side`'s cold page until `ready` under a V8 trace: how many wasm
 * functions were compiled lazily (V8 compiles each on its first call, on the main thread)
 * on the way, and the time that took.
 */
async function lazyCompiles(side) {
  const page = await side.context.newPage();
  const cdp = await side.context.newCDPSession(page);
  const events = [];
  cdp.on("Tracing.dataCollected", ({ value }) => events.push(...value));
  const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.start", { traceConfig: { includedCategories: ["v8.wasm"] } });
  await page.goto(side.url);
  await page.waitForFunction(() => typeof window.readyAt === "number", null, { timeout: 30_000 });
  await cdp.send("Tracing.end");
  await complete;
  const readyAt = await page.evaluate(() => window.readyAt);
  await page.close();
  const lazy = events.filter((e) => e.name === "wasm.CompileLazy");
  const bytes = lazy.reduce((sum, e) => sum + (side.sizes?.get(e.args?.func_index) ?? 0), 0);
  return { functions: lazy.length, bytes, ms: lazy.reduce((sum, e) => sum + (e.dur ?? 0), 0) / 1000, readyAt };
}

/**
 * The body size in bytes of each function of the wasm module `bytes`, by function index
 * (imported functions first, without a body): read from its import and code sections.
 */
function functionSizes(bytes) {
  let at = 8; // magic and version
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  const name = () => { const length = leb(); at += length; };
  let imported = 0;
  const sizes = new Map();
  while (at < bytes.length) {
    const id = bytes[at++];
    const end = leb() + at;
    if (id === 2) { // imports: module, name, then a kind and its description
      for (let count = leb(); count > 0; count--) {
        name(); name();
        const limits = () => { const flags = bytes[at++]; leb(); if (flags & 1) leb(); };
        const kind = bytes[at++];
        if (kind === 0) { leb(); imported++; } // a function: its type
        else if (kind === 1) { at++; limits(); } // a table: element type, limits
        else if (kind === 2) limits(); // a memory
        else if (kind === 3) at += 2; // a global: value type, mutability
        else if (kind === 4) { at++; leb(); } // a tag: attribute, type
      }
    } else if (id === 10) { // code: one body per defined function
      for (let count = leb(), index = imported; count > 0; count--, index++) {
        const size = leb();
        sizes.set(index, size);
        at += size;
      }
    }
    at = end;
  }
  return sizes;
}

/** The median step and time of each mark (its first occurrence) over the loads' marks. */
function phases(loads) {
  const labels = [...new Set(loads.flatMap((marks) => marks.map(([, label]) => label)))];
  const firstAt = (marks, label) => marks.find(([, l]) => l === label)?.[0];
  return labels.map((label, i) => {
    const at = loads.map((marks) => firstAt(marks, label)).filter((t) => t !== undefined);
    const steps = loads.map((marks) => firstAt(marks, label) - (i ? firstAt(marks, labels[i - 1]) : 0))
      .filter((t) => !Number.isNaN(t));
    return { label, step: median(steps), at: median(at) };
  });
}

/**
 * The `inbound-cpu` comparison with each frame in a task of its own, as a socket delivers
 * them; with `"indexeddb"` (the default) timed until the SDK's cache has written them.
 */
async function inboundTasks({ browser, server }, storage) {
  const runs = await sideBySide((kind) => inPage(browser, server.url, "cpu",
    { kind, n: TASK_FRAMES, warmup: WARMUP_FRAMES, chunk: 1, storage }));
  const ratios = runs.map((r) => r.raw.ms / r.sdk.ms);
  const us = (kind) => fmt(median(runs.map((r) => r[kind].perFrameUs)));
  const stored = storage === "memory" ? "" : ", with the default storage until cached";
  report(`inbound, each frame a task of its own${stored} (${TASK_FRAMES / 1000}k frames)`, ratios,
    `throughput SDK ÷ JS; median µs/frame SDK ${us("sdk")}, JS ${us("raw")}`);
}

const benches = {
  async "inbound-cpu"({ browser, server }) {
    const runs = await sideBySide((kind) => inPage(browser, server.url, "cpu", { kind, n: CPU_FRAMES, warmup: WARMUP_FRAMES }));
    const ratios = runs.map((r) => r.raw.ms / r.sdk.ms);
    const us = (kind) => fmt(median(runs.map((r) => r[kind].perFrameUs)));
    report("inbound decode+dispatch, CPU (100k frames)", ratios,
      `throughput SDK ÷ JS; median µs/frame SDK ${us("sdk")}, JS ${us("raw")}`);
  },

  "inbound-tasks": (ctx) => inboundTasks(ctx, "memory"),

  "inbound-tasks-stored": (ctx) => inboundTasks(ctx, "indexeddb"),

  async "inbound-cpu-stored"({ browser, server }) {
    const runs = await sideBySide((kind) => inPage(browser, server.url, "cpu",
      { kind, n: STORED_FRAMES, warmup: WARMUP_FRAMES, storage: "indexeddb" }));
    const ratios = runs.map((r) => r.raw.ms / r.sdk.ms);
    const us = (kind) => fmt(median(runs.map((r) => r[kind].perFrameUs)));
    report(`inbound with the default storage, until written to the cache (${STORED_FRAMES / 1000}k frames)`, ratios,
      `throughput SDK ÷ JS; median µs/frame SDK ${us("sdk")}, JS ${us("raw")}`);
  },

  async "inbound-socket"({ browser, server }) {
    const runs = await sideBySide((kind, run) => inPage(browser, server.url, "socket", { kind, n: SOCKET_FRAMES, warmup: WARMUP_FRAMES, run }));
    const ratios = runs.map((r) => r.sdk.framesPerSec / r.raw.framesPerSec);
    const rate = (kind) => Math.round(median(runs.map((r) => r[kind].framesPerSec)));
    report("inbound over loopback socket (20k frames)", ratios,
      `frames/s SDK ÷ JS; median SDK ${rate("sdk")}/s, JS ${rate("raw")}/s`);
  },

  async "inbound-follower"({ browser, server }) {
    const runs = [];
    for (let run = 0; run < RUNS; run++) {
      const result = {};
      for (const side of run % 2 ? ["with", "alone"] : ["alone", "with"]) {
        const args = { kind: "sdk", n: SOCKET_FRAMES, warmup: WARMUP_FRAMES, run: `${side}${run}` };
        result[side] = await leaderWith(browser, server.url, side === "with", args);
      }
      runs.push(result);
    }
    const ratios = runs.map((r) => r.with.framesPerSec / r.alone.framesPerSec);
    const rate = (side) => Math.round(median(runs.map((r) => r[side].framesPerSec)));
    report("inbound with a follower tab (20k frames)", ratios,
      `frames/s SDK leader relaying to a follower ÷ alone; median ${rate("with")}/s vs ${rate("alone")}/s`);
  },

  async "send-ack"({ browser, server, emulator }) {
    await sendAck({ browser, server, emulator }, "memory");
  },

  async "send-ack-stored"({ browser, server, emulator }) {
    await sendAck({ browser, server, emulator }, "indexeddb");
  },

  async "cold-start"({ browser, server, emulator }) {
    const { sides, load } = await coldSides({ browser, server, emulator });
    await load("sdk"); // the first load of each side fills the HTTP cache: not counted
    await load("raw");
    const runs = await sideBySide(async (kind) => {
      const samples = [];
      for (let i = 0; i < COLD_LOADS; i++) samples.push(await load(kind));
      return median(samples);
    });
    for (const { context } of Object.values(sides)) await context.close();
    const ms = (kind) => fmt(median(runs.map((r) => r[kind])), 1);
    report(`cold start to ready (median of ${COLD_LOADS} loads)`, runs.map((r) => r.sdk / r.raw),
      `time SDK ÷ JS; median SDK ${ms("sdk")} ms, JS ${ms("raw")} ms`);
  },

  async "cold-phases"({ browser, server, emulator }) {
    const { sides, load } = await coldSides({ browser, server, emulator, trace: true });
    for (const kind of ["sdk", "raw"]) {
      await load(kind); // fills the HTTP cache: not counted
      const loads = [];
      for (let i = 0; i < COLD_LOADS; i++) loads.push(await load(kind));
      console.log(`cold start phases, ${kind === "sdk" ? "SDK" : "plain JS"} (median ms of ${COLD_LOADS} loads: step since the previous mark, then time since navigation)`);
      for (const { label, step, at } of phases(loads)) {
        console.log(`  ${label.padEnd(32)} +${fmt(step, 1).padStart(6)}  ${fmt(at, 1).padStart(7)}`);
      }
    }
    for (const { context } of Object.values(sides)) await context.close();
  },

  async "cold-compile"({ browser, server, emulator }) {
    const { sides, load } = await coldSides({ browser, server, emulator, kinds: ["sdk"] });
    await load("sdk"); // fills the HTTP cache: not counted
    const loads = [];
    const sizes = functionSizes(readFileSync(join(PACKAGE, "clawchat_wasm_bg.wasm")));
    for (let i = 0; i < COLD_LOADS; i++) loads.push(await lazyCompiles({ ...sides.sdk, sizes }));
    await sides.sdk.context.close();
    const functions = median(loads.map((l) => l.functions));
    const kb = fmt(median(loads.map((l) => l.bytes)) / 1024, 1);
    const ms = fmt(median(loads.map((l) => l.ms)), 1);
    console.log(`${"wasm functions compiled lazily before ready".padEnd(48)} ${functions} functions, ${kb} KB of code, ${ms} ms compiling (SDK; V8 trace, median of ${COLD_LOADS} loads)`);
  },

  async "code-cache"({ server, emulator }) {
    // A profile on disk, as a user's browser has (browser.newContext() is in memory):
    // does V8 write its wasm code cache, and does a reload then start faster?
    const dir = mkdtempSync(join(tmpdir(), "clawchat-bench-profile-"));
    const context = await launchWithProfile(dir);
    try {
      const session = await emulator.signIn("bench-code-cache");
      const setup = await benchPage(context, server.url, "code-cache");
      await setup.evaluate((a) => window.bench.storeSession(a), { kind: "sdk", base: emulator.base, wsUrl: emulator.ws, session });
      await setup.close();
      const side = { context, url: `${server.url}/cold-sdk.html?base=${encodeURIComponent(emulator.base)}&account=${session.userId}` };
      const wasmCache = () => {
        const cache = join(dir, "Default", "Code Cache", "wasm");
        try {
          return readdirSync(cache).filter((f) => !f.startsWith("index")).reduce((sum, f) => sum + statSync(join(cache, f)).size, 0);
        } catch {
          return 0;
        }
      };
      const loads = async (label) => {
        const runs = [];
        for (let i = 0; i < COLD_LOADS; i++) runs.push(await lazyCompiles(side));
        const functions = median(runs.map((r) => r.functions));
        const ready = fmt(median(runs.map((r) => r.readyAt)), 1);
        console.log(`  ${label.padEnd(52)} wasm code cache ${String(wasmCache()).padStart(9)} B; ${functions} functions compiled lazily, ready at ${ready} ms`);
      };
      console.log(`wasm code cache with a profile on disk (median of ${COLD_LOADS} loads after each step)`);
      await loads("loads closed at ready (as cold-start does)");
      const open = await context.newPage();
      await open.goto(side.url);
      await open.waitForTimeout(BUSY_IDLE_MS);
      await open.close();
      await loads(`after one load left open ${BUSY_IDLE_MS / 1000} s`);
      // A busy session in the same profile (same .wasm URL): inbound frames through the
      // SDK until its hot functions tier up, then idle for V8's caching timeout.
      const busy = await benchPage(context, server.url, "code-cache");
      await busy.evaluate((n) => window.bench.cpu({ kind: "sdk", n, warmup: 0 }), BUSY_FRAMES);
      await busy.waitForTimeout(BUSY_IDLE_MS);
      await busy.close();
      await loads(`after ${BUSY_FRAMES / 1000}k inbound frames and ${BUSY_IDLE_MS / 1000} s idle`);
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },

  async history({ browser, server }) {
    const runs = [];
    for (let run = 0; run < RUNS; run++) runs.push(await inPage(browser, server.url, "history", { n: HISTORY_FRAMES }));
    const medians = runs.map((times) => median(times));
    const worst = runs.map((times) => Math.max(...times));
    console.log(`${"history() page of 50 from the cache (IndexedDB)".padEnd(48)} median ms of each run ${medians.map((t) => fmt(t, 1)).join(" / ")}, slowest chat ${worst.map((t) => fmt(t, 1)).join(" / ")}   (SDK only; ${HISTORY_FRAMES / 1000}k frames in 24 chats cached first)`);
  },

  async memory({ browser, server }) {
    const curve = await inPage(browser, server.url, "memory", { n: MEMORY_FRAMES, step: MEMORY_STEP });
    const points = curve.map((p) => `${p.frames / 1000}k ${fmt(p.bytes / 1048576, 2)} MiB`).join(" · ");
    const flat = curve.at(-1).bytes === curve[1].bytes ? "flat after the first 100k" : "growing";
    console.log(`${"wasm memory over 300k inbound frames".padEnd(48)} ${points}   (${flat})`);
  },
};

/**
 * Closed-loop sends against the emulator, the SDK keeping its outbox and cache in
 * `storage` ("memory", or "indexeddb": the default, a row stored before each send goes
 * out); the baseline stores nothing.
 */
async function sendAck({ browser, server, emulator }, storage) {
  const peer = await emulator.signIn("bench-peer");
  const sides = {};
  for (const kind of ["sdk", "raw"]) {
    const session = await emulator.signIn(`bench-${kind}`);
    sides[kind] = { session, chatId: await emulator.directChat(session, peer) };
  }
  const runs = await sideBySide(async (kind) => {
    const { latencies, own } = await inPage(browser, server.url, "sendAck", {
      kind, base: emulator.base, wsUrl: emulator.ws, ...sides[kind], n: SENDS, warmup: WARMUP_SENDS, storage,
    });
    latencies.sort((a, b) => a - b);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), own: median(own) };
  });
  for (const p of ["p50", "p99"]) {
    const ms = (kind) => fmt(median(runs.map((r) => r[kind][p])), 3);
    report(`send → ack ${p} (${SENDS} sends, SDK storage ${storage})`, runs.map((r) => r.sdk[p] / r.raw[p]),
      `latency SDK ÷ JS; median SDK ${ms("sdk")} ms, JS ${ms("raw")} ms`);
  }
  // The client's own work a round trip, without the server's and the network's share:
  // what the p50 ratio is made of, and steadier than it when the machine is loaded.
  const us = (kind) => runs.map((r) => fmt(r[kind].own * 1000, 0)).join(" / ");
  console.log(`  the client's own part of a round trip (median µs of each run): SDK ${us("sdk")}, JS ${us("raw")}`);
}

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
  const unknown = names.filter((n) => !ALL.includes(n));
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(", ")}; known: ${ALL.join(", ")}`);
  const server = await startServer({ root: ROOT, pkg: PACKAGE, port: SERVER_PORT });
  const emulator = names.some((n) => ["send-ack", "send-ack-stored", "cold-start", "cold-phases", "cold-compile", "code-cache"].includes(n)) ? new ReleaseEmulator(EMULATOR_PORT) : null;
  let browser = null;
  try {
    await emulator?.start();
    browser = await launch();
    console.log(`Chromium ${browser.version()}, ${RUNS} runs per comparison, ratios of side-by-side runs (noisy shared machine: compare ratios, not absolute figures)`);
    for (const name of names) await benches[name]({ browser, server, emulator });
  } finally {
    await browser?.close();
    await emulator?.stop();
    await server.close();
  }
}

await main();
