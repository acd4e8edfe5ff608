// Three real tabs of one Chromium profile on one account: one socket, every tab sends and
// receives, and closing the leader tab hands the connection over without losing a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodies, openChatNamed, openTab, person, shot, startChat, suite, type } from "./harness.mjs";

const env = suite({ port: 18817, ttlSecs: 45 });
const emulator = env.emulator;

const roleOf = (page) => page.textContent("#role");

test("three tabs, one socket, a minute of traffic, and a leader hand-over", async () => {
  const first = await person(env.browser, emulator, "tia");
  const context = first.context();
  const tabs = [first, await openTab(context, emulator), await openTab(context, emulator)];
  const roles = await Promise.all(tabs.map(roleOf));
  assert.deepEqual(roles.sort(), ["this tab: follower", "this tab: follower", "this tab: leader"]);

  const bob = await person(env.browser, emulator, "bob");
  await startChat(bob, ["tia"]);
  await type(bob, "hello, every tab");
  for (const tab of tabs) {
    await tab.waitForSelector("#chats li");
    await openChatNamed(tab, "bob");
  }
  const takeoversBefore = (await emulator.stats()).takeovers;

  const started = Date.now();
  let sent = 0;
  while (Date.now() - started < 60_000) {
    await type(tabs[sent % 3], `tab ${sent % 3} says ${sent}`);
    sent += 1;
    if (sent % 3 === 0) await type(bob, `bob says ${sent}`);
    await tabs[0].waitForTimeout(2500);
  }
  await bob.waitForFunction((n) => document.querySelectorAll("#messages .msg:not(.mine)").length === n, sent, { timeout: 20_000 });
  for (const tab of tabs) {
    await tab.waitForFunction((n) => [...document.querySelectorAll("#messages .msg:not(.mine) .body")].filter((b) => b.textContent.startsWith("bob says")).length === n, Math.floor(sent / 3), { timeout: 20_000 });
  }
  const stats = await emulator.stats();
  assert.equal(stats.takeovers, takeoversBefore, "no tab kicked another");
  assert.equal(stats.live_sessions.length, 2, `one socket for tia, one for bob: ${JSON.stringify(stats.live_sessions)}`);
  await shot(tabs[1], "tabs-follower");

  const leaderIndex = (await Promise.all(tabs.map(roleOf))).findIndex((r) => r === "this tab: leader");
  const [leader] = tabs.splice(leaderIndex, 1);
  const closedAt = Date.now();
  await leader.close();
  await type(tabs[0], "sent during the hand-over");
  await Promise.race(tabs.map((t) => t.waitForFunction(() => document.querySelector("#role").textContent === "this tab: leader")));
  await Promise.all(tabs.map((t) => t.waitForSelector('#badge[data-state="ready"]')));
  console.log(`hand-over: a new leader tab connected ${Date.now() - closedAt} ms after the old one closed`);
  await tabs[0].waitForFunction(() => [...document.querySelectorAll('.msg.mine .status')].every((s) => s.dataset.status === "sent"), null, { timeout: 20_000 });
  await bob.waitForFunction(() => document.querySelector("#messages").textContent.includes("sent during the hand-over"));
  await bob.waitForTimeout(1500);
  assert.equal((await bodies(bob)).filter((b) => b === "sent during the hand-over").length, 1);
  assert.equal((await emulator.stats()).live_sessions.length, 2);
  await shot(tabs[0], "tabs-after-hand-over");
});
