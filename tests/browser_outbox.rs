//! The durable outbox on the main thread (the scenarios are in tests/support/outbox.rs).
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_send_made_offline_is_stored_in_indexeddb_and_sent_once_after_a_reload() {
    support::outbox::a_send_made_offline_is_sent_once_by_the_next_client("indexeddb").await;
}

#[wasm_bindgen_test]
async fn with_memory_storage_the_next_client_of_the_realm_sends_it_once() {
    support::outbox::a_send_made_offline_is_sent_once_by_the_next_client("memory").await;
}

#[wasm_bindgen_test]
async fn sends_made_on_each_ack_share_the_outbox_transactions() {
    support::outbox::sends_made_on_each_ack_share_the_outbox_transactions().await;
}

#[wasm_bindgen_test]
async fn a_client_freed_on_an_ack_leaves_no_row_behind() {
    support::outbox::a_client_freed_on_an_ack_leaves_no_row_behind().await;
}

#[wasm_bindgen_test]
async fn a_followers_send_stored_by_a_closed_leader_goes_out_from_the_next_leader() {
    support::outbox::a_followers_send_stored_by_a_closed_leader_goes_out_from_the_next_leader()
        .await;
}

#[wasm_bindgen_test]
async fn a_corrupt_stored_row_is_dropped_with_a_warning() {
    support::outbox::a_corrupt_stored_row_is_dropped_with_a_warning().await;
}

#[wasm_bindgen_test]
async fn a_newer_schema_elsewhere_is_not_blocked_and_the_client_reopens() {
    support::outbox::a_newer_schema_elsewhere_is_not_blocked_and_the_client_reopens().await;
}
