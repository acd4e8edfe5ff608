#!/usr/bin/env bash
# Idempotent machine setup for building and testing clawchat-wasm on a fresh Debian
# machine. Each step checks first and skips what is already there. Versions come from
# wasm-pack.toml.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

want_pack="$(tool_setting tools wasm-pack)"
want_bindgen="$(tool_setting tools wasm-bindgen-cli)"
apt_packages="$(tool_setting tools apt)"
npm_packages="$(tool_setting tools npm)"

# The wasm-bindgen crate pinned in Cargo.toml must match the CLI we install.
pinned="$(grep -E '^wasm-bindgen = "=' "$ROOT/Cargo.toml" | sed -E 's/.*"=([^"]+)".*/\1/')"
if [ "$pinned" != "$want_bindgen" ]; then
  log "Cargo.toml pins wasm-bindgen =$pinned but wasm-pack.toml wants CLI $want_bindgen"
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-pack --version 2>/dev/null | grep -q " $want_pack\$"; then
  log "installing wasm-pack $want_pack (a few minutes)"
  cargo install wasm-pack --version "$want_pack" --locked --quiet
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $want_bindgen\$"; then
  log "installing wasm-bindgen-cli $want_bindgen (a few minutes)"
  # Its published lockfile can name a dependency release the registry mirror lacks;
  # then resolve afresh (same wasm-bindgen-cli version, compatible dependencies).
  cargo install wasm-bindgen-cli --version "$want_bindgen" --locked --quiet --force ||
    cargo install wasm-bindgen-cli --version "$want_bindgen" --quiet --force
fi

missing=""
for pkg in $apt_packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing >/dev/null
fi

missing_npm=""
for pkg in $npm_packages; do
  [ -d "$ROOT/node_modules/$pkg" ] || missing_npm="$missing_npm $pkg"
done
if [ -n "$missing_npm" ]; then
  log "installing npm tooling:$missing_npm"
  (cd "$ROOT" && npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent)
fi

log "setup complete"
