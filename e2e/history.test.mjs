// The local message cache through the demo page: a reload shows the open chat's last
// messages from the cache at once, with the server's history route blocked and the
// emulator stopped right after the page's code arrived, so they can only come from the
// cache; live messages then join them, each once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodies, eventually, openChatNamed, person, shot, startChat, storedMessages, suite, type } from "./harness.mjs";

const env = suite({ port: 18857, ttlSecs: 45 });
const emulator = env.emulator;

/** The texts of the SDK's cached messages of `account`, read from the page's IndexedDB. */
const cachedTexts = async (page, account) =>
  (await storedMessages(page, "messages")).filter((row) => row.accountKey === account).map((row) => row.text);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test("a reload shows the last messages from the cache, then live ones without duplicates", async () => {
  const ann = await person(env.browser, emulator, "ann");
  const bob = await person(env.browser, emulator, "bob");
  await startChat(ann, ["bob"]);
  await type(ann, "hello bob");
  await bob.waitForSelector("#chats li");
  await openChatNamed(bob, "ann");
  for (const text of ["hi ann", "how are you?", "still there?"]) await type(bob, text);
  await type(ann, "yes, reloading now");
  const conversation = ["hello bob", "hi ann", "how are you?", "still there?", "yes, reloading now"];
  await ann.waitForFunction((n) => document.querySelectorAll("#messages .msg").length === n, conversation.length);
  await ann.locator('.msg.mine .status[data-status="sent"]').nth(1).waitFor();
  await eventually("all five are cached", async () => (await cachedTexts(ann, "ann")).length === 5);

  // Only the cache may answer: the history route is blocked for the rest of the test.
  await ann.route("**/v1/chats/*/messages*", (route) => route.abort());
  const shownAfterMs = [];
  for (let run = 0; run < 3; run++) {
    const wasm = ann.waitForResponse((r) => r.url().endsWith("clawchat_wasm_bg.wasm"));
    await ann.reload({ waitUntil: "commit" });
    await (await wasm).finished();
    await emulator.stop();
    await ann.waitForFunction(() => performance.getEntriesByName("clawchat-demo:recent-shown").length > 0, null, { timeout: 20_000 });
    shownAfterMs.push(await ann.evaluate(() => performance.getEntriesByName("clawchat-demo:recent-shown")[0].startTime));
    assert.deepEqual(await bodies(ann), conversation, `run ${run}: the conversation, in order`);
    assert.notEqual(await ann.getAttribute("#badge", "data-state"), "ready", "the server is down");
    assert.equal(await ann.locator(".msg.mine").count(), 2, "ours are shown as ours");
    if (run === 0) await shot(ann, "history-after-reload-offline");
    await emulator.start();
    await ann.waitForSelector('#badge[data-state="ready"]', { timeout: 45_000 });
    // Back online, the page catches up: the chat list, the chat's name, no error left.
    await ann.locator("#chats li", { hasText: "bob" }).waitFor();
    await ann.waitForFunction(() => document.querySelector("#chat-title").textContent === "bob"
      && document.querySelector("#send-error").textContent === "");
  }
  console.log(`history page test: page load to cached conversation shown ${shownAfterMs.map(Math.round).join(", ")} ms (median ${Math.round(median(shownAfterMs))} ms)`);

  // Live messages join the cached ones, each message once.
  await type(bob, "welcome back");
  await ann.waitForFunction(() => document.querySelector("#messages").textContent.includes("welcome back"));
  await ann.waitForTimeout(1000);
  assert.deepEqual(await bodies(ann), [...conversation, "welcome back"]);
  await eventually("the live one is cached too", async () => (await cachedTexts(ann, "ann")).includes("welcome back"));
});
