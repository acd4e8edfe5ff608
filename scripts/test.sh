#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, native unit and integration
# tests (SDK core and emulator), and the browser suites in headless Chromium.
# Installs what a fresh machine lacks first (scripts/setup.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
started=$(date +%s)

"$ROOT/scripts/setup.sh"

log "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p clawchat-wasm --target wasm32-unknown-unknown --all-targets --features emulator-tests --quiet -- -D warnings

log "native tests"
cargo test --workspace --quiet

log "browser tests that need no server (headless Chromium, main thread and dedicated Worker)"
CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome

log "starting an emulator for the browser tests"
port="${CLAWCHAT_TEST_PORT:-18787}"
# The browser suites run on wasm-bindgen-test-runner's own server, another origin than
# the emulator's: pin its address (the runner reads WASM_BINDGEN_TEST_ADDRESS) and allow
# exactly that origin to call the REST and admin APIs cross-origin. The suites test the
# strict single-use rotation, so the refresh grace window is off.
export WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$((port + 2))"
runner_origin="http://$WASM_BINDGEN_TEST_ADDRESS"
start_emulator "$port" "$ROOT/target/emulator-test.log" \
  --allow-origin "$runner_origin" --admin-allow-origin "$runner_origin" --refresh-grace-secs 0 \
  --www-dir www --pkg-dir "$(tool_setting build out-dir)"

log "browser tests against the emulator (the suites behind the emulator-tests feature)"
emulator_suites=()
for suite in $(grep -l '^mod support;' tests/*.rs); do
  emulator_suites+=(--test "$(basename "$suite" .rs)")
done
CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --features emulator-tests "${emulator_suites[@]}"

log "page tests (playwright-core driving Chromium through the demo page)"
wasm-pack --quiet build --release --target "$(tool_setting build target)" --out-dir "$(tool_setting build out-dir)"
node --test --test-concurrency=1 e2e/*.test.mjs

log "npm package: build, contents, and the typed usage file under tsc --strict"
"$ROOT/scripts/package.sh"
tsc -p tests/types

log "runtime examples: Deno, workerd (Miniflare), a Vite app"
"$ROOT/scripts/examples.sh"

log "all tests passed in $(( $(date +%s) - started )) s"
