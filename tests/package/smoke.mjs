// Loads the built npm package the way a consumer does (by its name, through `exports`),
// initialises it from the .wasm it ships, and checks the exported API and error classes.
// Usage: node tests/package/smoke.mjs <directory that holds node_modules/clawchat-wasm>
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(`${process.argv[2]}/`);
const entry = require.resolve("clawchat-wasm");
const wasmPath = require.resolve("clawchat-wasm/clawchat_wasm_bg.wasm");
const sdk = await import(entry);
sdk.initSync({ module: await readFile(wasmPath) });

assert.equal(typeof sdk.version(), "string");
assert.match(sdk.mintMessageId(), /^msg-[0-9A-Z]{26}$/);
assert.equal(typeof sdk.dev.signIn, "function");
assert.equal("devSignIn" in sdk, false, "devSignIn is only under dev");
for (const name of ["ClawChatError", "ApiError", "SendError"]) {
  assert.ok(sdk[name].prototype instanceof Error, `${name} extends Error`);
}
assert.throws(
  () => new sdk.ClawChatClient({ baseUrl: "ftp://host", accountKey: "a" }),
  (err) => err instanceof sdk.ApiError && err instanceof sdk.ClawChatError && err.kind === "validation",
);
assert.throws(
  () => new sdk.ClawChatClient({ baseUrl: "http://host" }),
  (err) => err instanceof sdk.ClawChatError && !(err instanceof sdk.ApiError) && err.kind === "validation",
);
console.log(`package ${sdk.version()} loads; exports and error classes ok`);
