//! Helpers for the browser suites: the emulator's URLs (from the test command), sign-in,
//! clients with event recorders, admin calls and polling waits.
#![allow(dead_code)]

pub mod outbox;
pub mod scenarios;

use std::cell::RefCell;
use std::rc::Rc;

use clawchat_wasm::js::{dev, ClawChatClient};
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The emulator's public URL, set by scripts/test.sh.
pub const BASE: &str = match option_env!("CLAWCHAT_EMULATOR_URL") {
    Some(url) => url,
    None => "http://127.0.0.1:18787",
};
/// The emulator's admin URL, set by scripts/test.sh.
pub const ADMIN: &str = match option_env!("CLAWCHAT_ADMIN_URL") {
    Some(url) => url,
    None => "http://127.0.0.1:18788",
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &JsValue) -> js_sys::Promise;
}

/// A name unique to this run, so suites sharing one emulator never collide.
pub fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &clawchat_wasm::js::mint_message_id().unwrap()[4..]
    )
}

pub fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON parses")
}

pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn get_str(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

/// POSTs JSON to the admin API.
pub async fn admin(path: &str, body: &str) {
    let init = json(&format!(
        r#"{{"method":"POST","headers":{{"content-type":"application/json"}},"body":{}}}"#,
        serde_json::to_string(body).unwrap()
    ));
    let response = JsFuture::from(global_fetch(&format!("{ADMIN}{path}"), &init))
        .await
        .expect("admin reachable");
    let ok = get(&response, "ok").as_bool().unwrap_or(false);
    assert!(ok, "admin {path} failed");
}

/// A downlink frame from `sender` in `chat` (`{n}` is numbered by `inject`).
pub fn downlink(event: &str, chat: &str, sender: &str, payload: &str) -> String {
    format!(
        r#"{{"version":"2","event":"{event}","trace_id":"t-{{n}}","emitted_at":1,"chat_id":"{chat}","chat_type":"direct","sender":{{"id":"{sender}","type":"direct","nick_name":"mallory"}},"payload":{payload}}}"#
    )
}

/// Writes `frame` `repeat` times to `user_id`'s sockets through the emulator's admin
/// `inject`, as a hostile server would (`{n}` numbered; padded to `pad_to_bytes`).
pub async fn inject(user_id: &str, frame: &str, repeat: u32, pad_to_bytes: usize) {
    let body = serde_json::json!({
        "user_id": user_id, "frame": frame, "repeat": repeat, "pad_to_bytes": pad_to_bytes,
    });
    admin("/admin/inject", &body.to_string()).await;
}

/// Every row of the SDK's IndexedDB store `store` (database "clawchat"), read with the
/// browser's own API.
pub async fn idb_rows(store: &str) -> Vec<JsValue> {
    let read = Function::new_with_args(
        "store",
        r#"return new Promise((ok, fail) => {
            const open = indexedDB.open("clawchat");
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
                const db = open.result;
                const all = db.transaction(store).objectStore(store).getAll();
                all.onerror = () => { db.close(); fail(all.error); };
                all.onsuccess = () => { db.close(); ok(all.result); };
            };
        });"#,
    );
    let promise: js_sys::Promise = read.call1(&JsValue::NULL, &store.into()).unwrap().into();
    js_sys::Array::from(&settle(promise).await.expect("IndexedDB read")).to_vec()
}

/// The messages of the SDK's IndexedDB message cache, one object each (`accountKey`,
/// `messageId`, `sentAt`, `frame`), whether a page holds it or a row of its own (builds
/// before pages).
pub async fn idb_cached_messages() -> Vec<JsValue> {
    let mut messages = Vec::new();
    for row in idb_rows("messages").await {
        if get(&row, "messageId").is_string() {
            messages.push(row);
            continue;
        }
        let account = get(&row, "accountKey");
        let (ids, times, frames) = (get(&row, "ids"), get(&row, "times"), get(&row, "frames"));
        for i in 0..js_sys::Array::from(&ids).length() {
            let message = js_sys::Object::new();
            js_sys::Reflect::set(&message, &"accountKey".into(), &account).unwrap();
            for (key, list) in [("messageId", &ids), ("sentAt", &times), ("frame", &frames)] {
                let value = js_sys::Array::from(list).get(i);
                js_sys::Reflect::set(&message, &key.into(), &value).unwrap();
            }
            messages.push(message.into());
        }
    }
    messages
}

/// Puts `rows` (a JSON array) into the SDK's IndexedDB store `store` in one transaction,
/// with the browser's own API: rows as a corrupting hand or an older build would.
pub async fn idb_put(store: &str, rows: &str) {
    let write = Function::new_with_args(
        "store, rows",
        r#"return new Promise((ok, fail) => {
            const open = indexedDB.open("clawchat");
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
                const db = open.result;
                const tx = db.transaction(store, "readwrite");
                for (const row of JSON.parse(rows)) tx.objectStore(store).put(row);
                tx.oncomplete = () => { db.close(); ok(); };
                tx.onabort = () => { db.close(); fail(tx.error); };
            };
        });"#,
    );
    let written: js_sys::Promise = write
        .call2(&JsValue::NULL, &store.into(), &rows.into())
        .unwrap()
        .into();
    settle(written).await.expect("rows written");
}

/// GET /admin/stats as a JS object.
pub async fn stats() -> JsValue {
    let response = JsFuture::from(global_fetch(
        &format!("{ADMIN}/admin/stats"),
        &JsValue::UNDEFINED,
    ))
    .await
    .unwrap();
    response_json(&response).await
}

/// A signed-in session for a fresh user (tokens valid for 3 h: not yet due).
pub async fn session(name: &str) -> JsValue {
    session_ttl(name, 3 * 3600).await
}

/// A signed-in session whose access token lives `ttl_secs`.
pub async fn session_ttl(name: &str, ttl_secs: u32) -> JsValue {
    JsFuture::from(dev::sign_in(
        BASE.into(),
        unique(name),
        None,
        Some(ttl_secs),
    ))
    .await
    .expect("sign-in")
}

/// POSTs to the emulator's refresh endpoint directly (spending the token); returns the
/// answer's `data` (the new pair).
pub async fn refresh_directly(session: &JsValue) -> JsValue {
    let body = serde_json::json!({"refresh_token": get_str(session, "refreshToken")}).to_string();
    let init = json(&format!(
        r#"{{"method":"POST","headers":{{"content-type":"application/json","x-device-id":{}}},"body":{}}}"#,
        serde_json::to_string(&get_str(session, "deviceId")).unwrap(),
        serde_json::to_string(&body).unwrap()
    ));
    let response = JsFuture::from(global_fetch(&format!("{BASE}/v1/auth/refresh"), &init))
        .await
        .expect("refresh reachable");
    get(&response_json(&response).await, "data")
}

/// The body of a fetch `Response`, parsed as JSON.
async fn response_json(response: &JsValue) -> JsValue {
    let json_promise: js_sys::Promise = Reflect::get(response, &"json".into())
        .unwrap()
        .unchecked_into::<Function>()
        .call0(response)
        .unwrap()
        .unchecked_into();
    JsFuture::from(json_promise).await.unwrap()
}

/// Spends the session's refresh token behind the client's back.
pub async fn spend_refresh_token(session: &JsValue) {
    refresh_directly(session).await;
}

/// The emulator's refresh call count.
pub async fn refresh_calls() -> f64 {
    get(&stats().await, "refresh_calls")
        .as_f64()
        .unwrap_or(-1.0)
}

/// A client plus everything it emitted.
pub struct Recorded {
    pub client: ClawChatClient,
    pub session: JsValue,
    pub events: Rc<RefCell<Vec<(String, JsValue)>>>,
}

impl Recorded {
    pub fn user_id(&self) -> String {
        get_str(&self.session, "userId")
    }

    pub fn of(&self, kind: &str) -> Vec<JsValue> {
        self.events
            .borrow()
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn texts(&self) -> Vec<String> {
        self.of("message")
            .iter()
            .map(|m| get_str(m, "text"))
            .collect()
    }

    pub fn state(&self) -> String {
        get_str(&self.client.state(), "state")
    }
}

/// A client for `session` with fast test timings, recording its events.
pub fn client(session: &JsValue) -> Recorded {
    client_with(
        session,
        r#"{"backoffInitialMs":100,"backoffCapMs":1000,"ackTimeoutMs":8000}"#,
        None,
    )
}

/// The options of a client for `session` with these timings.
pub fn client_options(session: &JsValue, timings: &str) -> JsValue {
    let options = js_sys::Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&options, &k.into(), &v).unwrap();
    set("baseUrl", BASE.into());
    set("session", session.clone());
    set("accountKey", get(session, "userId"));
    set("logLevel", "warn".into());
    set("timings", json(timings));
    options.into()
}

/// A client with these timings and an optional device id override.
pub fn client_with(session: &JsValue, timings: &str, device_id: Option<&str>) -> Recorded {
    let options = client_options(session, timings);
    if let Some(device) = device_id {
        Reflect::set(&options, &"deviceId".into(), &device.into()).unwrap();
    }
    recorded(ClawChatClient::new(options).expect("client"), session)
}

/// Records everything `client` emits.
pub fn recorded(client: ClawChatClient, session: &JsValue) -> Recorded {
    let events = Rc::new(RefCell::new(Vec::new()));
    for kind in [
        "state", "message", "stream", "typing", "error", "tokens", "refresh", "logout", "warn",
    ] {
        let sink = events.clone();
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| {
            sink.borrow_mut().push((kind.to_owned(), v))
        });
        client
            .on(kind, handler.as_ref().clone())
            .expect("a known event");
        handler.forget();
    }
    Recorded {
        client,
        session: session.clone(),
        events,
    }
}

/// Records the payloads of `event` emitted by `client`.
pub fn record(client: &ClawChatClient, event: &str) -> Rc<RefCell<Vec<JsValue>>> {
    let sink = Rc::new(RefCell::new(Vec::new()));
    let into = sink.clone();
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| into.borrow_mut().push(v));
    client
        .on(event, handler.as_ref().clone())
        .expect("a known event");
    handler.forget();
    sink
}

/// A connected client for a fresh user.
pub async fn connected(name: &str) -> Recorded {
    let recorded = client(&session(name).await);
    connect(&recorded).await;
    recorded
}

/// Connects and waits until ready.
pub async fn connect(recorded: &Recorded) {
    settle(recorded.client.connect())
        .await
        .expect("connect starts");
    wait_until("ready", || recorded.state() == "ready").await;
}

pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Polls `condition` every 20 ms for up to 10 s.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        sleep(20).await;
    }
    panic!("timed out waiting for {what}");
}

/// Reads `read` (every 20 ms, for at most 5 s) until `done` holds, and returns the last
/// reading for the caller to assert on: for conditions that need an `await` to observe.
pub async fn read_until<T, F: std::future::Future<Output = T>>(
    mut read: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let mut value = read().await;
    for _ in 0..250 {
        if done(&value) {
            break;
        }
        sleep(20).await;
        value = read().await;
    }
    value
}

/// Creates a chat owned by `owner` with `others`; returns its id.
pub async fn chat(owner: &Recorded, kind: &str, others: &[&Recorded]) -> String {
    let ids = others.iter().map(|o| o.user_id()).collect();
    let chat = JsFuture::from(owner.client.create_chat(kind, ids, Some("test".into())))
        .await
        .expect("chat created");
    get_str(&chat, "id")
}

/// Settles a promise into Ok(value) / Err(error).
pub async fn settle(promise: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}
