//! Without IndexedDB (removed for this suite, as in Deno, workerd or Node): the default
//! store is memory, the app is warned, and rotated pairs are kept.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn without_indexeddb_the_default_store_is_memory_and_rotations_survive() {
    scenarios::without_indexeddb_the_default_store_is_memory_and_rotations_survive().await;
}
