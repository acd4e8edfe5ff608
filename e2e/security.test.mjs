// The emulator as a dev tool in a real browser: the demo runs under its strict CSP, an
// uploaded HTML file never runs as the demo's origin, and a page on another origin can
// neither call the REST API nor the admin API.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { openChatNamed, person, startChat, suite } from "./harness.mjs";

const env = suite({ port: 18827, ttlSecs: 45 });
const emulator = env.emulator;

/** Console lines a page logs about CSP violations. */
function cspViolations(page) {
  const seen = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) seen.push(message.text());
  });
  return seen;
}

test("the demo works under its CSP and an uploaded HTML file does not run on its origin", async () => {
  const ann = await person(env.browser, emulator, "ann");
  const annViolations = cspViolations(ann);
  const bob = await person(env.browser, emulator, "bob");
  const csp = (await bob.request.get(emulator.base)).headers()["content-security-policy"];
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
  await startChat(ann, ["bob"]);

  const html = "<!doctype html><script>localStorage.setItem('pwned', document.cookie || 'yes');" +
    "indexedDB.databases().then((d) => localStorage.setItem('dbs', JSON.stringify(d)));</script>";
  await ann.setInputFiles("#file", { name: "evil.html", mimeType: "text/html", buffer: Buffer.from(html) });
  await bob.waitForSelector("#chats li");
  await openChatNamed(bob, "ann");
  const link = bob.locator("#messages .msg a", { hasText: "evil.html" });
  await link.waitFor();
  const href = new URL(await link.getAttribute("href"), emulator.base).href;

  const response = await bob.request.get(href);
  assert.match(response.headers()["content-disposition"], /^attachment/);
  assert.equal(response.headers()["content-security-policy"], "sandbox");
  assert.equal(response.headers()["x-content-type-options"], "nosniff");

  // Opened the way a user would: it downloads instead of rendering, and nothing ran.
  const tab = await bob.context().newPage();
  const download = tab.waitForEvent("download", { timeout: 5000 }).catch(() => null);
  await tab.goto(href).catch(() => { /* a download aborts the navigation */ });
  assert.ok(await download, "the HTML upload is a download");
  await tab.close();
  assert.equal(await bob.evaluate(() => localStorage.getItem("pwned")), null, "no script ran on the demo origin");
  assert.equal(await bob.evaluate(() => localStorage.getItem("dbs")), null);
  assert.deepEqual(annViolations, [], "the demo itself breaks no CSP rule");
});

test("a page on another origin cannot call the emulator's REST or admin routes", async () => {
  const server = createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>elsewhere</title>");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => server.close());
  const origin = `http://127.0.0.1:${server.address().port}`;
  const page = await (await env.browser.newContext()).newPage();
  await page.goto(origin);

  const outcome = await page.evaluate(async ({ base, admin }) => {
    const attempt = async (url, init) => {
      try {
        const response = await fetch(url, init);
        return `read ${response.status}`;
      } catch {
        return "blocked";
      }
    };
    const json = { method: "POST", headers: { "content-type": "application/json" }, body: '{"nickname":"mallory"}' };
    return {
      signIn: await attempt(`${base}/v1/dev/sign-in`, json),
      stats: await attempt(`${admin}/admin/stats`),
      dropSockets: await attempt(`${admin}/admin/drop-sockets`, { method: "POST", body: "{}" }),
      // "Simple" requests CORS lets through unread: the server itself must refuse them.
      blindCode: await attempt(`${base}/v1/dev/activation-codes`, { method: "POST", mode: "no-cors", body: '{"nickname":"mallory"}' }),
      blindFault: await attempt(`${admin}/admin/faults/handshake`, { method: "POST", mode: "no-cors", body: '{"count":5}' }),
      socket: await new Promise((resolve) => {
        const ws = new WebSocket(`${base.replace("http", "ws")}/ws`);
        ws.onmessage = () => resolve("opened");
        ws.onerror = () => resolve("blocked");
      }),
    };
  }, { base: emulator.base, admin: emulator.admin });
  assert.deepEqual(outcome, {
    signIn: "blocked", stats: "blocked", dropSockets: "blocked",
    blindCode: "read 0", blindFault: "read 0", socket: "blocked",
  });

  // Nothing the blind requests asked for happened: no user "mallory", no armed fault.
  const probe = await fetch(`${emulator.base}/v1/dev/sign-in`, {
    method: "POST", headers: { "content-type": "application/json" }, body: '{"nickname":"probe"}',
  }).then((r) => r.json());
  const friends = await fetch(`${emulator.base}/v1/friendships`, {
    headers: { authorization: `Bearer ${probe.data.access_token}` },
  }).then((r) => r.json());
  assert.ok(!friends.data.some((u) => u.nickname === "mallory"), "the blind sign-in did nothing");
  const stats = await emulator.stats();
  const before = stats.hello_fail;
  const demo = await person(env.browser, emulator, "carol");
  assert.equal((await emulator.stats()).hello_fail, before, "no handshake fault was armed");
  await demo.close();
});
