//! The durable outbox in a dedicated Worker: the twin of tests/browser_outbox.rs.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn in_a_worker_a_send_made_offline_is_stored_and_sent_once_after_a_reload() {
    support::outbox::a_send_made_offline_is_sent_once_by_the_next_client("indexeddb").await;
}

#[wasm_bindgen_test]
async fn in_a_worker_a_followers_send_stored_by_a_closed_leader_goes_out_from_the_next_leader() {
    support::outbox::a_followers_send_stored_by_a_closed_leader_goes_out_from_the_next_leader()
        .await;
}
