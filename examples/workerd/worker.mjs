// The SDK in a Worker (workerd): the binary is imported as a module and initialised with
// `initSync`; the client keeps its session in memory. A Worker may not reuse a socket
// opened by another request, so the whole exchange runs inside one request.
import { initSync } from "../../target/npm/clawchat-wasm/clawchat_wasm.js";
import * as sdk from "../../target/npm/clawchat-wasm/clawchat_wasm.js";
import wasm from "../../target/npm/clawchat-wasm/clawchat_wasm_bg.wasm";
import { exchange } from "../exchange.mjs";

initSync({ module: wasm });

export default {
  async fetch(_request, env) {
    try {
      return Response.json(await exchange(sdk, env.CLAWCHAT_EMULATOR_URL, "workerd"));
    } catch (err) {
      return Response.json({ error: `${err.name} ${err.kind ?? ""}: ${err.message}` }, { status: 500 });
    }
  },
};
