// The page through an emulator crash and through token expiry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodies, openChatNamed, person, shot, startChat, suite, type } from "./harness.mjs";

const env = suite({ port: 18807, ttlSecs: 45 });
const emulator = env.emulator;

const count = (list, text) => list.filter((b) => b === text).length;

test("an emulator crash shows reconnecting, then delivers the message sent meanwhile exactly once", async () => {
  const ann = await person(env.browser, emulator, "ann");
  const bob = await person(env.browser, emulator, "bob");
  await startChat(ann, ["bob"]);
  await type(ann, "before the crash");
  await bob.waitForSelector("#chats li");
  await openChatNamed(bob, "ann");
  await bob.waitForFunction(() => document.querySelector("#messages").textContent.includes("before the crash"));

  await emulator.stop();
  await ann.waitForSelector('#badge[data-state="reconnecting"]');
  assert.match(await ann.textContent("#badge"), /reconnecting in \d+ s/);
  await type(ann, "sent while the server was down");
  await ann.waitForSelector('.msg.mine .status[data-status="sending"]');
  await shot(ann, "reconnecting");
  // The badge counts down to the next attempt: wait for a wait of 2 s or more, then see it drop.
  const seconds = async () => Number((await ann.textContent("#badge")).match(/in (\d+) s/)?.[1] ?? 0);
  await ann.waitForFunction(() => Number(document.querySelector("#badge").textContent.match(/in (\d+) s/)?.[1] ?? 0) >= 2, null, { timeout: 45_000 });
  const from = await seconds();
  await ann.waitForFunction((n) => { const m = document.querySelector("#badge").textContent.match(/in (\d+) s/); return m && Number(m[1]) === n - 1; }, from, { timeout: 5_000 });

  // "Retry now" skips the rest of a long wait once the server is back: wait for a wait of
  // 8 s or more, restart the server, click, and be connected well before the wait is over.
  await ann.waitForFunction(() => Number(document.querySelector("#badge").textContent.match(/in (\d+) s/)?.[1] ?? 0) >= 8, null, { timeout: 60_000 });
  await emulator.start();
  const left = await seconds();
  assert.ok(left >= 3, `the scheduled attempt is still ${left} s away`);
  assert.ok(await ann.isVisible("#retry-now"), "the Retry now button shows while reconnecting");
  await ann.click("#retry-now");
  await ann.waitForSelector('#badge[data-state="ready"]', { timeout: (left - 2) * 1000 });
  assert.ok(!(await ann.isVisible("#retry-now")), "the button goes once connected");
  await ann.waitForFunction(() => [...document.querySelectorAll('.msg.mine .status')].every((s) => s.dataset.status === "sent"), null, { timeout: 20_000 });
  await bob.waitForFunction(() => document.querySelector("#messages").textContent.includes("sent while the server was down"), null, { timeout: 45_000 });
  await bob.waitForTimeout(1500);
  assert.equal(count(await bodies(bob), "sent while the server was down"), 1);
  assert.equal(count(await bodies(bob), "before the crash"), 1);
  await shot(bob, "after-restart");
});

test("token expiry passes during the conversation without the user noticing", async () => {
  const cy = await person(env.browser, emulator, "cy");
  const dee = await person(env.browser, emulator, "dee");
  await startChat(cy, ["dee"]);
  await dee.waitForSelector("#chats li").catch(() => {});
  const started = Date.now();
  let round = 0;
  while (Date.now() - started < (emulator.ttlSecs + 15) * 1000) {
    await type(cy, `still here ${round}`);
    round += 1;
    await cy.waitForTimeout(6000);
  }
  await openChatNamed(dee, "cy");
  await dee.waitForFunction((n) => document.querySelectorAll("#messages .msg").length === n, round, { timeout: 20_000 });
  await cy.waitForFunction(() => [...document.querySelectorAll('.msg.mine .status')].every((s) => s.dataset.status === "sent"));
  const token = await cy.textContent("#token");
  const refreshes = Number(token.match(/refreshes (\d+)/)[1]);
  assert.ok(refreshes >= 2, `the token was refreshed in the background: ${token}`);
  assert.equal(await cy.getAttribute("#badge", "data-state"), "ready");
  assert.ok(!(await cy.isVisible("#signin")), "never sent back to sign-in");
  assert.ok((await emulator.stats()).refresh_calls >= 2);
  await shot(cy, "after-token-expiry");
});
