# Shared helpers for the bench commands. Source it; do not run it.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

# The npm tooling (binaryen's wasm-opt, playwright-core), installed once per checkout.
ensure_npm() {
  [[ -x node_modules/.bin/wasm-opt && -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund >&2
}

# The npm package as shipped (scripts/package.sh: release build, wasm-opt (wasm-pack.toml), the glue
# bundled into one minified module), in PACKAGE; the benches load and measure it as an
# app would.
PACKAGE="target/npm/clawchat-wasm"
build_package() {
  ensure_npm
  log "building the npm package"
  "$ROOT/scripts/package.sh" >/dev/null 2>&1 || "$ROOT/scripts/package.sh"
}

# ratio_line LABEL DETAIL: reads one ratio a line on stdin and prints min / median / max
# in the format every bench prints.
ratio_line() {
  sort -g | awk -v label="$1" -v detail="$2" '
    { r[NR] = $1 }
    END {
      if (NR == 0) { printf "%-48s no result\n", label; exit 1 }
      f = (r[1] < 0.1) ? "%.3f" : "%.2f"
      printf "%-48s min " f "×  median " f "×  max " f "×   %s\n", label, r[1], r[int((NR + 1) / 2)], r[NR], detail
    }'
}
