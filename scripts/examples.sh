#!/usr/bin/env bash
# Runs the runtime examples in examples/ against a local emulator, each exchanging a
# message between two clients: Deno (npm's `deno`), workerd (Miniflare, `initSync`: a
# Worker within one request, a client reused by a second request, which must report
# `cross_request_io` and still get its send acked, and a Durable Object per user keeping
# its client across requests), Node (the `ws` package as the `transport`) and a Vite app
# (built, served by the emulator, driven in Chromium). Uses the npm package that
# scripts/package.sh built (builds it if missing). Prints each runtime's version and the
# Vite app's gzip size.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[ -f target/npm/clawchat-wasm/package.json ] || "$ROOT/scripts/package.sh"
if [ ! -d examples/node_modules/ws ]; then
  log "installing the examples' npm tooling (deno, miniflare, vite, ws)"
  (cd examples && npm ci --no-audit --no-fund --silent)
fi

log "building the Vite app"
examples/node_modules/.bin/vite build --config examples/vite/vite.config.js
app_gzip=0
for file in $(find target/examples/vite -type f); do
  app_gzip=$(( app_gzip + $(gzip -9c "$file" | wc -c) ))
done

start_emulator "$(( 18837 + ${CLAWCHAT_E2E_PORT_OFFSET:-0} ))" "$ROOT/target/emulator-examples.log" \
  --www-dir target/examples/vite

log "Deno"
examples/node_modules/.bin/deno run --quiet --allow-net --allow-read --allow-env examples/deno/main.mjs
log "workerd (Miniflare): a Worker, a client reused across requests, a Durable Object"
node examples/workerd/run.mjs
log "Node $(node --version) with ws"
node examples/node/main.mjs
log "Vite app in Chromium"
node examples/vite/page.mjs
log "examples ok; the Vite app is $app_gzip B gzipped (JS, wasm and HTML)"
