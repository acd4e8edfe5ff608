// Two and three people chatting through the demo page in real Chromium contexts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodies, openChatNamed, person, picture, shot, startChat, suite, type } from "./harness.mjs";

const env = suite({ port: 18797, ttlSecs: 45 });
const emulator = env.emulator;

test("a direct chat: both ways, typing, a reply with preview, an image, inert HTML", async () => {
  const ann = await person(env.browser, emulator, "ann");
  const bob = await person(env.browser, emulator, "bob");
  await startChat(ann, ["bob"]);
  await type(ann, "Hi Bob!");
  await ann.waitForSelector('.msg.mine .status[data-status="sent"]');

  await bob.waitForSelector("#chats li");
  await openChatNamed(bob, "ann");
  await bob.waitForFunction(() => document.querySelector("#messages")?.textContent.includes("Hi Bob!"));

  await ann.fill("#text", "I am typ");
  await ann.dispatchEvent("#text", "input");
  await bob.waitForFunction(() => document.querySelector("#typing").textContent.includes("ann is typing"));

  await bob.locator(".msg", { hasText: "Hi Bob!" }).getByRole("button", { name: "Reply" }).click();
  await type(bob, "Hello Ann, replying!");
  await ann.waitForFunction(() => document.querySelector("#messages")?.textContent.includes("Hello Ann, replying!"));
  const quote = await ann.locator(".msg", { hasText: "Hello Ann, replying!" }).locator(".quote").textContent();
  assert.equal(quote, "ann: Hi Bob!");

  const png = await picture(ann);
  await ann.setInputFiles("#file", { name: "dot.png", mimeType: "image/png", buffer: png });
  await bob.waitForSelector("#messages .msg img");
  const src = await bob.locator("#messages .msg img").getAttribute("src");
  assert.match(src, /\/media\//);

  const payload = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
  await ann.evaluate(() => { window.alert = () => { window.__xss = "alert"; }; });
  await bob.evaluate(() => { window.alert = () => { window.__xss = "alert"; }; });
  await type(ann, payload);
  await bob.waitForFunction((p) => document.querySelector("#messages").textContent.includes(p), payload);
  assert.ok((await bodies(bob)).includes(payload), "the characters are shown as text");
  assert.equal(await bob.evaluate(() => window.__xss), undefined, "nothing ran");
  assert.equal(await bob.locator("#messages img[src='x']").count(), 0, "no element was created");
  await shot(ann, "direct-chat-ann");
  await shot(bob, "direct-chat-bob");
});

test("a group chat of three delivers to both others", async () => {
  const [cy, dee, eli] = await Promise.all(["cy", "dee", "eli"].map((n) => person(env.browser, emulator, n)));
  await startChat(cy, ["dee", "eli"]);
  await type(cy, "Hello group");
  for (const page of [dee, eli]) {
    await page.waitForSelector("#chats li");
    await openChatNamed(page, "Group:");
    await page.waitForFunction(() => document.querySelector("#messages")?.textContent.includes("Hello group"));
  }
  await shot(eli, "group-chat");
});
