//! Browser scenarios shared by a main-thread suite and its Worker twin
//! (tests/browser_worker.rs): each runs unchanged in both.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use super::*;

const TIMINGS: &str = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":0}"#;

fn role(tab: &Recorded) -> String {
    tab.client.role().as_string().unwrap_or_default()
}

/// Two clients of `session` (tabs of one account), one leading, both ready.
pub async fn two_tabs(session: &JsValue, storage: Option<&str>) -> (Recorded, Recorded) {
    let make = || {
        let options = client_options(session, TIMINGS);
        if let Some(storage) = storage {
            Reflect::set(&options, &"storage".into(), &storage.into()).unwrap();
        }
        recorded(
            clawchat_wasm::js::ClawChatClient::new(options).expect("client"),
            session,
        )
    };
    let (one, two) = (make(), make());
    settle(one.client.connect()).await.expect("connect starts");
    settle(two.client.connect()).await.expect("connect starts");
    wait_until("one leader, both ready", || {
        [&one, &two].iter().filter(|t| role(t) == "leader").count() == 1
            && one.state() == "ready"
            && two.state() == "ready"
    })
    .await;
    if role(&one) == "leader" {
        (one, two)
    } else {
        (two, one)
    }
}

/// A follower's sends go through the leader and settle with the leader's typed outcome:
/// a receipt, or the server's refusal with its kind and code.
pub async fn relayed_sends_settle_with_the_leaders_typed_outcome() {
    let session = session("relay-typed").await;
    let (_leader, follower) = two_tabs(&session, None).await;
    assert_eq!(role(&follower), "follower");
    let bob = connected("relay-typed-b").await;
    let eve = connected("relay-typed-e").await;
    let ours = chat(&follower, "direct", &[&bob]).await;
    let theirs = chat(&bob, "direct", &[&eve]).await;
    let receipt = settle(
        follower
            .client
            .send_text(&ours, "via the leader", JsValue::UNDEFINED),
    )
    .await
    .expect("acked through the leader");
    assert!(get_str(&receipt, "messageId").starts_with("msg-"));
    wait_until("delivered", || bob.texts() == ["via the leader"]).await;
    let err = settle(
        follower
            .client
            .send_text(&theirs, "not mine", JsValue::UNDEFINED),
    )
    .await
    .unwrap_err();
    assert_eq!(get_str(&err, "kind"), "rejected");
    assert_eq!(get_str(&err, "code"), "not_a_member");
    assert_eq!(get_str(&err, "chatId"), theirs);
    assert!(get_str(&err, "messageId").starts_with("msg-"));
}

/// A stored-session row in the shape the client keeps.
fn row(account_key: &str, session: &JsValue, access: &str, refresh: &str) -> JsValue {
    let row = js_sys::Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&row, &k.into(), &v).unwrap();
    set("account_key", account_key.into());
    set("user_id", get(session, "userId"));
    set("access_token", access.into());
    set("refresh_token", refresh.into());
    set("device_id", get(session, "deviceId"));
    set("activated_at", JsValue::from_f64(0.0));
    row.into()
}

/// A JS store whose loads return `rows` in turn (the last one from then on).
fn scripted_store(rows: &[JsValue]) -> JsValue {
    let make = js_sys::Function::new_with_args(
        "rows",
        "let i = 0; const store = {
           cleared: false,
           load: async () => rows[Math.min(i++, rows.length - 1)],
           save: async () => {},
           clear: async () => { store.cleared = true; },
         };
         return store;",
    );
    let array: js_sys::Array = rows.iter().collect();
    make.call1(&JsValue::NULL, &array).unwrap()
}

/// Compare-and-delete: the server refuses the token presented (another tab had spent
/// it), but the row read back under the lock holds a newer pair: it is adopted, the row
/// is not cleared, nobody is logged out.
pub async fn a_refusal_with_a_newer_stored_pair_adopts_it_instead_of_logging_out() {
    let session = session("cad").await;
    let key = unique("cad-key");
    let newer = refresh_directly(&session).await;
    let (access, refresh) = (
        get_str(&session, "accessToken"),
        get_str(&session, "refreshToken"),
    );
    let stale = row(&key, &session, &access, &refresh);
    let fresh = row(
        &key,
        &session,
        &get_str(&newer, "access_token"),
        &get_str(&newer, "refresh_token"),
    );
    let store = scripted_store(&[stale.clone(), stale, fresh]);
    let options = js_sys::Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&options, &k.into(), &v).unwrap();
    set("baseUrl", BASE.into());
    set("accountKey", key.as_str().into());
    set("storage", store.clone());
    set("logLevel", "silent".into());
    set("timings", json(TIMINGS));
    let client = recorded(
        clawchat_wasm::js::ClawChatClient::new(options.into()).expect("client"),
        &session,
    );
    connect(&client).await;
    let before = refresh_calls().await;
    let report = settle(client.client.refresh_now()).await.unwrap();
    assert_eq!(get_str(&report, "outcome"), "adopted", "{report:?}");
    assert_eq!(
        refresh_calls().await - before,
        1.0,
        "the spent token was refused once"
    );
    assert!(client.of("logout").is_empty());
    assert_eq!(
        get(&store, "cleared").as_bool(),
        Some(false),
        "the newer row is kept"
    );
    assert_eq!(
        client.client.access_token(),
        get_str(&newer, "access_token")
    );
    wait_until("ready on the adopted pair", || client.state() == "ready").await;
}

/// Memory storage is shared by the clients of one realm: a follower adopts the leader's
/// rotation and, promoted, refreshes with the new pair (never the spent one).
pub async fn memory_storage_hands_the_rotated_pair_to_the_promoted_follower() {
    let session = session("mem-tabs").await;
    let (leader, follower) = two_tabs(&session, Some("memory")).await;
    let report = settle(leader.client.refresh_now()).await.unwrap();
    assert_eq!(get_str(&report, "outcome"), "success");
    wait_until("the follower adopted the pair", || {
        follower.client.access_token() == leader.client.access_token()
    })
    .await;
    leader.client.disconnect();
    wait_until("the follower leads", || {
        role(&follower) == "leader" && follower.state() == "ready"
    })
    .await;
    let report = settle(follower.client.refresh_now()).await.unwrap();
    assert_eq!(get_str(&report, "outcome"), "success", "{report:?}");
    assert!(follower.of("logout").is_empty());
}

/// Deletes `indexedDB` from the global scope and its prototypes.
pub fn remove_indexed_db() {
    let mut target: JsValue = js_sys::global().into();
    while !target.is_null() && !target.is_undefined() {
        let _ = Reflect::delete_property(&target.clone().into(), &"indexedDB".into());
        target = js_sys::Object::get_prototype_of(&target).into();
    }
    let left = Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap();
    assert!(left.is_undefined(), "indexedDB removed");
}

/// Without IndexedDB the default store is memory, the app is warned, and the rotated
/// pair is kept: a second refresh works.
pub async fn without_indexeddb_the_default_store_is_memory_and_rotations_survive() {
    remove_indexed_db();
    let session = session("no-idb").await;
    let client = client_with(&session, TIMINGS, None);
    connect(&client).await;
    let warnings: Vec<String> = client
        .of("warn")
        .iter()
        .map(|w| get_str(w, "message"))
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("memory")),
        "{warnings:?}"
    );
    for round in 0..2 {
        let report = settle(client.client.refresh_now()).await.unwrap();
        assert_eq!(get_str(&report, "outcome"), "success", "refresh {round}");
    }
    wait_until("ready", || client.state() == "ready").await;
    assert!(client.of("logout").is_empty());
}
