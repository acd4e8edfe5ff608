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

test("media links with unsafe schemes from a hostile server are not rendered; a bare mention shows its user", async () => {
  const fay = await person(env.browser, emulator, "fay");
  const gus = await person(env.browser, emulator, "gus");
  await startChat(fay, ["gus"]);
  // Who fay is and which chat she is in, as a hostile server would know them.
  const signIn = async (nickname) => (await (await fetch(`${emulator.base}/v1/dev/sign-in`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ nickname }),
  })).json()).data;
  const [fayIs, gusIs] = [await signIn("fay"), await signIn("gus")];
  const chats = await (await fetch(`${emulator.base}/v1/chats`, {
    headers: { authorization: `Bearer ${fayIs.access_token}`, "x-device-id": fayIs.device_id },
  })).json();
  const chatId = chats.data[0].id;
  const fragments = [
    { kind: "text", text: "look: " },
    { kind: "file", url: "javascript:window.__xss=1", name: "report.pdf" },
    { kind: "image", url: "data:image/svg+xml,<svg onload='window.__xss=2'>" },
    { kind: "image", url: "/media/fine.png" },
    // The wire's `user_id`: the page reads the client's camelCase `userId`.
    { kind: "mention", user_id: fayIs.user_id },
  ];
  const frame = JSON.stringify({
    version: "2", event: "message.send", trace_id: "t-evil", emitted_at: Date.now(), chat_id: chatId,
    chat_type: "direct", sender: { id: gusIs.user_id, type: "direct", nick_name: "gus" },
    payload: { message_id: "msg-evil-1", message: { body: { fragments } } },
  });
  const injected = await fetch(`${emulator.admin}/admin/inject`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: fayIs.user_id, frame }),
  });
  assert.equal(injected.status, 200);
  await fay.waitForFunction(() => document.querySelector("#messages")?.textContent.includes("look:"));
  const message = fay.locator(".msg", { hasText: "look:" });
  assert.equal(await message.locator(".blocked").count(), 2, "both unsafe links are replaced");
  assert.equal(await message.locator("a[href^='javascript']").count(), 0);
  assert.equal(await message.locator("img").getAttribute("src"), "/media/fine.png");
  assert.equal(await fay.evaluate(() => window.__xss), undefined, "nothing ran");
  assert.equal(await message.locator(".mention").textContent(), `@${fayIs.user_id}`);
});
