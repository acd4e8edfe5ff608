// A Vite app that imports the package by name, initialises it with `init()` (Vite emits
// the .wasm as an asset) and exchanges a message through the emulator that serves it.
import init, * as sdk from "clawchat-wasm";
import { exchange } from "../exchange.mjs";

const out = document.getElementById("result");
try {
  await init();
  const result = await exchange(sdk, location.origin, "vite");
  out.dataset.result = JSON.stringify(result);
  out.textContent = `${result.bobGot} / ${result.annGot}`;
} catch (err) {
  out.dataset.error = `${err.name} ${err.kind ?? ""}: ${err.message}`;
  out.textContent = "failed";
}
