//! The browser shell on the main thread with no server: token stores, Web Locks, the
//! lease, tab channels and the error classes (the checks are in `local/mod.rs`).
#![cfg(target_arch = "wasm32")]

mod local;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

local::all_local_checks!();
