// What every runtime example does with the SDK: two people sign in on the local emulator,
// each with a client kept in memory, open a direct chat and exchange one message each
// way. Resolves with what each received; rejects (with the SDK's own error) otherwise.

/** Resolves with the first payload of `event` that `accept` takes, within `ms`. */
export function next(client, event, accept, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${event} within ${ms} ms`)); }, ms);
    const off = client.on(event, (payload) => {
      if (!accept(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Signs `nickname` in and connects a client kept in memory; resolves once it is ready. */
export async function connected(sdk, baseUrl, nickname, options = {}) {
  const session = await sdk.dev.signIn(baseUrl, nickname);
  const client = new sdk.ClawChatClient({ baseUrl, session, storage: "memory", logLevel: "warn", ...options });
  const ready = next(client, "state", (s) => s.state === "ready");
  await client.connect();
  await ready;
  return { client, userId: session.userId };
}

/**
 * `sdk`: the initialised module; `runtime`: a tag for unique names; `options`: more client
 * options (e.g. `transport`).
 */
export async function exchange(sdk, baseUrl, runtime, options = {}) {
  const tag = `${runtime}-${Date.now().toString(36)}`;
  const ann = await connected(sdk, baseUrl, `ann-${tag}`, options);
  const bob = await connected(sdk, baseUrl, `bob-${tag}`, options);
  try {
    const chat = await ann.client.createChat("direct", [bob.userId]);
    const toBob = next(bob.client, "message", (m) => m.chatId === chat.id);
    const sent = await ann.client.sendText(chat.id, `hello from ${runtime}`);
    const atBob = await toBob;
    const toAnn = next(ann.client, "message", (m) => m.chatId === chat.id);
    await bob.client.sendText(chat.id, "hello back", { replyTo: { messageId: atBob.messageId } });
    const atAnn = await toAnn;
    return { messageId: sent.messageId, bobGot: atBob.text, annGot: atAnn.text, replyTo: atAnn.reply?.messageId };
  } finally {
    ann.client.disconnect();
    bob.client.disconnect();
  }
}
