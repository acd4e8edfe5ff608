#!/usr/bin/env bash
# Runs the runtime examples in examples/ against a local emulator, each exchanging a
# message between two clients: Deno (npm's `deno`), workerd (Miniflare, `initSync`) and a
# Vite app (built, served by the emulator, driven in Chromium). Uses the npm package that
# scripts/package.sh built (builds it if missing). Prints each runtime's version and the
# Vite app's gzip size.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[ -f target/npm/clawchat-wasm/package.json ] || "$ROOT/scripts/package.sh"
if [ ! -d examples/node_modules ]; then
  log "installing the examples' npm tooling (deno, miniflare, vite)"
  (cd examples && npm ci --no-audit --no-fund --silent)
fi

log "building the Vite app"
examples/node_modules/.bin/vite build --config examples/vite/vite.config.js
app_gzip=0
for file in $(find target/examples/vite -type f); do
  app_gzip=$(( app_gzip + $(gzip -9c "$file" | wc -c) ))
done

cargo build --quiet -p clawchat-emulator
port=$(( 18837 + ${CLAWCHAT_E2E_PORT_OFFSET:-0} ))
emulator_log="$ROOT/target/emulator-examples.log"
./target/debug/clawchat-emulator --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$((port + 1))" \
  --db :memory: --www-dir target/examples/vite >"$emulator_log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$((port + 1))/admin/stats" >/dev/null 2>&1 && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$emulator_log"; exit 1; }
  sleep 0.1
done
export CLAWCHAT_EMULATOR_URL="http://127.0.0.1:$port"

log "Deno"
examples/node_modules/.bin/deno run --quiet --allow-net --allow-read --allow-env examples/deno/main.mjs
log "workerd (Miniflare)"
node examples/workerd/run.mjs
log "Vite app in Chromium"
node examples/vite/page.mjs
log "examples ok; the Vite app is $app_gzip B gzipped (JS, wasm and HTML)"
