// Shared helpers for the page tests: an emulator child process with a file database
// (so it can be killed and restarted without losing anything), Debian's Chromium via
// playwright-core, and page actions.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

export const ROOT = new URL("..", import.meta.url).pathname;
export const RESULTS = join(ROOT, "e2e", "test-results");
mkdirSync(RESULTS, { recursive: true });

const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A local emulator on `port`; `restart()` stops and starts it on the same database. */
export class Emulator {
  constructor({ port, ttlSecs = 45 }) {
    this.port = port;
    this.ttlSecs = ttlSecs;
    this.dir = mkdtempSync(join(tmpdir(), "clawchat-e2e-"));
    this.base = `http://127.0.0.1:${port}`;
    this.admin = `http://127.0.0.1:${port + 1}`;
  }

  async start() {
    this.child = spawn(join(ROOT, "target/debug/clawchat-emulator"), [
      "--listen", `127.0.0.1:${this.port}`, "--admin-listen", `127.0.0.1:${this.port + 1}`,
      "--db", join(this.dir, "db.sqlite3"), "--token-ttl-secs", String(this.ttlSecs),
      "--www-dir", join(ROOT, "www"), "--pkg-dir", join(ROOT, "pkg"), "--ping-interval-ms", "2000",
    ], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`${this.admin}/admin/stats`)).ok) return;
      } catch { /* not up yet */ }
      await sleep(50);
    }
    throw new Error("emulator did not start");
  }

  async stop() {
    if (!this.child) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
    this.child = null;
  }

  async stats() {
    return (await fetch(`${this.admin}/admin/stats`)).json();
  }
}

/** Added to every page test's ports, so two checkouts can run their page tests at once. */
const PORT_OFFSET = Number(process.env.CLAWCHAT_E2E_PORT_OFFSET ?? 0);

/** Registers hooks that start an emulator and a browser for the test file, and stop them.
 * With `graceSecs` the browser is a [`launchHideable`] one. */
export function suite({ port, ttlSecs, graceSecs }) {
  const env = { emulator: new Emulator({ port: port + PORT_OFFSET, ttlSecs }), browser: null };
  let hideable = null;
  before(async () => {
    await env.emulator.start();
    if (graceSecs === undefined) {
      env.browser = await launch();
    } else {
      hideable = await launchHideable({ graceSecs });
      env.browser = hideable.browser;
    }
  });
  after(async () => {
    try {
      await (hideable ? hideable.close() : env.browser?.close());
    } finally {
      await env.emulator.stop();
    }
  });
  return env;
}

export function launch() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** A Chromium with a profile on disk in `dir` (HTTP cache and V8's code caches on disk,
 * as a user's browser has them); resolves to its one browser context. */
export function launchWithProfile(dir) {
  return chromium.launchPersistentContext(dir, { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/**
 * A Chromium whose pages can really be hidden: started by us and driven over CDP without
 * Playwright's defaults (its focus emulation keeps every page visible, and its launch
 * switches turn background throttling off), with Chrome's intensive wake-up throttling
 * (timers of a hidden page run once a minute) after `graceSecs` hidden instead of 5 min.
 * Pages of `browser.contexts()[0]` can be hidden with `setHidden`.
 */
export async function launchHideable({ graceSecs }) {
  const dir = mkdtempSync(join(tmpdir(), "clawchat-e2e-chromium-"));
  const child = spawn("/usr/bin/chromium", [
    ...CHROMIUM_ARGS, `--user-data-dir=${dir}`, "--remote-debugging-port=0",
    `--enable-features=IntensiveWakeUpThrottling:grace_period_seconds/${graceSecs}`, "about:blank",
  ], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let port;
  for (let i = 0; i < 200 && !port; i++) {
    try {
      port = readFileSync(join(dir, "DevToolsActivePort"), "utf8").split("\n")[0];
    } catch { await sleep(50); }
  }
  if (!port) throw new Error("chromium did not start");
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`, { noDefaults: true });
  return {
    browser,
    async close() {
      const cdp = await browser.newBrowserCDPSession().catch(() => null);
      await cdp?.send("Browser.close").catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true, maxRetries: 10 });
    },
  };
}

/** A page of `browser`'s default context in a window of its own (a
 * [`launchHideable`] browser opens pages as tabs of one window otherwise). */
export async function newWindow(browser) {
  const context = browser.contexts()[0];
  const cdp = await browser.newBrowserCDPSession();
  const [page] = await Promise.all([
    context.waitForEvent("page"),
    cdp.send("Target.createTarget", { url: "about:blank", newWindow: true }),
  ]);
  await cdp.detach();
  return page;
}

/** Minimizes (hidden) or restores (visible) the window of `page`, a page of a
 * [`launchHideable`] browser's default context. */
export async function setHidden(page, hidden) {
  const cdp = await page.context().newCDPSession(page);
  const { windowId } = await cdp.send("Browser.getWindowForTarget");
  await cdp.send("Browser.setWindowBounds", { windowId, bounds: { windowState: hidden ? "minimized" : "normal" } });
  await cdp.detach();
}

/** A new browser context (its own storage: a separate person) signed in as `name`. */
export async function person(browser, emulator, name, viewport = { width: 1100, height: 700 }) {
  const context = await browser.newContext({ viewport });
  return signIn(await context.newPage(), emulator, name);
}

/** Signs `page` in as `name` through the demo's form. */
export async function signIn(page, emulator, name) {
  page.on("pageerror", (err) => console.error(`[${name}] page error:`, err.message));
  await page.goto(emulator.base);
  await page.fill("#nickname", name);
  await page.click("#signin-form button");
  await page.waitForSelector("#app:not([hidden])");
  await page.waitForSelector('#badge[data-state="ready"]');
  return page;
}

/** Starts a chat with the people named, from `page`. */
export async function startChat(page, names) {
  await page.click("#new-chat summary");
  for (const name of names) {
    await page.locator("#people label", { hasText: name }).locator("input").check();
  }
  await page.click("#create-chat");
  await page.waitForFunction(() => !document.querySelector("#text").disabled);
}

/** Another tab of `context` (the same person), resuming the stored session. */
export async function openTab(context, emulator) {
  return resume(await context.newPage(), emulator);
}

/** Loads the demo in `page`, resuming the stored session. */
export async function resume(page, emulator) {
  page.on("pageerror", (err) => console.error("[tab] page error:", err.message));
  await page.goto(emulator.base);
  await page.waitForSelector("#app:not([hidden])");
  await page.waitForSelector('#badge[data-state="ready"]');
  return page;
}

/** Polls `check` until it is true; fails naming `what` after `timeoutMs`. */
export async function eventually(what, check, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Every row of the SDK's IndexedDB store `store` (outbox or message cache; a page of the
 * cache as one row a message), each with `text`: the plain text of its frame. */
export const storedMessages = (page, store) => page.evaluate((store) => new Promise((ok, fail) => {
  const open = indexedDB.open("clawchat");
  open.onerror = () => fail(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains(store)) { db.close(); ok([]); return; }
    const all = db.transaction(store).objectStore(store).getAll();
    all.onerror = () => { db.close(); fail(all.error); };
    all.onsuccess = () => {
      db.close();
      // The message cache keeps a chat's messages in pages: rows of many (`ids`, `frames`).
      const rows = all.result.flatMap((row) => Array.isArray(row.messageId)
        ? row.ids.map((messageId, i) => ({ accountKey: row.accountKey, chatId: row.chatId, messageId, frame: row.frames[i] }))
        : [row]);
      ok(rows.map((row) => ({
        ...row,
        text: JSON.parse(row.frame).payload.message.body.fragments.map((f) => f.text).join(""),
      })));
    };
  };
}), store);

/** The SDK's stored outbox rows ({messageId, text}), read from the page's IndexedDB. */
export const outboxRows = async (page) =>
  (await storedMessages(page, "outbox")).map(({ messageId, text }) => ({ messageId, text }));

/** How many times the server stored `messageId` in `chatId`, asked through the history
 * route as `member` (a fresh device of that person). */
export async function storedCount(emulator, member, chatId, messageId) {
  const post = await fetch(`${emulator.base}/v1/dev/sign-in`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ nickname: member, device_id: `web-e2e-check-${member}` }),
  });
  const token = (await post.json()).data.access_token;
  const answer = await fetch(`${emulator.base}/v1/chats/${encodeURIComponent(chatId)}/messages?limit=200`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await answer.json();
  if (body.code !== 0) throw new Error(`history: ${JSON.stringify(body)}`);
  return body.data.items.filter((item) => item.payload?.message_id === messageId).length;
}

export async function openChatNamed(page, text) {
  await page.locator("#chats li", { hasText: text }).first().click();
}

export async function type(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

export const bodies = (page) => page.locator("#messages .msg .body").allTextContents();

/** A small PNG drawn by the page's canvas. */
export async function picture(page) {
  const dataUrl = await page.evaluate(() => {
    const canvas = Object.assign(document.createElement("canvas"), { width: 96, height: 64 });
    const g = canvas.getContext("2d");
    g.fillStyle = "#3558d6";
    g.fillRect(0, 0, 96, 64);
    g.fillStyle = "#fff";
    g.font = "bold 20px sans-serif";
    g.fillText("wasm", 20, 40);
    return canvas.toDataURL("image/png");
  });
  return Buffer.from(dataUrl.split(",")[1], "base64");
}

export const shot = (page, name) => page.screenshot({ path: join(RESULTS, `${name}.png`) });
