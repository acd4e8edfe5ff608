//! Checks of the browser shell that need no server: the token stores (IndexedDB, memory,
//! an app object), Web Locks, the IndexedDB lease that stands in for them, the
//! BroadcastChannel between tabs, and the error classes at the JS boundary. The same
//! checks run on the main thread (`browser_local.rs`) and in a dedicated Worker
//! (`browser_local_worker.rs`).
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use clawchat_wasm::js::{dev, ClawChatClient, ClawChatError, JsApiError, JsSendError};
use clawchat_wasm::platform::coordination::{LockHold, TabChannel};
use clawchat_wasm::platform::idb::{Idb, LEASES, SESSIONS};
use clawchat_wasm::platform::log::Level;
use clawchat_wasm::platform::token_store::TokenStore;
use clawchat_wasm::protocol::ids;
use clawchat_wasm::store::{StoreError, StoredSession};
use clawchat_wasm::tabs::TabWire;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A key unique to this run, so reruns against a persistent profile never collide.
fn unique(name: &str) -> String {
    let now = js_sys::Date::now() as u64;
    let id = ids::message_id(now, ids::random_u128().expect("Web Crypto"));
    format!("{name}-{}", &id[4..])
}

fn session(account_key: &str) -> StoredSession {
    StoredSession {
        account_key: account_key.to_owned(),
        user_id: "u-1".into(),
        access_token: "access".into(),
        refresh_token: "refresh".into(),
        device_id: "web-1".into(),
        activated_at: 1_700_000_000_000,
        refreshed_at: 0,
    }
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Polls `condition` every 10 ms for up to 5 s.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}

/// Web Crypto ids are unique ULIDs here too.
pub fn ids_come_from_web_crypto() {
    let now = js_sys::Date::now() as u64;
    let a = ids::message_id(now, ids::random_u128().expect("Web Crypto"));
    let b = ids::message_id(now, ids::random_u128().expect("Web Crypto"));
    assert!(ids::is_message_id(&a), "{a}");
    assert_ne!(a, b);
}

/// A session saved through one IndexedDB store is read back by another (as another tab
/// would), only under its own key, and is gone after `clear`.
pub async fn indexeddb_store_round_trips_between_instances() {
    let key = unique("idb");
    let saved = session(&key);
    TokenStore::indexed_db().save(&saved).await.expect("saved");
    let other = TokenStore::indexed_db();
    assert_eq!(other.load(&key).await.expect("loaded"), Some(saved));
    assert_eq!(other.load(&unique("nobody")).await.expect("read"), None);
    other.clear(&key).await.expect("cleared");
    assert_eq!(
        TokenStore::indexed_db().load(&key).await.expect("read"),
        None
    );
}

/// A stored row with a blank token or the wrong shape is a typed error, not a panic.
pub async fn malformed_indexeddb_rows_are_typed_errors() {
    let idb = Idb::open().await.expect("IndexedDB opens");
    let blank = unique("blank");
    let row = serde_json::json!({"account_key": blank, "user_id": "u", "access_token": " ",
        "refresh_token": "", "device_id": "d", "activated_at": 0});
    let row = js_sys::JSON::parse(&row.to_string()).expect("JSON");
    idb.put(SESSIONS, &row).await.expect("written");
    let wrong = unique("wrong");
    let row = js_sys::JSON::parse(&format!(r#"{{"account_key":"{wrong}","user_id":7}}"#));
    idb.put(SESSIONS, &row.unwrap()).await.expect("written");
    let store = TokenStore::indexed_db();
    for key in [blank, wrong] {
        let result = store.load(&key).await;
        assert!(
            matches!(result, Err(StoreError::Malformed(_))),
            "{result:?}"
        );
        store.clear(&key).await.expect("cleared");
    }
}

/// The memory store keeps one session and answers only for its account.
pub async fn memory_store_answers_only_for_its_account() {
    let store = TokenStore::Memory;
    store.save(&session("ann")).await.expect("saved");
    assert_eq!(store.load("bob").await.expect("read"), None);
    assert_eq!(store.load("ann").await.expect("read"), Some(session("ann")));
    store.clear("ann").await.expect("cleared");
    assert_eq!(store.load("ann").await.expect("read"), None);
}

/// An app-supplied store is called with plain rows; a rejecting `save` is an I/O error
/// and an object without the methods is unavailable.
pub async fn app_stores_are_called_and_their_failures_typed() {
    let store = js_sys::Function::new_no_args(
        "const rows = new Map();
         return {
           rows,
           async load(key) { return rows.get(key) ?? null; },
           async save(row) { rows.set(row.account_key, row); },
           async clear(key) { rows.delete(key); },
         };",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let app = TokenStore::Js(store.clone());
    app.save(&session("ann")).await.expect("saved");
    let rows = Reflect::get(&store, &"rows".into()).unwrap();
    assert_eq!(rows.unchecked_ref::<js_sys::Map>().size(), 1);
    assert_eq!(app.load("ann").await.expect("read"), Some(session("ann")));
    assert_eq!(app.load("bob").await.expect("read"), None);

    let failing = js_sys::Function::new_no_args(
        "return { async load() { return null; }, async save() { throw new Error('full'); },
                  async clear() {} };",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let result = TokenStore::Js(failing).save(&session("ann")).await;
    assert!(matches!(result, Err(StoreError::Io(_))), "{result:?}");
    let result = TokenStore::Js(js_sys::Object::new().into())
        .load("ann")
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

/// Two holders of one Web Lock: the second is granted only once the first is dropped.
pub async fn a_held_web_lock_passes_on_when_dropped() {
    let name = unique("lock");
    let granted = Rc::new(RefCell::new(Vec::new()));
    let first = {
        let granted = granted.clone();
        LockHold::request(&name, move || granted.borrow_mut().push("first"))
    }
    .expect("Web Locks");
    wait_until("the first grant", || granted.borrow().len() == 1).await;
    let second = {
        let granted = granted.clone();
        LockHold::request(&name, move || granted.borrow_mut().push("second"))
    }
    .expect("Web Locks");
    sleep(100).await;
    assert_eq!(*granted.borrow(), ["first"], "granted while held");
    drop(first);
    wait_until("the second grant", || granted.borrow().len() == 2).await;
    assert_eq!(*granted.borrow(), ["first", "second"]);
    drop(second);
}

/// The IndexedDB lease is a compare-and-set: a second owner waits until it expires or is
/// released.
pub async fn the_lease_admits_one_owner_until_expiry_or_release() {
    let idb = Idb::open().await.expect("IndexedDB opens");
    let name = unique("lease");
    let now = js_sys::Date::now();
    assert!(idb.try_lease(&name, "a", 1_000.0, now).await.unwrap());
    assert!(!idb.try_lease(&name, "b", 1_000.0, now).await.unwrap());
    assert!(
        idb.try_lease(&name, "a", 1_000.0, now).await.unwrap(),
        "renewal"
    );
    assert!(idb
        .try_lease(&name, "b", 1_000.0, now + 2_000.0)
        .await
        .unwrap());
    idb.release_lease(&name, "a").await.unwrap();
    assert!(
        !idb.try_lease(&name, "c", 1_000.0, now).await.unwrap(),
        "not a's to give"
    );
    idb.release_lease(&name, "b").await.unwrap();
    assert!(idb.try_lease(&name, "c", 1_000.0, now).await.unwrap());
}

/// Lease rows keep the shape of the builds before (`{name, owner, expires_at}`): a lease
/// an older tab wrote holds, and ours reads there.
pub async fn lease_rows_keep_their_shape_across_builds() {
    let idb = Idb::open().await.expect("IndexedDB opens");
    let name = unique("old-lease");
    let now = js_sys::Date::now();
    // As the serde derive wrote it: the time a float.
    let old = format!(
        r#"{{"name":"{name}","owner":"old","expires_at":{}.0}}"#,
        now + 1_000.0
    );
    idb.put(LEASES, &js_sys::JSON::parse(&old).unwrap())
        .await
        .expect("written");
    assert!(!idb.try_lease(&name, "new", 1_000.0, now).await.unwrap());
    assert!(idb
        .try_lease(&name, "new", 1_000.0, now + 1_001.0)
        .await
        .unwrap());
    let row = idb.get(LEASES, &name).await.unwrap().expect("stored");
    let text = js_sys::JSON::stringify(&row).unwrap().as_string().unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"name":"{name}","owner":"new","expires_at":{}}}"#,
            now + 2_001.0
        )
    );
    idb.release_lease(&name, "new").await.unwrap();
}

/// Session rows keep the shape of the builds before: one without `refreshed_at` (before
/// the refresh floor) loads, and ours is the object serde's derive wrote.
pub async fn session_rows_keep_their_shape_across_builds() {
    let idb = Idb::open().await.expect("IndexedDB opens");
    let key = unique("old-session");
    let old = format!(
        r#"{{"account_key":"{key}","user_id":"u1","access_token":"a","refresh_token":"r","device_id":"d1","activated_at":1700000000000}}"#
    );
    idb.put(SESSIONS, &js_sys::JSON::parse(&old).unwrap())
        .await
        .expect("written");
    let store = TokenStore::indexed_db();
    let loaded = store.load(&key).await.expect("read").expect("loaded");
    assert_eq!(
        (
            loaded.device_id.as_str(),
            loaded.activated_at,
            loaded.refreshed_at
        ),
        ("d1", 1_700_000_000_000, 0)
    );
    store.save(&loaded).await.expect("saved");
    let row = idb.get(SESSIONS, &key).await.unwrap().expect("stored");
    let text = js_sys::JSON::stringify(&row).unwrap().as_string().unwrap();
    assert_eq!(text, old.replace("}", r#","refreshed_at":0}"#));
    store.clear(&key).await.expect("cleared");
}

/// The `logLevel` names read as serde read them.
pub fn log_levels_read_by_their_names() {
    for level in Level::ALL {
        let text = format!("\"{}\"", level.as_str());
        assert_eq!(clawchat_wasm::json::from_str::<Level>(&text), Ok(level));
    }
    assert!(clawchat_wasm::json::from_str::<Level>(r#""Warn""#).is_err());
    assert!(clawchat_wasm::json::from_str::<Level>("1").is_err());
}

/// A tab message reaches the other members of the channel, not the sender; what does not
/// parse is ignored.
pub async fn tab_messages_reach_the_other_tabs_only() {
    let name = unique("channel");
    let heard = |log: &Rc<RefCell<Vec<TabWire>>>| {
        let log = log.clone();
        move |m: TabWire| log.borrow_mut().push(m)
    };
    let (a_log, b_log) = (Rc::default(), Rc::default());
    let a = TabChannel::join(&name, heard(&a_log)).expect("BroadcastChannel");
    let b = TabChannel::join(&name, heard(&b_log)).expect("BroadcastChannel");
    let raw = web_sys::BroadcastChannel::new(&name).unwrap();
    raw.post_message(&JsValue::from_str("not a tab message"))
        .unwrap();
    let hello = TabWire::Hello { tab: "a".into() };
    let bye = TabWire::Bye { tab: "b".into() };
    a.post(&hello);
    b.post(&bye);
    wait_until("both heard", || {
        !a_log.borrow().is_empty() && !b_log.borrow().is_empty()
    })
    .await;
    sleep(50).await;
    assert_eq!(*b_log.borrow(), [hello]);
    assert_eq!(*a_log.borrow(), [bye]);
    raw.close();
}

fn options(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn kind(err: &JsValue) -> Option<String> {
    Reflect::get(err, &"kind".into()).ok()?.as_string()
}

/// Invalid options throw a `ClawChatError` (an `Error`) with `kind` "validation".
pub fn invalid_options_throw_clawchat_errors() {
    for json in [
        r#"{"baseUrl":"ftp://host","accountKey":"a"}"#,
        r#"{"baseUrl":"http://h","accountKey":"a","storage":"disk"}"#,
        r#"{"baseUrl":"http://h","websocketUrl":"http://h/ws","accountKey":"a"}"#,
        r#"{"baseUrl":"http://h"}"#,
    ] {
        let Err(err) = ClawChatClient::new(options(json)) else {
            panic!("accepted {json}")
        };
        assert!(err.has_type::<ClawChatError>(), "{json}");
        assert!(err.has_type::<js_sys::Error>(), "{json}");
        assert_eq!(kind(&err).as_deref(), Some("validation"), "{json}");
    }
    // Numbers JSON cannot hold are refused, not read as `null` (a silent default).
    for (key, bad) in [("cacheSize", f64::INFINITY), ("cacheSize", f64::NAN)] {
        let with_bad = options(r#"{"baseUrl":"http://h","accountKey":"a"}"#);
        Reflect::set(&with_bad, &key.into(), &bad.into()).unwrap();
        let Err(err) = ClawChatClient::new(with_bad) else {
            panic!("accepted {key}: {bad}")
        };
        assert_eq!(kind(&err).as_deref(), Some("validation"), "{key}: {bad}");
    }
}

/// `storage` and `transport` are the app's own objects, taken as they are: one that is not
/// JSON (it holds itself) is no invalid option.
pub fn the_apps_objects_in_the_options_need_not_be_json() {
    let with_cycle = options(r#"{"baseUrl":"http://h","accountKey":"a"}"#);
    let storage = js_sys::Object::new();
    Reflect::set(&storage, &"self".into(), &storage).unwrap();
    Reflect::set(&with_cycle, &"storage".into(), &storage).unwrap();
    if let Err(err) = ClawChatClient::new(with_cycle) {
        panic!("refused: {}", message(&err));
    }
}

fn message(err: &JsValue) -> String {
    err.unchecked_ref::<js_sys::Error>().message().into()
}

/// A misspelled option key (at any level) fails fast naming the key; a wrong value is
/// never repeated in the error.
pub fn unknown_option_keys_are_named_and_values_never_echoed() {
    for (json, key) in [
        (
            r#"{"baseUrl":"http://h","accountKey":"a","storag":"memory"}"#,
            "storag",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","timings":{"ackTimeoutMS":1}}"#,
            "timings.ackTimeoutMS",
        ),
        (
            r#"{"baseUrl":"http://h","session":{"userId":"u","accessToken":"t","acessToken":"x"}}"#,
            "session.acessToken",
        ),
    ] {
        let Err(err) = ClawChatClient::new(options(json)) else {
            panic!("accepted {json}")
        };
        assert!(err.has_type::<ClawChatError>(), "{json}");
        assert_eq!(kind(&err).as_deref(), Some("validation"), "{json}");
        assert!(
            message(&err).contains(&format!("`{key}`")),
            "{}",
            message(&err)
        );
    }
    for json in [
        r#"{"baseUrl":"secret-base","accountKey":"a"}"#,
        r#"{"baseUrl":"http://h","accountKey":"a","storage":"secret-store"}"#,
        r#"{"baseUrl":"http://h","session":{"userId":"u","accessToken":["secret-token"]}}"#,
        r#"{"baseUrl":"http://h","accountKey":"a","logLevel":"secret-level"}"#,
        r#"{"baseUrl":"http://h","accountKey":"a","secret-key-with spaces":1}"#,
    ] {
        let Err(err) = ClawChatClient::new(options(json)) else {
            panic!("accepted {json}")
        };
        assert_eq!(kind(&err).as_deref(), Some("validation"), "{json}");
        assert!(!message(&err).contains("secret"), "{}", message(&err));
    }
    // What `dev.signIn` / `activate` resolve with is a valid session as it is.
    let signed_in = r#"{"baseUrl":"http://h","storage":"memory","session":{"userId":"u",
        "nickname":"ann","deviceId":"d","accessToken":"t","refreshToken":"r",
        "websocketUrl":"ws://h/ws","activatedAt":1}}"#;
    ClawChatClient::new(options(signed_in)).expect("a signed-in session is accepted");
}

/// A value of the wrong type is refused naming its option (its path) and what it must
/// be, never quoting it.
pub fn wrong_option_types_name_the_option_and_what_it_must_be() {
    for (json, says) in [
        (
            r#"{"baseUrl":"http://h","accountKey":"a","timings":{"ackTimeoutMs":"secret"}}"#,
            "invalid options: `timings.ackTimeoutMs` must be a number",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","timings":{"backoffCapMs":-1}}"#,
            "invalid options: `timings.backoffCapMs` must be a whole number in range",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","timings":{"deadAfterMs":1.5}}"#,
            "invalid options: `timings.deadAfterMs` must be a whole number in range",
        ),
        (
            r#"{"baseUrl":["secret"],"accountKey":"a"}"#,
            "invalid options: `baseUrl` must be a string",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","cacheSize":"secret"}"#,
            "invalid options: `cacheSize` must be a number",
        ),
        (
            r#"{"baseUrl":"http://h","session":{"userId":"u","accessToken":{"t":"secret"}}}"#,
            "invalid options: `session.accessToken` must be a string",
        ),
        (
            r#"{"baseUrl":"http://h","session":{"userId":"u"}}"#,
            "invalid options: missing field `session.accessToken`",
        ),
        (
            r#"{"accountKey":"a"}"#,
            "invalid options: missing field `baseUrl`",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","logLevel":"secret"}"#,
            "invalid options: `logLevel` must be one of `debug`, `info`, `warn`, `error`, `silent`",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","logLevel":5}"#,
            "invalid options: `logLevel` must be a string",
        ),
        (
            r#"{"baseUrl":"http://h","accountKey":"a","timings":"secret"}"#,
            "invalid options: `timings` must be an object",
        ),
    ] {
        let Err(err) = ClawChatClient::new(options(json)) else {
            panic!("accepted {json}")
        };
        assert_eq!(kind(&err).as_deref(), Some("validation"), "{json}");
        assert_eq!(message(&err), says, "{json}");
    }
    // `null` is the default, for `timings` as for any optional option.
    ClawChatClient::new(options(
        r#"{"baseUrl":"http://h","accountKey":"a","storage":"memory","timings":null,
            "logLevel":null,"cacheSize":null,"session":null,"deviceId":null}"#,
    ))
    .expect("nulls are defaults");
    // Every option and timing at once (each key is read, none refused).
    ClawChatClient::new(options(
        r#"{"baseUrl":"http://h","websocketUrl":"ws://h/ws","deviceId":"d","accountKey":"a",
            "logLevel":"debug","storage":"memory","cacheSize":10,"timings":{
            "handshakeTimeoutMs":1,"ackTimeoutMs":2,"pingIntervalMs":3,"deadAfterMs":4,
            "streamStallMs":5,"maxQueueAgeMs":6,"backoffInitialMs":7,"backoffCapMs":8,
            "refreshFloorMs":9}}"#,
    ))
    .expect("every option");
}

/// `on` refuses unknown events and handlers that are not functions; its unsubscribe can
/// be called twice, and an unsubscribed handler hears nothing more.
pub async fn on_checks_its_arguments_and_unsubscribes_idempotently() {
    let client = ClawChatClient::new(options(
        r#"{"baseUrl":"http://127.0.0.1:9","accountKey":"a","storage":"memory",
            "logLevel":"silent","session":{"userId":"u","accessToken":"t"}}"#,
    ))
    .expect("client");
    let noop = js_sys::Function::new_no_args("");
    let err = client
        .on("stat", noop.clone().into())
        .expect_err("unknown event");
    assert_eq!(kind(&err).as_deref(), Some("validation"));
    for handler in [
        JsValue::from_str("secret-handler"),
        JsValue::NULL,
        js_sys::Object::new().into(),
    ] {
        let err = client.on("state", handler).expect_err("not a function");
        assert_eq!(kind(&err).as_deref(), Some("validation"));
        assert!(!message(&err).contains("secret"), "{}", message(&err));
    }
    let heard = js_sys::Array::new();
    let push = |tag: &str| {
        js_sys::Function::new_with_args("s", &format!("this.push('{tag}')"))
            .bind0(&heard)
            .into()
    };
    let off = client.on("state", push("gone")).expect("registered");
    client.on("state", push("kept")).expect("registered");
    let off: js_sys::Function = off.dyn_into().expect("a function");
    off.call0(&JsValue::NULL).expect("first call");
    off.call0(&JsValue::NULL).expect("second call does nothing");
    JsFuture::from(client.connect()).await.expect("connecting");
    wait_until("a state event", || heard.length() > 0).await;
    client.disconnect();
    assert!(heard
        .iter()
        .all(|t| t.as_string().as_deref() == Some("kept")));
}

/// Send options are optional; a misspelled one rejects (kind `validation`, the key named)
/// without sending.
pub async fn send_options_are_optional_and_checked() {
    let client = ClawChatClient::new(options(
        r#"{"baseUrl":"http://127.0.0.1:9","accountKey":"a","storage":"memory",
            "logLevel":"silent","session":{"userId":"u","accessToken":"t"}}"#,
    ))
    .expect("client");
    let sending = client.send_text(
        "chat-1",
        "hi",
        options(r#"{"replyTo":{"messageId":"m","nickname":"secret"}}"#),
    );
    let err = JsFuture::from(sending).await.expect_err("misspelled key");
    assert_eq!(kind(&err).as_deref(), Some("validation"));
    assert!(
        message(&err).contains("`replyTo.nickname`"),
        "{}",
        message(&err)
    );
    assert!(!message(&err).contains("secret"), "{}", message(&err));
    for (json, says) in [
        (
            r#"{"messageId":["secret"]}"#,
            "invalid send options: `messageId` must be a string",
        ),
        (
            r#"{"replyTo":{"nickName":"secret"}}"#,
            "invalid send options: missing field `replyTo.messageId`",
        ),
        (
            r#"{"replyTo":{"messageId":"m","nickName":5}}"#,
            "invalid send options: `replyTo.nickName` must be a string",
        ),
        (r#""secret""#, "invalid send options: expected an object"),
    ] {
        let err = JsFuture::from(client.send_text("chat-1", "hi", options(json)))
            .await
            .expect_err(json);
        assert_eq!(kind(&err).as_deref(), Some("validation"), "{json}");
        assert_eq!(message(&err), says, "{json}");
    }
    let err = JsFuture::from(client.send_text(
        "chat-1",
        "hi",
        options(r#"{"replyTo":{"messageId":"m","fragments":"secret"}}"#),
    ))
    .await
    .expect_err("fragments not a list");
    assert_eq!(kind(&err).as_deref(), Some("validation"));
    assert!(
        message(&err).starts_with("invalid send options: `replyTo.fragments`"),
        "{}",
        message(&err)
    );
    assert!(!message(&err).contains("secret"), "{}", message(&err));
    let err = JsFuture::from(client.history("chat-1", options(r#"{"before":5}"#)))
        .await
        .expect_err("before not a string");
    assert_eq!(
        message(&err),
        "invalid history options: `before` must be a string"
    );
    assert_eq!(client.pending_sends(), 0);
}

/// A client for no server (port 9 on loopback) with these extra options set.
fn offline_client(extra: &[(&str, JsValue)]) -> Result<ClawChatClient, JsValue> {
    let opts = options(
        r#"{"baseUrl":"http://127.0.0.1:9","accountKey":"a","storage":"memory",
            "logLevel":"silent","session":{"userId":"u","accessToken":"t"}}"#,
    );
    for (key, value) in extra {
        Reflect::set(&opts, &(*key).into(), value).unwrap();
    }
    ClawChatClient::new(opts)
}

/// The `transport` option's class opens the socket (with the WebSocket URL); a value that
/// is not a class is refused up front.
pub async fn the_transport_class_opens_the_socket() {
    let class = js_sys::Function::new_no_args(
        "class Transport {
           constructor(url) { Transport.urls.push(url); }
           send() {}
           close() {}
         }
         Transport.urls = [];
         return Transport;",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let client = offline_client(&[("transport", class.clone())]).expect("client");
    JsFuture::from(client.connect()).await.expect("connecting");
    let urls: js_sys::Array = Reflect::get(&class, &"urls".into()).unwrap().into();
    wait_until("the transport was constructed", || urls.length() > 0).await;
    assert_eq!(
        urls.get(0).as_string().as_deref(),
        Some("ws://127.0.0.1:9/ws")
    );
    client.disconnect();
    let err = offline_client(&[("transport", "ws".into())])
        .err()
        .expect("not a class");
    assert_eq!(kind(&err).as_deref(), Some("validation"));
}

/// With no global `WebSocket` and no transport, `connect()` says so in an `error` event
/// and the client stays `closed` instead of retrying.
pub async fn without_websocket_or_transport_the_client_closes() {
    let global = js_sys::global();
    let saved = Reflect::get(&global, &"WebSocket".into()).unwrap();
    Reflect::delete_property(
        global.unchecked_ref::<js_sys::Object>(),
        &"WebSocket".into(),
    )
    .unwrap();
    let client = offline_client(&[]).expect("client");
    let errors = js_sys::Array::new();
    let push = js_sys::Function::new_with_args("e", "this.push(e)").bind0(&errors);
    client.on("error", push.into()).expect("registered");
    JsFuture::from(client.connect()).await.expect("connecting");
    wait_until("an error event", || errors.length() > 0).await;
    Reflect::set(&global, &"WebSocket".into(), &saved).unwrap();
    let message = Reflect::get(&errors.get(0), &"message".into()).unwrap();
    assert!(
        message.as_string().is_some_and(|m| m.contains("transport")),
        "{message:?}"
    );
    let state = Reflect::get(&client.state(), &"state".into()).unwrap();
    assert_eq!(state.as_string().as_deref(), Some("closed"));
    sleep(300).await;
    assert_eq!(errors.length(), 1, "no retries");
}

/// A REST failure rejects with an `ApiError` (kind, code, status, path) and a failed send
/// with a `SendError` (kind, chatId, ...); both are `ClawChatError`s and `Error`s.
pub async fn rest_and_send_failures_are_instances_of_their_classes() {
    // Port 9 (discard) on loopback: nothing listens, the fetch fails at once.
    let signing_in = dev::sign_in("http://127.0.0.1:9".into(), "ann".into(), None, None);
    let err = JsFuture::from(signing_in).await.expect_err("no server");
    assert!(err.has_type::<JsApiError>());
    assert!(err.has_type::<ClawChatError>());
    assert!(err.has_type::<js_sys::Error>());
    assert!(!err.has_type::<JsSendError>());
    let field = |err: &JsValue, k: &str| Reflect::get(err, &k.into()).unwrap();
    assert_eq!(kind(&err).as_deref(), Some("transport"));
    assert_eq!(
        field(&err, "path").as_string().as_deref(),
        Some("/v1/dev/sign-in")
    );
    assert!(field(&err, "status").is_null());

    let client = ClawChatClient::new(options(
        r#"{"baseUrl":"http://127.0.0.1:9","accountKey":"a","storage":"memory",
            "logLevel":"silent","session":{"userId":"u","accessToken":"t"}}"#,
    ))
    .expect("client");
    let sending = client.send_text("chat-1", "hi", JsValue::UNDEFINED);
    client.disconnect();
    let err = JsFuture::from(sending).await.expect_err("never connected");
    assert!(err.has_type::<JsSendError>());
    assert!(err.has_type::<ClawChatError>());
    assert!(!err.has_type::<JsApiError>());
    assert_eq!(field(&err, "chatId").as_string().as_deref(), Some("chat-1"));
    assert!(kind(&err).is_some_and(|k| !k.is_empty()));
    assert!(field(&err, "messageId")
        .as_string()
        .is_some_and(|id| ids::is_message_id(&id)));
}

/// `JSON.stringify` of an object and its own keys in order.
fn json_and_keys(value: &JsValue) -> (Option<String>, Vec<String>) {
    let json = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string());
    let keys = js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect();
    (json, keys)
}

/// The `message` event built from the message's strings (the inbound fast path) is the
/// object the JSON path builds, key for key: plain and non-ASCII text (UTF-16 lengths),
/// a byte-order mark opening the id, escapes, several fragments, mentions with numbers
/// as sent, media, unknown kinds, a delta, a reply, the extreme times, and a message
/// whose one text fragment is not its text.
pub fn message_events_built_from_strings_equal_their_json() {
    use clawchat_wasm::platform::json::write_js_camel;
    use clawchat_wasm::platform::message_event::message_js;
    use clawchat_wasm::protocol::{decode, ChatType, Fragment};
    use clawchat_wasm::session::inbound::InboundFilter;
    use clawchat_wasm::session::{Delivery, InboundMessage, Origin};
    let bodies = [
        r#"{"fragments":[{"kind":"text","text":"see you at lunch"}]}"#,
        r#"{"fragments":[{"kind":"text","text":"café 🙂 ☕ \"quoted\"\n\ttab \u0001 \u2028 end"}]}"#,
        r#"{"fragments":[{"kind":"text","text":""}]}"#,
        r#"{"fragments":[]}"#,
        r#"{"fragments":[{"kind":"text","text":"a"},{"kind":"text","text":"b"}]}"#,
        r#"{"fragments":[{"kind":"text","text":"grows","delta":"s"}]}"#,
        r#"{"fragments":[{"kind":"mention","user_id":"usr_me","display":"@Me"},{"kind":"text","text":" hi"}]}"#,
        r#"{"fragments":[{"kind":"image","url":"/media/m1","name":"p.jpg","mime":"image/jpeg","size":2000,"width":1280,"height":960}]}"#,
        r#"{"fragments":[{"kind":"poll","question":"lunch?","votes":[1.50,1E2,-0]}]}"#,
    ];
    let contexts = [
        r#"{"mentions":[],"reply":null}"#,
        r#"{"mentions":["usr_me",{"user_id":"all","rank":1.50,"weight":1E2}],"reply":null}"#,
        r#"{"mentions":[],"reply":{"reply_to_msg_id":"msg-0","reply_preview":{"id":"msg-0","nick_name":"Tomás 🙂","fragments":[{"kind":"text","text":"earlier"}]}}}"#,
    ];
    let times = [
        1_780_000_000_000_i64,
        9_007_199_254_740_991,
        -9_007_199_254_740_991,
    ];
    let mut filter = InboundFilter::new("usr_me", 60_000);
    let mut messages = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        for (j, context) in contexts.iter().enumerate() {
            let frame = format!(
                r#"{{"version":"2","event":"message.send","trace_id":"t","emitted_at":{},"chat_id":"cht_1","chat_type":"{}","sender":{{"id":"usr_2","type":"direct","nick_name":"Zoë 🙂"}},"payload":{{"message_id":"\ufeffmsg-{i}-{j}","message_mode":"normal","message":{{"body":{body},"context":{context}}}}}}}"#,
                times[(i + j) % times.len()],
                if j == 1 { "group" } else { "direct" },
            );
            let decoded = decode(&frame).expect("a valid frame");
            let Ok(Delivery::Message(message)) = filter.accept(decoded, 0) else {
                panic!("frame {i}/{j} is not delivered as a message");
            };
            messages.push(message);
        }
    }
    let mut other_text = messages[0].clone();
    other_text.text = "not the fragment's".into();
    messages.push(other_text);
    messages.push(InboundMessage {
        message_id: String::new(),
        origin: Origin {
            chat_id: String::new(),
            chat_type: ChatType::Group,
            sender_id: String::new(),
            sender_name: String::new(),
        },
        fragments: vec![Fragment::text("")],
        text: String::new(),
        mentions: Vec::new(),
        mentions_me: true,
        mentions_all: false,
        reply: None,
        sent_at: 0,
    });
    for (n, message) in messages.iter().enumerate() {
        let built = json_and_keys(&message_js(message));
        assert_eq!(
            built,
            json_and_keys(&write_js_camel(message)),
            "message {n}"
        );
        assert!(built.0.is_some(), "message {n} is an object");
    }
    assert_eq!(messages.len(), bodies.len() * contexts.len() + 2);
}

/// Declares one `#[wasm_bindgen_test]` per check above in the calling suite (which picks
/// the context with `wasm_bindgen_test_configure!`).
macro_rules! local_checks {
    (sync: $($sync:ident),*; async: $($async:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            fn $sync() {
                local::$sync();
            }
        )*
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $async() {
                local::$async().await;
            }
        )*
    };
}
pub(crate) use local_checks;

/// Every check, for the suites.
macro_rules! all_local_checks {
    () => {
        local::local_checks!(
            sync: ids_come_from_web_crypto, invalid_options_throw_clawchat_errors,
            unknown_option_keys_are_named_and_values_never_echoed,
            the_apps_objects_in_the_options_need_not_be_json, log_levels_read_by_their_names,
            wrong_option_types_name_the_option_and_what_it_must_be,
            message_events_built_from_strings_equal_their_json;
            async: indexeddb_store_round_trips_between_instances,
            on_checks_its_arguments_and_unsubscribes_idempotently,
            send_options_are_optional_and_checked,
            the_transport_class_opens_the_socket,
            without_websocket_or_transport_the_client_closes,
            malformed_indexeddb_rows_are_typed_errors,
            memory_store_answers_only_for_its_account,
            app_stores_are_called_and_their_failures_typed,
            a_held_web_lock_passes_on_when_dropped,
            the_lease_admits_one_owner_until_expiry_or_release,
            lease_rows_keep_their_shape_across_builds,
            session_rows_keep_their_shape_across_builds,
            tab_messages_reach_the_other_tabs_only,
            rest_and_send_failures_are_instances_of_their_classes
        );
    };
}
pub(crate) use all_local_checks;
