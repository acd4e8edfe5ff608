//! Token lifecycle in headless Chromium against the emulator: proactive and reactive
//! refresh, faults, logout, and two clients of one account sharing storage and locks.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const FAST: &str = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":1500}"#;
const NO_FLOOR: &str = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":0}"#;

fn outcomes(recorded: &Recorded) -> Vec<String> {
    recorded
        .of("refresh")
        .iter()
        .map(|r| get_str(r, "outcome"))
        .collect()
}

#[wasm_bindgen_test]
async fn proactive_refresh_rotates_while_sends_keep_flowing() {
    // 3 s tokens: refreshed at half their life (the floor is 1.5 s), never at birth.
    let ann = client_with(&session_ttl("pro-a", 3).await, FAST, None);
    connect(&ann).await;
    let bob = connected("pro-b").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    let first_token = ann.client.access_token();
    let before = refresh_calls().await;
    let mut sent = 0;
    for i in 0..16 {
        settle(
            ann.client
                .send_text(&chat_id, &format!("m{i}"), JsValue::UNDEFINED),
        )
        .await
        .expect("acked");
        sent += 1;
        sleep(300).await;
    }
    let rotations = outcomes(&ann).iter().filter(|o| *o == "success").count();
    assert!(
        rotations >= 3,
        "pre-connect plus proactive rotations, got {:?}",
        outcomes(&ann)
    );
    assert!(refresh_calls().await - before >= 2.0);
    assert_ne!(ann.client.access_token(), first_token);
    wait_until("all delivered", || bob.texts().len() == sent).await;
    assert_eq!(ann.state(), "ready");
    assert!(
        ann.of("tokens")
            .iter()
            .all(|t| !format!("{t:?}").contains(&first_token)),
        "no token text in events"
    );
    ann.client.disconnect(); // short tokens: stop rotating for the next tests
}

#[wasm_bindgen_test]
async fn hello_fail_refreshes_once_and_reconnects() {
    let ann = client_with(&session("hf").await, FAST, None);
    connect(&ann).await;
    let before = refresh_calls().await;
    admin(
        "/admin/faults/handshake",
        r#"{"reason":"authentication failed","count":1}"#,
    )
    .await;
    admin("/admin/drop-sockets", "{}").await;
    wait_until("refreshed after hello-fail", || {
        ann.of("refresh")
            .iter()
            .any(|r| get_str(r, "trigger") == "hello_fail" && get_str(r, "outcome") == "success")
    })
    .await;
    wait_until("ready again", || ann.state() == "ready").await;
    assert_eq!(refresh_calls().await - before, 1.0);
}

#[wasm_bindgen_test]
async fn every_refresh_fault_leaves_the_user_signed_in() {
    let ann = client_with(&session("faults").await, NO_FLOOR, None);
    connect(&ann).await;
    let token = ann.client.access_token();
    for fault in [
        r#"{"kind":"http500"}"#,
        r#"{"kind":"code1"}"#,
        r#"{"kind":"garbage"}"#,
        r#"{"kind":"hang","hang_ms":1500}"#,
    ] {
        admin("/admin/faults/refresh", fault).await;
        let report = settle(ann.client.refresh_now()).await.unwrap();
        assert_eq!(get_str(&report, "outcome"), "transient", "{fault}");
        assert_eq!(ann.client.access_token(), token, "{fault}: tokens kept");
        assert_eq!(ann.state(), "ready", "{fault}");
    }
    assert!(ann.of("logout").is_empty());
    let report = settle(ann.client.refresh_now()).await.unwrap();
    assert_eq!(
        get_str(&report, "outcome"),
        "success",
        "the refresh token survived every fault"
    );
}

#[wasm_bindgen_test]
async fn a_spent_refresh_token_logs_out_and_fails_pending_sends() {
    let session = session("reuse").await;
    let ann = client_with(&session, NO_FLOOR, None);
    connect(&ann).await;
    spend_refresh_token(&session).await;
    ann.client.disconnect();
    let report = settle(ann.client.refresh_now()).await.unwrap();
    assert_eq!(get_str(&report, "outcome"), "permanent");
    let logout = &ann.of("logout")[0];
    assert_eq!(get(logout, "code").as_f64(), Some(10003.0));
    assert_eq!(ann.state(), "logged_out");
    assert_eq!(ann.client.access_token(), "");
    let err = settle(
        ann.client
            .send_text("c-any", "after logout", JsValue::UNDEFINED),
    )
    .await
    .unwrap_err();
    assert_eq!(get_str(&err, "kind"), "closed");
    let options = json(&format!(
        r#"{{"baseUrl":"{BASE}","accountKey":"{}","logLevel":"silent"}}"#,
        get_str(&session, "userId")
    ));
    let reloaded = clawchat_wasm::js::ClawChatClient::new(options).expect("client");
    let err = settle(reloaded.connect()).await.unwrap_err();
    assert_eq!(
        get_str(&err, "kind"),
        "auth",
        "the stored session was cleared"
    );
}

#[wasm_bindgen_test]
async fn two_clients_of_one_account_refresh_once_and_share_the_pair() {
    let session = session("shared").await;
    let sibling = format!("{}-tab2", get_str(&session, "deviceId"));
    let one = client_with(&session, NO_FLOOR, None);
    let two = client_with(&session, NO_FLOOR, Some(&sibling));
    connect(&one).await;
    connect(&two).await;
    let original = one.client.access_token();
    let before = refresh_calls().await;
    let (a, b) = (one.client.refresh_now(), two.client.refresh_now());
    let (a, b) = (settle(a).await.unwrap(), settle(b).await.unwrap());
    let mut results = [get_str(&a, "outcome"), get_str(&b, "outcome")];
    results.sort();
    assert_eq!(
        results,
        ["adopted", "success"],
        "one refreshes, the other adopts after the lock"
    );
    assert_eq!(
        refresh_calls().await - before,
        1.0,
        "exactly one refresh call for both"
    );
    assert_ne!(one.client.access_token(), original);
    assert_eq!(one.client.access_token(), two.client.access_token());
    wait_until("both ready on the new pair", || {
        one.state() == "ready" && two.state() == "ready"
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_rotation_and_a_logout_reach_the_other_client() {
    let session = session("relay").await;
    let sibling = format!("{}-tab2", get_str(&session, "deviceId"));
    let one = client_with(&session, NO_FLOOR, None);
    let two = client_with(&session, NO_FLOOR, Some(&sibling));
    connect(&one).await;
    connect(&two).await;
    let before = refresh_calls().await;
    let report = settle(one.client.refresh_now()).await.unwrap();
    assert_eq!(get_str(&report, "outcome"), "success");
    wait_until("the pair reached the other client", || {
        two.client.access_token() == one.client.access_token()
    })
    .await;
    assert_eq!(
        refresh_calls().await - before,
        1.0,
        "the other client did not call refresh"
    );
    settle(one.client.logout()).await.unwrap();
    wait_until("the other client logged out too", || {
        two.state() == "logged_out"
    })
    .await;
    assert_eq!(get(&two.of("logout")[0], "code").as_f64(), Some(0.0));
}

/// A JS token store whose `save` rejects any row but the first (the rotated pair), and
/// counts the attempts.
fn failing_store() -> JsValue {
    let make = js_sys::Function::new_no_args(
        "let saved = null; const store = {
           attempts: 0,
           load: async () => saved,
           save: async (row) => { store.attempts += 1; if (saved && saved.access_token !== row.access_token) throw new Error('disk full'); saved = row; },
           clear: async () => { saved = null; },
         };
         return store;",
    );
    make.call0(&JsValue::NULL).unwrap()
}

#[wasm_bindgen_test]
async fn a_rotation_that_cannot_be_persisted_stays_in_use_and_is_saved_again() {
    let session = session("persist-fail").await;
    let store = failing_store();
    let options = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&options, &k.into(), &v).unwrap();
    set("baseUrl", BASE.into());
    set("session", session.clone());
    set("storage", store.clone());
    set("logLevel", "silent".into());
    set("timings", json(NO_FLOOR));
    let client = clawchat_wasm::js::ClawChatClient::new(options.into()).expect("client");
    let warnings = record(&client, "warn");
    settle(client.connect()).await.expect("connect starts");
    wait_until("ready", || get_str(&client.state(), "state") == "ready").await;
    let token = client.access_token();
    let report = settle(client.refresh_now()).await.unwrap();
    assert_eq!(get_str(&report, "outcome"), "success");
    assert_ne!(
        client.access_token(),
        token,
        "the server's pair is in use at once"
    );
    wait_until("a warning that it is not saved", || {
        !warnings.borrow().is_empty()
    })
    .await;
    let attempts = || get(&store, "attempts").as_f64().unwrap_or(0.0);
    let first = attempts();
    wait_until("the save is retried", || attempts() > first).await;
    let report = settle(client.refresh_now()).await.unwrap();
    assert_eq!(
        get_str(&report, "outcome"),
        "success",
        "the next refresh presents the unsaved pair, not the spent one"
    );
    wait_until("ready on the new pair", || {
        get_str(&client.state(), "state") == "ready"
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_refusal_with_a_newer_stored_pair_adopts_it_instead_of_logging_out() {
    scenarios::a_refusal_with_a_newer_stored_pair_adopts_it_instead_of_logging_out().await;
}
