# Shared helpers for the project scripts. Source it; do not run it.

# Repository root, whatever the caller's working directory.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# npm tooling first (wasm-pack takes the first wasm-opt on PATH), then cargo's.
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# tool_setting SECTION KEY: the quoted value of KEY under [SECTION] in wasm-pack.toml.
tool_setting() {
  awk -v section="[$1]" -v key="$2" '
    /^\[/ { in_section = ($0 == section) }
    in_section && $1 == key { sub(/^[^=]*=[ \t]*"/, ""); sub(/".*$/, ""); print; exit }
  ' "$ROOT/wasm-pack.toml"
}

# ship_glue GLUE OUT: wasm-bindgen's JS glue as the package ships it: its snippet imports
# bundled in (one ES module, so a page fetches the glue and then the .wasm, with no
# snippet fetch in between) and minified. The glue's `new URL("…_bg.wasm",
# import.meta.url)` stays as it is, so the .wasm is still found next to the module.
ship_glue() {
  esbuild "$1" --bundle --minify --format=esm --log-level=warning --outfile="$2" --allow-overwrite
}

# log MESSAGE: a timestamped progress line on stderr.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# start_emulator PORT LOG_FILE [ARGS...]: builds the emulator, starts it on PORT (admin on
# PORT + 1) with an in-memory database and ARGS, waits until it answers, stops it when the
# calling script exits, and exports CLAWCHAT_EMULATOR_URL and CLAWCHAT_ADMIN_URL.
start_emulator() {
  local port="$1" log_file="$2"
  shift 2
  cargo build --quiet -p clawchat-emulator
  "$ROOT/target/debug/clawchat-emulator" --listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$((port + 1))" --db :memory: "$@" >"$log_file" 2>&1 &
  EMULATOR_PID=$!
  trap 'kill "$EMULATOR_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$((port + 1))/admin/stats" >/dev/null 2>&1 && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$log_file"; exit 1; }
    sleep 0.1
  done
  export CLAWCHAT_EMULATOR_URL="http://127.0.0.1:$port"
  export CLAWCHAT_ADMIN_URL="http://127.0.0.1:$((port + 1))"
}
