//! The client inside a dedicated Worker (no `window`): connect, send, receive, and the
//! Worker twins of the tab, token and storage scenarios (tests/support/scenarios.rs).
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn a_client_in_a_worker_chats() {
    let ann = connected("worker-a").await;
    let bob = connected("worker-b").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    settle(
        ann.client
            .send_text(&chat_id, "from a worker", JsValue::UNDEFINED),
    )
    .await
    .expect("acked");
    wait_until("delivered", || bob.texts() == ["from a worker"]).await;
    let me = settle(bob.client.me())
        .await
        .expect("REST works in a worker");
    assert_eq!(get_str(&me, "id"), bob.user_id());
}

#[wasm_bindgen_test]
async fn a_relayed_send_settles_with_the_leaders_typed_outcome_in_a_worker() {
    scenarios::relayed_sends_settle_with_the_leaders_typed_outcome().await;
}

#[wasm_bindgen_test]
async fn a_refusal_with_a_newer_stored_pair_is_adopted_in_a_worker() {
    scenarios::a_refusal_with_a_newer_stored_pair_adopts_it_instead_of_logging_out().await;
}

#[wasm_bindgen_test]
async fn memory_storage_hands_the_rotated_pair_over_in_a_worker() {
    scenarios::memory_storage_hands_the_rotated_pair_to_the_promoted_follower().await;
}
