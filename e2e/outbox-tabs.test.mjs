// The durable outbox across tabs: a message typed while the emulator is down, in a tab
// that is then closed, is delivered exactly once by the account's remaining tab when the
// server is back, and that tab hears it confirmed. Whether the closed tab was a follower
// (its send was relayed to the leader) or the leader (the follower takes over and
// restores the outbox from IndexedDB).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bodies, eventually, openChatNamed, openTab, outboxRows, person, shot, startChat, storedCount, suite, type,
} from "./harness.mjs";

const env = suite({ port: 18867, ttlSecs: 45 });
const emulator = env.emulator;

const roleOf = (page) => page.getAttribute("#role", "data-role");

/** The debug panel's outbox line of `page`: queued sends and ids confirmed in this tab. */
async function outboxLine(page) {
  const [queued, sent] = await Promise.all([
    page.getAttribute("#outbox", "data-queued"),
    page.getAttribute("#outbox", "data-sent"),
  ]);
  return { queued: Number(queued), sent: sent ? sent.split(" ") : [] };
}

for (const closing of ["follower", "leader"]) {
  test(`a send from a closed ${closing} tab, made while the server is down, is delivered once by the other tab`, async () => {
    const [me, peer] = closing === "follower" ? ["fay", "fred"] : ["lea", "leo"];
    const friend = await person(env.browser, emulator, peer);
    const first = await person(env.browser, emulator, me);
    await startChat(first, [peer]);
    await type(first, "hello from the first tab");
    const second = await openTab(first.context(), emulator);
    const tabs = [first, second];
    for (const tab of tabs) {
      await tab.waitForSelector("#chats li");
      await openChatNamed(tab, peer);
      await tab.click("#debug summary");
    }
    await eventually("one leader and one follower", async () =>
      (await Promise.all(tabs.map(roleOf))).sort().join() === "follower,leader");
    const roles = await Promise.all(tabs.map(roleOf));
    const sender = tabs[roles.indexOf(closing)];
    const remaining = tabs[1 - roles.indexOf(closing)];
    await friend.waitForSelector("#chats li");
    await openChatNamed(friend, me);
    const chatId = await remaining.getAttribute("#chats li[aria-selected=true]", "data-chat-id");

    await emulator.stop();
    await Promise.all(tabs.map((t) => t.waitForSelector('#badge[data-state="reconnecting"]')));
    const text = `typed offline in the ${closing}, which then closed`;
    await type(sender, text);
    await sender.waitForSelector('.msg.mine .status[data-status="sending"]');
    let row;
    await eventually("the send is stored", async () => {
      row = (await outboxRows(remaining)).find((r) => r.text === text);
      return row !== undefined;
    });
    await sender.close();
    if (closing === "leader") {
      await remaining.waitForSelector('#role[data-role="leader"]');
    }
    await eventually("the remaining tab lists the queued send", async () => (await outboxLine(remaining)).queued === 1);

    await emulator.start();
    const back = Date.now();
    await eventually("the remaining tab hears the send confirmed", async () =>
      (await outboxLine(remaining)).sent.includes(row.messageId), 45_000);
    console.log(`outbox across tabs (${closing} closed): server back to confirmed in the other tab ${Date.now() - back} ms`);
    await eventually("the outbox is empty", async () =>
      (await outboxLine(remaining)).queued === 0 && (await outboxRows(remaining)).length === 0);
    await friend.waitForFunction((t) => document.querySelector("#messages").textContent.includes(t), text, { timeout: 45_000 });
    await friend.waitForTimeout(1500);
    assert.equal((await bodies(friend)).filter((b) => b === text).length, 1, "the friend sees it once");
    assert.equal(await storedCount(emulator, peer, chatId, row.messageId), 1, "the server stored it once");
    // The counters started again with the emulator: every send since is this one's.
    const accepted = (await emulator.stats()).sends_accepted;
    console.log(`outbox across tabs (${closing} closed): sends of it accepted by the restarted server: ${accepted}`);
    assert.ok(accepted >= 1);
    await shot(remaining, `outbox-tabs-${closing}-closed`);
    await remaining.context().close();
    await friend.context().close();
  });
}
