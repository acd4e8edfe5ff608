// Completes the package.json wasm-pack wrote (name, version, licence from Cargo.toml):
// ES module entry points, types, exports, sideEffects and the exact file list.
// Usage: node scripts/package-json.mjs <path/to/package.json>
import { readFileSync, writeFileSync } from "node:fs";

const path = process.argv[2];
const generated = JSON.parse(readFileSync(path, "utf8"));
const pkg = {
  name: generated.name,
  version: generated.version,
  description: generated.description,
  license: generated.license,
  keywords: ["clawchat", "chat", "websocket", "webassembly", "wasm", "edge"],
  type: "module",
  main: "./clawchat_wasm.js",
  module: "./clawchat_wasm.js",
  types: "./clawchat_wasm.d.ts",
  exports: {
    ".": {
      types: "./clawchat_wasm.d.ts",
      default: "./clawchat_wasm.js",
    },
    "./clawchat_wasm_bg.wasm": "./clawchat_wasm_bg.wasm",
    "./package.json": "./package.json",
  },
  // Importing the module only defines classes and functions; nothing runs before init().
  sideEffects: false,
  files: [
    "clawchat_wasm.js",
    "clawchat_wasm.d.ts",
    "clawchat_wasm_bg.wasm",
    "README.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
  ],
};
for (const key of ["description", "license", "name", "version"]) {
  if (!pkg[key]) throw new Error(`wasm-pack wrote no ${key} into ${path}`);
}
writeFileSync(path, JSON.stringify(pkg, null, 2) + "\n");
