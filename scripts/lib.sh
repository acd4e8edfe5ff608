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

# log MESSAGE: a timestamped progress line on stderr.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
