//! The Worker twin of tests/browser_no_indexeddb.rs.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn without_indexeddb_in_a_worker_the_default_store_is_memory() {
    scenarios::without_indexeddb_the_default_store_is_memory_and_rotations_survive().await;
}
