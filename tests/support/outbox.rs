//! The durable outbox, shared by a main-thread suite (tests/browser_outbox.rs) and its
//! Worker twin (tests/browser_outbox_worker.rs): a send made while the server is out of
//! reach is stored before anything is written, and a new client of the account (a
//! reloaded page) sends it with its original id.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::*;

const TIMINGS: &str = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":0}"#;

/// The raw rows of the SDK's IndexedDB outbox store.
async fn stored_rows() -> Vec<JsValue> {
    idb_rows("outbox").await
}

fn client_for(session: &JsValue, storage: &str, websocket_url: Option<&str>) -> Recorded {
    let options = client_options(session, TIMINGS);
    Reflect::set(&options, &"storage".into(), &storage.into()).unwrap();
    if let Some(url) = websocket_url {
        Reflect::set(&options, &"websocketUrl".into(), &url.into()).unwrap();
    }
    recorded(
        clawchat_wasm::js::ClawChatClient::new(options).expect("client"),
        session,
    )
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A send made while the socket cannot open is stored (in IndexedDB, or this realm's
/// memory) while its promise is pending; the client is freed without `disconnect()` (a
/// reload): its send rejects as `freed`, and a `pending()` made just before still lists
/// it; a new client of the account sends it with the same id, emits `sent`, and the peer
/// gets it exactly once.
pub async fn a_send_made_offline_is_sent_once_by_the_next_client(storage: &str) {
    let session = session(&format!("outbox-{storage}")).await;
    let account = get_str(&session, "userId");
    let bob = connected(&format!("outbox-{storage}-bob")).await;
    // The hub answers this path with 404: the socket never opens, REST works.
    let unreachable = format!("{}/nowhere", BASE.replacen("http", "ws", 1));
    let offline = client_for(&session, storage, Some(&unreachable));
    settle(offline.client.connect())
        .await
        .expect("connect starts");
    let chat_id = chat(&offline, "direct", &[&bob]).await;

    let settled = Rc::new(Cell::new(false));
    let promise = offline
        .client
        .send_text(&chat_id, "kept across a reload", JsValue::UNDEFINED);
    let flag = settled.clone();
    let on_settle = Closure::<dyn FnMut(JsValue)>::new(move |_| flag.set(true));
    let _ = promise.then2(&on_settle, &on_settle);
    on_settle.forget();

    let pending = Array::from(&settle(offline.client.pending()).await.unwrap()).to_vec();
    assert_eq!(pending.len(), 1, "listed while queued");
    let message_id = get_str(&pending[0], "messageId");
    assert!(message_id.starts_with("msg-"));
    assert_eq!(
        (
            get_str(&pending[0], "chatId"),
            get_str(&pending[0], "text"),
            get_str(&pending[0], "status")
        ),
        (
            chat_id.clone(),
            "kept across a reload".into(),
            "queued".into()
        )
    );
    if storage == "indexeddb" {
        let rows = stored_rows().await;
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| get_str(r, "accountKey") == account)
            .collect();
        assert_eq!(mine.len(), 1, "on disk");
        assert_eq!(get_str(mine[0], "messageId"), message_id);
    }
    sleep(300).await;
    assert!(!settled.get(), "the send is still pending, not failed");
    assert_eq!(offline.client.pending_sends(), 1);

    // A reload: the page goes away without disconnect() (the client is freed, with a
    // `pending()` call still queued); a new client takes the account.
    let late_pending = offline.client.pending();
    drop(offline);
    let freed = settle(promise)
        .await
        .expect_err("a freed client's send rejects");
    assert_eq!(
        (get_str(&freed, "kind"), get_str(&freed, "messageId")),
        ("freed".into(), message_id.clone()),
        "settled, not left hanging: it may still go"
    );
    assert_eq!(get_str(&freed, "chatId"), chat_id);
    let listed = Array::from(&settle(late_pending).await.expect("answered from the store"));
    assert_eq!(listed.length(), 1, "still queued");
    assert_eq!(get_str(&listed.get(0), "messageId"), message_id);
    let reloaded_at = now_ms();
    let online = client_for(&session, storage, None);
    let sent = record(&online.client, "sent");
    settle(online.client.connect())
        .await
        .expect("connect starts");
    wait_until("the stored send is acked", || !sent.borrow().is_empty()).await;
    let reload_to_sent = now_ms() - reloaded_at;
    assert_eq!(get_str(&sent.borrow()[0], "messageId"), message_id);
    assert!(get(&sent.borrow()[0], "acceptedAt").as_f64().unwrap() > 0.0);
    web_sys::console::log_1(
        &format!("outbox ({storage}): reload to sent {reload_to_sent} ms").into(),
    );

    wait_until("bob got it", || bob.texts() == ["kept across a reload"]).await;
    let got = bob.of("message");
    assert_eq!(get_str(&got[0], "messageId"), message_id, "the original id");
    wait_until("the row is gone", || online.client.pending_sends() == 0).await;
    let pending = Array::from(&settle(online.client.pending()).await.unwrap()).to_vec();
    assert!(pending.is_empty(), "nothing queued after the ack");
    if storage == "indexeddb" {
        let rows = stored_rows().await;
        assert!(rows.iter().all(|r| get_str(r, "accountKey") != account));
    }
    sleep(1_000).await;
    assert_eq!(bob.texts().len(), 1, "delivered exactly once");
    assert_eq!(sent.borrow().len(), 1);
    online.client.disconnect();
    bob.client.disconnect();
}

/// Counts the read-write transactions this realm opens on IndexedDB store `store` from
/// now on (the SDK's own, through a wrapper of `IDBDatabase.prototype.transaction`).
fn count_writes(store: &str) -> impl Fn() -> u32 {
    let install = Function::new_with_args(
        "store",
        r#"const key = "__writes_" + store;
        if (!(key in globalThis)) {
            globalThis[key] = 0;
            const open = IDBDatabase.prototype.transaction;
            IDBDatabase.prototype.transaction = function (names, mode, options) {
                if (mode === "readwrite" && [].concat(names).includes(store)) globalThis[key]++;
                return open.call(this, names, mode, options);
            };
        }
        return key;"#,
    );
    let key = install.call1(&JsValue::NULL, &store.into()).unwrap();
    move || {
        Reflect::get(&js_sys::global(), &key)
            .unwrap()
            .as_f64()
            .unwrap() as u32
    }
}

/// Sends made one after the other, each as soon as the last one is acked (a bot's loop),
/// with the outbox in IndexedDB: each row is stored before its send is written, and the
/// removal of the row acked just before rides in the same transaction. So n sends take
/// n + 1 outbox transactions (the last removal alone), not 2n; every send is acked once
/// and nothing stays stored.
pub async fn sends_made_on_each_ack_share_the_outbox_transactions() {
    const SENDS: u32 = 10;
    let outbox_writes = count_writes("outbox");
    let session = session("outbox-loop").await;
    let account = get_str(&session, "userId");
    let bob = connected("outbox-loop-bob").await;
    let me = client_for(&session, "indexeddb", None);
    let sent = record(&me.client, "sent");
    settle(me.client.connect()).await.expect("connect starts");
    let chat_id = chat(&me, "direct", &[&bob]).await;
    let send = |text: String| settle(me.client.send_text(&chat_id, &text, JsValue::UNDEFINED));
    send("warm-up".into()).await.expect("acked");

    let before = outbox_writes();
    for i in 0..SENDS {
        send(format!("loop {i}")).await.expect("acked");
    }
    // A read takes the last removal along.
    let pending = Array::from(&settle(me.client.pending()).await.unwrap()).to_vec();
    let writes = outbox_writes() - before;
    assert!(pending.is_empty(), "nothing queued after the acks");
    assert!(
        writes <= SENDS + 1,
        "{writes} outbox transactions for {SENDS} sends made on each ack"
    );
    let rows = stored_rows().await;
    assert!(rows.iter().all(|r| get_str(r, "accountKey") != account));
    wait_until("bob got every send", || {
        bob.texts().len() == SENDS as usize + 1
    })
    .await;
    assert_eq!(sent.borrow().len(), SENDS as usize + 1, "each acked once");
    me.client.disconnect();
    bob.client.disconnect();
}

/// A client freed (dropped without `disconnect()`) as soon as its send is acked: the
/// removal of the send's row and the cached copy of the message, both waiting for
/// company, are still written, so no acked send is left stored to be sent again by the
/// next client, and the message is in the cache.
pub async fn a_client_freed_on_an_ack_leaves_no_row_behind() {
    let session = session("outbox-freed").await;
    let account = get_str(&session, "userId");
    let bob = connected("outbox-freed-bob").await;
    let me = client_for(&session, "indexeddb", None);
    settle(me.client.connect()).await.expect("connect starts");
    let chat_id = chat(&me, "direct", &[&bob]).await;
    let receipt = settle(
        me.client
            .send_text(&chat_id, "then freed", JsValue::UNDEFINED),
    )
    .await
    .expect("acked");
    let message_id = get_str(&receipt, "messageId");
    drop(me);
    let rows = read_until(stored_rows, |rows| {
        rows.iter().all(|r| get_str(r, "accountKey") != account)
    })
    .await;
    assert!(
        rows.iter().all(|r| get_str(r, "accountKey") != account),
        "the acked send's row is removed"
    );
    let cached = read_until(idb_cached_messages, |rows| {
        rows.iter().any(|r| get_str(r, "messageId") == message_id)
    })
    .await;
    assert!(
        cached.iter().any(|r| get_str(r, "messageId") == message_id),
        "the acked send is cached"
    );
    bob.client.disconnect();
}

fn role(tab: &Recorded) -> String {
    tab.client.role().as_string().unwrap_or_default()
}

async fn listed(client: &Recorded) -> Vec<JsValue> {
    Array::from(&settle(client.client.pending()).await.unwrap()).to_vec()
}

/// A follower's send reaches the leader, which stores it but cannot write it; the leader
/// tab closes (no `disconnect()`), the follower leads and sends it once, same id, and
/// its own promise resolves.
pub async fn a_followers_send_stored_by_a_closed_leader_goes_out_from_the_next_leader() {
    let session = session("outbox-handover").await;
    let bob = connected("outbox-handover-bob").await;
    let unreachable = format!("{}/nowhere", BASE.replacen("http", "ws", 1));
    let leader = client_for(&session, "indexeddb", Some(&unreachable));
    settle(leader.client.connect())
        .await
        .expect("connect starts");
    wait_until("it leads", || role(&leader) == "leader").await;
    let follower = client_for(&session, "indexeddb", None);
    settle(follower.client.connect())
        .await
        .expect("connect starts");
    wait_until("it follows", || role(&follower) == "follower").await;
    let chat_id = chat(&follower, "direct", &[&bob]).await;
    let sent = record(&follower.client, "sent");

    let promise =
        follower
            .client
            .send_text(&chat_id, "relayed then handed over", JsValue::UNDEFINED);
    let mut stored = Vec::new();
    for _ in 0..250 {
        stored = listed(&follower).await;
        if !stored.is_empty() {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(stored.len(), 1, "the leader stored the relayed send");
    let message_id = get_str(&stored[0], "messageId");
    assert_eq!(leader.client.pending_sends(), 1);

    drop(leader);
    let receipt = settle(promise).await.expect("acked by the next leader");
    assert_eq!(get_str(&receipt, "messageId"), message_id);
    assert_eq!(role(&follower), "leader");
    wait_until("sent emitted", || !sent.borrow().is_empty()).await;
    wait_until("bob got it", || bob.texts() == ["relayed then handed over"]).await;
    assert_eq!(get_str(&bob.of("message")[0], "messageId"), message_id);
    wait_until("the queue is empty", || {
        follower.client.pending_sends() == 0
    })
    .await;
    assert!(listed(&follower).await.is_empty(), "the row is gone");
    sleep(1_000).await;
    assert_eq!(bob.texts().len(), 1, "delivered exactly once");
    assert_eq!(sent.borrow().len(), 1);
    follower.client.disconnect();
    bob.client.disconnect();
}

/// A stored row that does not parse (here: a bad message id and frame) is dropped with a
/// `warn` event when the client leads; the client goes on.
pub async fn a_corrupt_stored_row_is_dropped_with_a_warning() {
    let session = session("outbox-corrupt").await;
    let account = get_str(&session, "userId");
    let client = client_for(&session, "indexeddb", None);
    // Opens (and upgrades) the SDK's database before the row is planted.
    assert!(listed(&client).await.is_empty());
    let row = serde_json::json!([{"accountKey": account, "messageId": "msg-bad", "chatId": "c",
        "traceId": "t", "frame": "{", "createdAt": 1, "status": "queued"}]);
    idb_put("outbox", &row.to_string()).await;
    assert_eq!(
        stored_rows()
            .await
            .iter()
            .filter(|r| get_str(r, "accountKey") == account)
            .count(),
        1
    );

    connect(&client).await;
    wait_until("a warning", || {
        client
            .of("warn")
            .iter()
            .any(|w| get_str(w, "message").contains("message id is not msg-<ULID>: row dropped"))
    })
    .await;
    for _ in 0..250 {
        if stored_rows()
            .await
            .iter()
            .all(|r| get_str(r, "accountKey") != account)
        {
            break;
        }
        sleep(20).await;
    }
    assert!(
        stored_rows()
            .await
            .iter()
            .all(|r| get_str(r, "accountKey") != account),
        "dropped"
    );
    assert_eq!(client.state(), "ready");
    client.client.disconnect();
}

/// A page with a newer schema is not blocked by this client's open database: it closes
/// for the upgrade, and opens again on its next use.
pub async fn a_newer_schema_elsewhere_is_not_blocked_and_the_client_reopens() {
    let client = client_for(&session("outbox-upgrade").await, "indexeddb", None);
    assert!(listed(&client).await.is_empty(), "the database is open");
    let upgrade = Function::new_no_args(
        r#"return new Promise((ok, fail) => {
            const open = indexedDB.open("clawchat", 1000);
            open.onblocked = () => fail(new Error("blocked by an open connection"));
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
                open.result.close();
                const gone = indexedDB.deleteDatabase("clawchat");
                gone.onsuccess = () => ok(open.result.version);
                gone.onerror = () => fail(gone.error);
            };
        });"#,
    );
    let upgraded: Promise = upgrade.call0(&JsValue::NULL).unwrap().into();
    let version = settle(upgraded).await.expect("not blocked");
    assert_eq!(version.as_f64(), Some(1000.0));
    assert!(listed(&client).await.is_empty(), "opened again");
}
