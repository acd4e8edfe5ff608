//! Without Web Locks (removed for this suite): each client connects alone with a sibling
//! device id, and a lease row in IndexedDB keeps refresh to one client at a time.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use js_sys::Reflect;
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn remove_web_locks() {
    let navigator_class = Reflect::get(&js_sys::global(), &"Navigator".into()).unwrap();
    let prototype = Reflect::get(&navigator_class, &"prototype".into()).unwrap();
    Reflect::delete_property(&prototype.into(), &"locks".into()).unwrap();
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).unwrap();
    assert!(Reflect::get(&navigator, &"locks".into())
        .unwrap()
        .is_undefined());
}

#[wasm_bindgen_test]
async fn without_web_locks_clients_connect_alone_and_refresh_once() {
    remove_web_locks();
    let session = session("no-locks").await;
    let canonical = get_str(&session, "deviceId");
    let timings = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":0}"#;
    let one = client_with(&session, timings, None);
    let two = client_with(&session, timings, None);
    let takeovers = get(&stats().await, "takeovers").as_f64().unwrap();
    connect(&one).await;
    connect(&two).await;
    sleep(300).await;
    assert_eq!(
        get(&stats().await, "takeovers").as_f64().unwrap(),
        takeovers,
        "siblings never kick each other"
    );
    assert_eq!(one.client.role().as_string().as_deref(), Some("solo"));
    assert_eq!(two.client.role().as_string().as_deref(), Some("solo"));
    let devices = [one.client.device_id(), two.client.device_id()];
    assert_ne!(devices[0], devices[1]);
    assert!(
        devices
            .iter()
            .all(|d| d.starts_with(&canonical) && *d != canonical),
        "{devices:?}"
    );

    let before = refresh_calls().await;
    let (a, b) = (one.client.refresh_now(), two.client.refresh_now());
    let mut outcomes = [
        get_str(&settle(a).await.unwrap(), "outcome"),
        get_str(&settle(b).await.unwrap(), "outcome"),
    ];
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["adopted", "success"],
        "the lease serialised the two refreshes"
    );
    assert_eq!(refresh_calls().await - before, 1.0);
    assert_eq!(one.client.access_token(), two.client.access_token());
    wait_until("both ready again", || {
        one.state() == "ready" && two.state() == "ready"
    })
    .await;
    assert_eq!(
        get(&stats().await, "takeovers").as_f64().unwrap(),
        takeovers,
        "rotations are handovers, not takeovers"
    );
}

#[wasm_bindgen_test]
async fn a_lone_tab_stops_refreshing_on_disconnect_and_connects_again() {
    remove_web_locks();
    // 3 s tokens: refreshed proactively at half their life (the floor is 1.5 s).
    let timings = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":1500}"#;
    let ann = client_with(&session_ttl("no-locks-off", 3).await, timings, None);
    connect(&ann).await;
    assert_eq!(ann.client.role().as_string().as_deref(), Some("solo"));
    ann.client.disconnect();
    let before = refresh_calls().await;
    let refreshes = ann.of("refresh").len();
    sleep(3_500).await;
    assert_eq!(
        ann.of("refresh").len(),
        refreshes,
        "no refresh once disconnected"
    );
    assert_eq!(refresh_calls().await, before);
    assert_eq!(ann.state(), "closed");
    // The expired token is refreshed before connecting again.
    connect(&ann).await;
    assert!(refresh_calls().await > before);
}
