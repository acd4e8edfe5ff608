// The SDK in Node 20, which has no global WebSocket: the `ws` package's WebSocket class is
// passed as the `transport` option; the .wasm is read from disk and given to `initSync`.
// Two clients exchange a message through the emulator at $CLAWCHAT_EMULATOR_URL.
// Run: node examples/node/main.mjs
import { readFileSync } from "node:fs";
import { WebSocket } from "ws";
import * as sdk from "../../target/npm/clawchat-wasm/clawchat_wasm.js";
import { exchange } from "../exchange.mjs";

const wasm = new URL("../../target/npm/clawchat-wasm/clawchat_wasm_bg.wasm", import.meta.url);
sdk.initSync({ module: readFileSync(wasm) });
const result = await exchange(sdk, process.env.CLAWCHAT_EMULATOR_URL, "node", { transport: WebSocket });
console.log(JSON.stringify({ runtime: `node ${process.versions.node}`, ...result }));
const ok = result.bobGot === "hello from node" && result.annGot === "hello back" && result.replyTo !== undefined;
// Exit now: timers of the disconnected clients would otherwise keep the event loop alive.
process.exit(ok ? 0 : 1);
