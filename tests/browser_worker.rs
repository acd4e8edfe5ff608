//! The client inside a dedicated Worker (no `window`): connect, send, receive.
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
