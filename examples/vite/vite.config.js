// The package as scripts/package.sh built it; `optimizeDeps.exclude` keeps Vite's dev
// server from pre-bundling it away from its .wasm file (builds do not need it).
import { fileURLToPath } from "node:url";

export default {
  root: fileURLToPath(new URL(".", import.meta.url)),
  resolve: {
    alias: { "clawchat-wasm": fileURLToPath(new URL("../../target/npm/clawchat-wasm/clawchat_wasm.js", import.meta.url)) },
  },
  optimizeDeps: { exclude: ["clawchat-wasm"] },
  build: { outDir: fileURLToPath(new URL("../../target/examples/vite", import.meta.url)), emptyOutDir: true, target: "es2022" },
  logLevel: "warn",
};
