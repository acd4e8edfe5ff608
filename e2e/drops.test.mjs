// A flaky network through the demo page: the socket is cut right after each (re)send of a
// message, 20 times in a row, before any ack. The client keeps the send (bounded by its
// age, not by how often the socket dropped), sends it again with the same id on every new
// connection, and it is delivered and stored exactly once and shown sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodies, eventually, openChatNamed, outboxRows, person, shot, startChat, storedCount, suite, type } from "./harness.mjs";

const env = suite({ port: 18877, ttlSecs: 45 });
const emulator = env.emulator;
const DROPS = 20;

async function admin(path, body) {
  const answer = await fetch(`${emulator.admin}${path}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  assert.equal(answer.status, 200, path);
}

test(`${DROPS} socket drops in a row, each right after a send: delivered once and shown sent`, async () => {
  const bob = await person(env.browser, emulator, "bob");
  const ann = await person(env.browser, emulator, "ann");
  await startChat(ann, ["bob"]);
  await type(ann, "before the drops");
  await bob.waitForSelector("#chats li");
  await openChatNamed(bob, "ann");
  await bob.waitForFunction(() => document.querySelector("#messages").textContent.includes("before the drops"));
  const chatId = await ann.getAttribute("#chats li[aria-selected=true]", "data-chat-id");
  // An impatient person: "Retry now" is clicked whenever the badge offers it, so the
  // test does not wait out the growing reconnect backoff (up to 15 s per attempt).
  await ann.evaluate(() => setInterval(() => {
    const button = document.getElementById("retry-now");
    if (!button.hidden) button.click();
  }, 100));
  const before = await emulator.stats();

  await admin("/admin/faults/acks", { drop: DROPS });
  const started = Date.now();
  const text = `sent through ${DROPS} drops`;
  await type(ann, text);
  const mine = ann.locator(".msg.mine", { hasText: text });
  await mine.locator('.status[data-status="sent"]').waitFor({ timeout: 90_000 });
  console.log(`drops page test: sent after ${DROPS} drops in ${Date.now() - started} ms`);

  const after = await emulator.stats();
  const accepted = after.sends_accepted - before.sends_accepted;
  const handshakes = after.hello_ok - before.hello_ok;
  console.log(`drops page test: the server accepted the send ${accepted} times over ${handshakes} new connections`);
  // Each drop followed an accepted (re)send, and one more was acked (a resend racing a
  // new connection may add one: the server coalesces it).
  assert.ok(accepted >= DROPS + 1, `every drop came right after a (re)send (${accepted} accepted)`);
  assert.ok(handshakes >= DROPS, `a new connection after each drop (${handshakes})`);
  const messageId = await mine.getAttribute("data-message-id");
  assert.equal(await storedCount(emulator, "bob", chatId, messageId), 1, "the server stored it once");
  await eventually("the outbox is empty", async () => (await outboxRows(ann)).length === 0);
  await bob.waitForFunction((t) => document.querySelector("#messages").textContent.includes(t), text);
  await bob.waitForTimeout(1500);
  assert.equal((await bodies(bob)).filter((b) => b === text).length, 1, "bob sees it once");
  assert.equal((await ann.locator('.msg.mine .status[data-status="failed"]').count()), 0, "nothing failed");
  await shot(ann, "drops-sent");
});
