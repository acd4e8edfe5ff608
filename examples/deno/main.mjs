// The SDK in Deno: `init()` loads the .wasm next to the module, then two clients exchange
// a message through the emulator at $CLAWCHAT_EMULATOR_URL.
// Run: deno run --allow-net --allow-read --allow-env examples/deno/main.mjs
import init, * as sdk from "../../target/npm/clawchat-wasm/clawchat_wasm.js";
import { exchange } from "../exchange.mjs";

await init();
const result = await exchange(sdk, Deno.env.get("CLAWCHAT_EMULATOR_URL"), "deno");
console.log(JSON.stringify({ runtime: `deno ${Deno.version.deno}`, ...result }));
const ok = result.bobGot === "hello from deno" && result.annGot === "hello back" && result.replyTo !== undefined;
// Exit now: a disconnected client can still hold its token-refresh timer, which would keep
// Deno's event loop alive until it fires.
Deno.exit(ok ? 0 : 1);
