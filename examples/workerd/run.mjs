// Runs the Worker examples in workerd through Miniflare against the emulator at
// $CLAWCHAT_EMULATOR_URL, printing one JSON line each; exits non-zero unless all passed:
// - worker.mjs: one request, two clients exchange a message;
// - reused.mjs: a client reused by a second request reports "cross_request_io",
//   reconnects within that request, gets its send acked and its message cache answers;
// - durable.mjs: one client per Durable Object, kept across requests (its session in the
//   object's storage), exchanges a message with another object's client without any error.
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const root = fileURLToPath(new URL("../..", import.meta.url));
const json = { with: { type: "json" } };
const { default: miniflare } = await import("miniflare/package.json", json);
const { default: workerd } = await import("workerd/package.json", json);
const runtime = `workerd ${workerd.version} via miniflare ${miniflare.version}`;

/** Runs `script` (next to this file) in Miniflare, gives `use` its fetch, then disposes. */
async function withWorker(script, options, use) {
  const mf = new Miniflare({
    modules: true,
    modulesRoot: root,
    scriptPath: fileURLToPath(new URL(script, import.meta.url)),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-07-01",
    bindings: { CLAWCHAT_EMULATOR_URL: process.env.CLAWCHAT_EMULATOR_URL },
    ...options,
  });
  try {
    return await use(async (path) => {
      const response = await mf.dispatchFetch(`http://worker.local${path}`);
      const body = await response.json();
      if (!response.ok) throw new Error(`${script} ${path}: ${body.error ?? response.status}`);
      return body;
    });
  } finally {
    await mf.dispose();
  }
}

/** Prints `result` as the example's line; marks the run failed unless `ok`. */
function report(example, result, ok) {
  console.log(JSON.stringify({ runtime, example, ...result }));
  if (!ok) process.exitCode = 1;
}

await withWorker("worker.mjs", {}, async (get) => {
  const result = await get("/");
  report("one request", result, result.bobGot === "hello from workerd" && result.annGot === "hello back");
});

await withWorker("reused.mjs", {}, async (get) => {
  const first = await get("/first");
  const second = await get("/second");
  const result = { firstAck: first.messageId, secondAck: second.messageId, errors: second.errors, cached: second.cached };
  const bothCached = JSON.stringify(second.cached) === JSON.stringify(["from the first request", "from the second request"]);
  report("client reused across requests", result, Boolean(second.messageId) && second.errors.includes("cross_request_io") && bothCached);
});

await withWorker("durable.mjs", { durableObjects: { USERS: "ChatUser" } }, async (get) => {
  const tag = `do-${Date.now().toString(36)}`;
  const ann = await get(`/u/ann/connect?nickname=ann-${tag}`);
  const bob = await get(`/u/bob/connect?nickname=bob-${tag}`);
  const { chatId } = await get(`/u/ann/chat?with=${bob.userId}`);
  const text = encodeURIComponent("hello from a durable object");
  const sent = await get(`/u/ann/send?chat=${chatId}&text=${text}`);
  const atBob = await get("/u/bob/inbox?count=1");
  await get(`/u/bob/send?chat=${chatId}&text=hello%20back`);
  const atAnn = await get("/u/ann/inbox?count=1");
  const errors = [...atBob.errors, ...atAnn.errors];
  const stored = atBob.stored && atAnn.stored;
  const result = { messageId: sent.messageId, bobGot: atBob.texts[0], annGot: atAnn.texts[0], errors, stored };
  const ok = result.bobGot === "hello from a durable object" && result.annGot === "hello back";
  report("durable object", result, ok && errors.length === 0 && stored);
});
