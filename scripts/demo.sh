#!/usr/bin/env bash
# Runs the demo: installs what is missing, builds the SDK package into pkg/, and starts
# the local ClawChat emulator serving the demo page with short-lived access tokens (so
# token refresh happens while you watch). Prints the URL to open. Ctrl-C stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

log "building the SDK package"
wasm-pack --quiet build --release --target "$(tool_setting build target)" --out-dir "$(tool_setting build out-dir)"

log "building the emulator"
cargo build --quiet --release -p clawchat-emulator

port="${CLAWCHAT_DEMO_PORT:-8787}"
log "open http://127.0.0.1:$port/ in a browser (two windows to chat with yourself)"
exec ./target/release/clawchat-emulator \
  --listen "127.0.0.1:$port" \
  --admin-listen "127.0.0.1:$((port + 1))" \
  --db emulator-data/clawchat.sqlite3 \
  --token-ttl-secs "${CLAWCHAT_DEMO_TOKEN_TTL:-90}" \
  --www-dir www --pkg-dir "$(tool_setting build out-dir)"
