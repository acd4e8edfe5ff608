# Shared helpers for the bench commands. Source it; do not run it.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

# The npm tooling (binaryen's wasm-opt, playwright-core), installed once per checkout.
ensure_npm() {
  [[ -x node_modules/.bin/wasm-opt && -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund >&2
}

# The release SDK package in pkg/, exactly as shipped (wasm-opt -Oz through wasm-pack).
build_pkg() {
  ensure_npm
  log "building the release SDK package"
  wasm-pack --quiet build --release --target "$(tool_setting build target)" --out-dir "$(tool_setting build out-dir)" >/dev/null 2>&1 ||
    wasm-pack build --release --target "$(tool_setting build target)" --out-dir "$(tool_setting build out-dir)"
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
