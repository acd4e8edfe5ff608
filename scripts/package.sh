#!/usr/bin/env bash
# Builds the npm package into target/npm/clawchat-wasm: the release `web` build of
# wasm-pack, its JS glue bundled with its snippet (one module: no second fetch after the
# glue's) and minified by esbuild, package.json completed (exports, types,
# sideEffects, files), the package README and both licences. Then checks with
# `npm pack --dry-run` that the tarball holds exactly the intended files, and loads the
# packed tarball as a consumer would (tests/package/smoke.mjs).
# Usage: scripts/package.sh [--check-only]   (--check-only: skip the build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

out="$ROOT/target/npm/clawchat-wasm"

if [ "${1:-}" != "--check-only" ]; then
  log "building the npm package in ${out#"$ROOT/"}"
  rm -rf "$out"
  wasm-pack --quiet build --release --target web --out-dir "$out" --out-name clawchat_wasm

  ship_glue "$out/clawchat_wasm.js" "$out/clawchat_wasm.js"
  rm -r "$out/snippets"

  cp npm/README.md "$out/README.md"
  cp LICENSE-MIT LICENSE-APACHE "$out/"
  node scripts/package-json.mjs "$out/package.json"
fi

log "checking the package contents (npm pack --dry-run)"
listed="$(cd "$out" && npm pack --dry-run --json 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const f of JSON.parse(s)[0].files)console.log(f.path)})' |
  sort)"
expected="$(sort <<'EOF'
LICENSE-APACHE
LICENSE-MIT
README.md
clawchat_wasm.d.ts
clawchat_wasm.js
clawchat_wasm_bg.wasm
package.json
EOF
)"
if [ "$listed" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$listed") >&2 || true
  echo "npm pack lists other files than intended (- expected, + listed)" >&2
  exit 1
fi

log "loading the packed tarball as a consumer"
consumer="$ROOT/target/npm/consumer"
rm -rf "$consumer" && mkdir -p "$consumer/node_modules/clawchat-wasm"
tarball="$(cd "$ROOT/target/npm" && npm pack --silent "$out")"
tar -xzf "$ROOT/target/npm/$tarball" -C "$consumer/node_modules/clawchat-wasm" --strip-components=1
node tests/package/smoke.mjs "$consumer"
log "package ok: $tarball, $(du -b "$out/clawchat_wasm_bg.wasm" | cut -f1) B wasm, $(gzip -9c "$out/clawchat_wasm_bg.wasm" | wc -c) B gzipped"
