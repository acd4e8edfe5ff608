// A client kept in a plain Worker's module scope and reused by a later request. workerd
// forbids using one request's I/O (here the client's WebSocket) in another request: the
// client's first write in the later request throws, and the client says so with an `error`
// event of kind "cross_request_io", opens a new socket within that request and sends the
// message there (nothing is lost). A Durable Object keeps its socket across requests
// instead: see durable.mjs.
// GET /first: connects a client, creates a chat and sends (acked). GET /second: sends
// again with the same client; answers with the ack, the error kinds seen and the texts
// its message cache holds.
import * as sdk from "../../target/npm/clawchat-wasm/clawchat_wasm.js";
import wasm from "../../target/npm/clawchat-wasm/clawchat_wasm_bg.wasm";
import { connected } from "../exchange.mjs";

sdk.initSync({ module: wasm });

/** The client of the first request: { client, chatId, errors }. */
let kept = null;

/** `promise`, or a rejection after `ms` (a send that never settles fails the check). */
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function first(baseUrl) {
  const tag = `reused-${Date.now().toString(36)}`;
  const bob = await sdk.dev.signIn(baseUrl, `bob-${tag}`);
  const { client } = await connected(sdk, baseUrl, `ann-${tag}`);
  const errors = [];
  client.on("error", (e) => errors.push(e.kind));
  const chat = await client.createChat("direct", [bob.userId]);
  const sent = await client.sendText(chat.id, "from the first request");
  kept = { client, chatId: chat.id, errors };
  return { messageId: sent.messageId };
}

async function second() {
  const sent = await within(kept.client.sendText(kept.chatId, "from the second request"), 10_000, "ack");
  // The message cache (memory here) still answers: both sends, the first request's too.
  const history = await within(kept.client.history(kept.chatId), 10_000, "history");
  const result = { messageId: sent.messageId, errors: kept.errors, state: kept.client.state.state,
    cached: history.map((m) => m.text) };
  kept.client.disconnect();
  return result;
}

export default {
  async fetch(request, env) {
    try {
      const { pathname } = new URL(request.url);
      if (pathname === "/first") return Response.json(await first(env.CLAWCHAT_EMULATOR_URL));
      if (pathname === "/second" && kept) return Response.json(await second());
      return new Response("not found", { status: 404 });
    } catch (err) {
      return Response.json({ error: `${err.name} ${err.kind ?? ""}: ${err.message}` }, { status: 500 });
    }
  },
};
