// The page's layout on a phone (390×844), a laptop (1280×800) and a small window
// (1100×700): no horizontal overflow, the composer entirely in view; sign-out reads as a
// note, not an error; a failed sign-in is explained with the detail behind "Details".
import { test } from "node:test";
import assert from "node:assert/strict";
import { person, shot, startChat, suite, type } from "./harness.mjs";

const env = suite({ port: 18827, ttlSecs: 45 });
const emulator = env.emulator;

const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
  { width: 1100, height: 700 },
];

/** What overflows: the page's width against the viewport, and the composer's box. */
const measure = (page) => page.evaluate(() => {
  const box = (id) => document.getElementById(id).getBoundingClientRect();
  const composer = box("composer");
  const send = box("send");
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    composer: { top: composer.top, bottom: composer.bottom, left: composer.left, right: composer.right },
    send: { right: send.right, bottom: send.bottom },
  };
});

for (const viewport of VIEWPORTS) {
  test(`at ${viewport.width}×${viewport.height} nothing overflows and the composer is in view`, async () => {
    const name = `lee${viewport.width}`;
    await person(env.browser, emulator, `kim${viewport.width}`, viewport).then((p) => p.context().close());
    const page = await person(env.browser, emulator, name, viewport);
    await startChat(page, [`kim${viewport.width}`]);
    const long = "a-very-long-word-without-any-break-".repeat(6);
    for (const text of ["Hello!", long, "A third line to fill the conversation a little."]) {
      await type(page, text);
    }
    await page.waitForFunction(() => document.querySelectorAll('.msg.mine .status[data-status="sent"]').length === 3);
    const m = await measure(page);
    await shot(page, `layout-${viewport.width}x${viewport.height}`);
    assert.ok(m.scrollWidth <= m.innerWidth, `page is ${m.scrollWidth} px wide in ${m.innerWidth}`);
    assert.ok(m.composer.top >= 0 && m.composer.bottom <= m.innerHeight, `composer ${JSON.stringify(m.composer)} in ${m.innerHeight}`);
    assert.ok(m.composer.left >= 0 && m.composer.right <= m.innerWidth, `composer ${JSON.stringify(m.composer)}`);
    assert.ok(m.send.right <= m.innerWidth && m.send.bottom <= m.innerHeight, "send button cut off");
    // The tab's role is only in the connection details, closed by default.
    assert.equal(await page.isVisible("#role"), false);
    await page.click("#debug summary");
    assert.match(await page.textContent("#role"), /this tab: (leader|solo)/);
    await page.context().close();
  });
}

test("signing out is a note, not an error", async () => {
  const page = await person(env.browser, emulator, "sam", { width: 390, height: 844 });
  await page.click("#logout");
  await page.waitForSelector("#signin:not([hidden])");
  assert.equal(await page.textContent("#signin-note"), "You have signed out.");
  assert.equal(await page.isVisible("#signin-error"), false);
  await shot(page, "signed-out-390");
  await page.context().close();
});

test("a failed sign-in says what to do, with the detail on demand", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(emulator.base);
  await page.route("**/v1/dev/sign-in", (route) => route.abort("connectionrefused"));
  await page.fill("#nickname", "pat");
  await page.click("#signin-form button");
  await page.waitForSelector("#signin-error:not(:empty)");
  const summary = await page.locator("#signin-error > span").textContent();
  assert.equal(summary, "The server cannot be reached. Check your connection and try again.");
  assert.equal(await page.isVisible("#signin-error code"), false, "detail hidden until asked");
  await page.click("#signin-error summary");
  assert.match(await page.textContent("#signin-error code"), /transport error on \/v1\/dev\/sign-in/);
  await shot(page, "signin-error-390");
  await context.close();
});

test("a sign-in clicked while the SDK's module still loads waits for it", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  // A cold page on a slow link: the wasm arrives well after the form is usable.
  await page.route("**/*.wasm", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue();
  });
  await page.goto(emulator.base);
  await page.fill("#nickname", "early");
  await page.click("#signin-form button");
  await page.waitForSelector('#badge[data-state="ready"]');
  assert.equal(await page.isVisible("#signin-error"), false);
  await context.close();
});
