// The Durable Object pattern: one client per Durable Object instance (here one per
// user), created by the first request and kept across requests. The WebSocket belongs
// to the object, not to a request, so later requests send on it and messages keep
// arriving between requests (no cross-request I/O).
// The Worker routes /u/<name>/<op> to the object named <name>; ops:
//   connect?nickname=N   sign N in on the emulator and connect; → { userId }
//   chat?with=USER_ID    create a direct chat;                  → { chatId }
//   send?chat=ID&text=T  send and wait for the ack;             → { messageId }
//   inbox?count=K        wait until K messages arrived;         → { texts, errors, stored }
// The session is kept in the object's storage (a `TokenStorage`), so it survives eviction.
import * as sdk from "../../target/npm/clawchat-wasm/clawchat_wasm.js";
import wasm from "../../target/npm/clawchat-wasm/clawchat_wasm_bg.wasm";
import { connected } from "../exchange.mjs";

sdk.initSync({ module: wasm });

/** Resolves once `ready()` holds (checked every 50 ms), or rejects after `ms`. */
async function until(ready, ms, what) {
  for (let waited = 0; !ready(); waited += 50) {
    if (waited >= ms) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The client's `TokenStorage` over the object's own storage: the session (and each rotated
 * pair) outlives an eviction of the object. One account per object, so one key.
 */
function objectStorage(storage) {
  return {
    load: async () => (await storage.get("clawchat-session")) ?? null,
    save: (row) => storage.put("clawchat-session", row),
    clear: () => storage.delete("clawchat-session"),
  };
}

export class ChatUser {
  constructor(state, env) {
    this.storage = objectStorage(state.storage);
    this.baseUrl = env.CLAWCHAT_EMULATOR_URL;
    this.client = null;
    this.texts = [];
    this.errors = [];
  }

  async fetch(request) {
    const url = new URL(request.url);
    const param = (name) => url.searchParams.get(name) ?? "";
    try {
      switch (url.pathname.split("/").pop()) {
        case "connect": {
          if (!this.client) {
            const { client } = await connected(sdk, this.baseUrl, param("nickname"), { storage: this.storage });
            client.on("message", (m) => this.texts.push(m.text));
            client.on("error", (e) => this.errors.push(e.kind));
            this.client = client;
          }
          return Response.json({ userId: this.client.userId });
        }
        case "chat":
          return Response.json({ chatId: (await this.client.createChat("direct", [param("with")])).id });
        case "send":
          return Response.json({ messageId: (await this.client.sendText(param("chat"), param("text"))).messageId });
        case "inbox":
          await until(() => this.texts.length >= Number(param("count")), 10_000, "message");
          return Response.json({ texts: this.texts, errors: this.errors, stored: Boolean(await this.storage.load()) });
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (err) {
      return Response.json({ error: `${err.name} ${err.kind ?? ""}: ${err.message}` }, { status: 500 });
    }
  }
}

export default {
  fetch(request, env) {
    const [, scope, name] = new URL(request.url).pathname.split("/");
    if (scope !== "u" || !name) return new Response("not found", { status: 404 });
    return env.USERS.get(env.USERS.idFromName(name)).fetch(request);
  },
};
