// Runs worker.mjs in workerd through Miniflare and asks it for one exchange through the
// emulator at $CLAWCHAT_EMULATOR_URL. Exits non-zero unless both messages arrived.
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const root = fileURLToPath(new URL("../..", import.meta.url));
const mf = new Miniflare({
  modules: true,
  modulesRoot: root,
  scriptPath: fileURLToPath(new URL("worker.mjs", import.meta.url)),
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2026-07-01",
  bindings: { CLAWCHAT_EMULATOR_URL: process.env.CLAWCHAT_EMULATOR_URL },
});
try {
  const response = await mf.dispatchFetch("http://worker.local/");
  const result = await response.json();
  const { default: pkg } = await import("miniflare/package.json", { with: { type: "json" } });
  console.log(JSON.stringify({ runtime: `workerd via miniflare ${pkg.version}`, ...result }));
  if (result.bobGot !== "hello from workerd" || result.annGot !== "hello back") process.exitCode = 1;
} finally {
  await mf.dispose();
}
