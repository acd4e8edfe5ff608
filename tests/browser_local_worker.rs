//! The browser shell in a dedicated Worker (no `window`, no `document`) with no server:
//! the same checks as `browser_local.rs` (they are in `local/mod.rs`).
#![cfg(target_arch = "wasm32")]

mod local;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

local::all_local_checks!();
