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
cargo clippy -p clawchat-wasm --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings

log "native tests"
cargo test --workspace --quiet

log "browser tests (headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome

log "all tests passed in $(( $(date +%s) - started )) s"
