// The durable outbox through the demo page: a message typed while the emulator is down
// survives a reload of the page and is delivered exactly once when the server is back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodies, eventually, openChatNamed, outboxRows, person, shot, startChat, suite, type } from "./harness.mjs";

const env = suite({ port: 18847, ttlSecs: 45 });
const emulator = env.emulator;

/** The texts of the SDK's stored outbox rows. */
const storedTexts = async (page) => (await outboxRows(page)).map((row) => row.text);

test("a message sent while the emulator is down survives a reload and is delivered once", async () => {
  const ann = await person(env.browser, emulator, "ann");
  const bob = await person(env.browser, emulator, "bob");
  await startChat(ann, ["bob"]);
  await type(ann, "before the outage");
  await bob.waitForSelector("#chats li");
  await openChatNamed(bob, "ann");
  await bob.waitForFunction(() => document.querySelector("#messages").textContent.includes("before the outage"));

  await emulator.stop();
  await ann.waitForSelector('#badge[data-state="reconnecting"]');
  await type(ann, "typed offline, then reloaded");
  await ann.waitForSelector('.msg.mine .status[data-status="sending"]');
  await eventually("the send is stored", async () => (await storedTexts(ann)).includes("typed offline, then reloaded"));

  // The reload happens while the server is still down (the page cannot even load).
  await ann.reload().catch(() => {});
  await emulator.start();
  const back = Date.now();
  // The failed reload's error page may still be committing: retry until the page loads.
  for (let attempt = 1; ; attempt++) {
    try {
      await ann.goto(emulator.base);
      break;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await ann.waitForSelector('#badge[data-state="ready"]', { timeout: 45_000 });
  await bob.waitForFunction(() => document.querySelector("#messages").textContent.includes("typed offline, then reloaded"), null, { timeout: 45_000 });
  console.log(`outbox page test: server back to delivered after reload ${Date.now() - back} ms`);
  // The reloaded page listed the queued send and shows its outcome.
  await openChatNamed(ann, "bob");
  await ann.locator(".msg.mine", { hasText: "typed offline, then reloaded" })
    .locator('.status[data-status="sent"]').waitFor({ timeout: 20_000 });
  await eventually("the row is removed", async () => (await storedTexts(ann)).length === 0);
  await bob.waitForTimeout(1500);
  const count = (list, text) => list.filter((b) => b === text).length;
  assert.equal(count(await bodies(bob), "typed offline, then reloaded"), 1);
  assert.equal(count(await bodies(bob), "before the outage"), 1);
  await shot(bob, "outbox-after-reload");
});
