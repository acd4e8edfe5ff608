//! The local message cache and `history()` on the main thread, against the emulator:
//! received and sent messages survive a new client of the account (a reload), pages go
//! back with `before`, a fresh store fills from the server's history route and keeps
//! what it got, each chat is trimmed to `cacheSize`, an older build's rows are read with
//! the pages and moved into them, a corrupt row is dropped with a warning, and bad
//! options are refused.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use support::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The raw rows of the SDK's IndexedDB message cache of `account`: pages, and rows of
/// one message (builds before pages).
async fn stored_rows(account: &str) -> Vec<JsValue> {
    idb_rows("messages")
        .await
        .into_iter()
        .filter(|row| get_str(row, "accountKey") == account)
        .collect()
}

/// The messages of the SDK's IndexedDB message cache of `account`, one object each,
/// whether a page holds it or a row of its own.
async fn stored_messages(account: &str) -> Vec<JsValue> {
    idb_cached_messages()
        .await
        .into_iter()
        .filter(|message| get_str(message, "accountKey") == account)
        .collect()
}

/// A client of `session` with this storage and extra options (JSON).
fn client_for(session: &JsValue, storage: &str, extra: &str) -> Recorded {
    let options = client_options(session, r#"{"backoffInitialMs":100,"backoffCapMs":1000}"#);
    Reflect::set(&options, &"storage".into(), &storage.into()).unwrap();
    let extra = json(extra);
    for key in js_sys::Object::keys(extra.unchecked_ref::<js_sys::Object>()).iter() {
        Reflect::set(&options, &key, &get(&extra, &key.as_string().unwrap())).unwrap();
    }
    recorded(
        clawchat_wasm::js::ClawChatClient::new(options).expect("client"),
        session,
    )
}

/// `history(chat_id, options)` as a list.
async fn history(client: &Recorded, chat_id: &str, options: &str) -> Vec<JsValue> {
    let options = if options.is_empty() {
        JsValue::UNDEFINED
    } else {
        json(options)
    };
    let page = settle(client.client.history(chat_id, options))
        .await
        .expect("a page");
    Array::from(&page).to_vec()
}

fn texts(page: &[JsValue]) -> Vec<String> {
    page.iter().map(|m| get_str(m, "text")).collect()
}

async fn send(from: &Recorded, chat_id: &str, text: &str) -> String {
    let receipt = settle(from.client.send_text(chat_id, text, JsValue::UNDEFINED))
        .await
        .expect("acked");
    get_str(&receipt, "messageId")
}

/// Received messages and our own acked send are cached as they come; a new client of
/// the account (a reload), not even connected, pages through them with `before`; past
/// the cache it asks the server, which has nothing older; logging out clears them.
async fn messages_survive_a_new_client(storage: &str) {
    let session = session(&format!("history-{storage}")).await;
    let account = get_str(&session, "userId");
    let ann = client_for(&session, storage, "{}");
    connect(&ann).await;
    let bob = connected(&format!("history-{storage}-bob")).await;
    let chat_id = chat(&bob, "direct", &[&ann]).await;
    for i in 1..=4 {
        send(&bob, &chat_id, &format!("bob {i}")).await;
    }
    wait_until("ann got them", || ann.texts().len() == 4).await;
    let own_id = send(&ann, &chat_id, "ann 5").await;
    let all = ["bob 1", "bob 2", "bob 3", "bob 4", "ann 5"];
    let (ann_ref, chat_ref) = (&ann, chat_id.as_str());
    let cached = read_until(
        move || async move { texts(&history(ann_ref, chat_ref, "").await) },
        |t| *t == all,
    )
    .await;
    assert_eq!(cached, all, "cached in order");
    if storage == "indexeddb" {
        let rows = stored_messages(&account).await;
        assert_eq!(rows.len(), 5, "on disk");
        let text = js_sys::JSON::stringify(&Array::from_iter(rows)).unwrap();
        let token = get_str(&session, "accessToken");
        assert!(
            !String::from(text).contains(&token),
            "no token in the cache"
        );
    }

    // A reload: the page goes away without disconnect() (the client is freed with a
    // history read under way, which is answered all the same); a new client takes the
    // account.
    let late = ann.client.history(&chat_id, JsValue::UNDEFINED);
    drop(ann);
    let late = Array::from(&settle(late).await.expect("answered after the free")).to_vec();
    assert_eq!(texts(&late), all);
    let reloaded = client_for(&session, storage, "{}");
    let newest = history(&reloaded, &chat_id, r#"{"limit":3}"#).await;
    assert_eq!(
        texts(&newest),
        ["bob 3", "bob 4", "ann 5"],
        "newest page, oldest first"
    );
    let ours = &newest[2];
    assert_eq!(get_str(ours, "messageId"), own_id);
    assert_eq!(get_str(ours, "senderId"), account);
    assert_eq!(get_str(&newest[0], "chatId"), chat_id);
    assert_eq!(get_str(&newest[0], "senderId"), bob.user_id());
    assert!(get(&newest[0], "sentAt").as_f64().unwrap() > 0.0);
    let before = get_str(&newest[0], "messageId");
    let older = history(
        &reloaded,
        &chat_id,
        &format!(r#"{{"before":"{before}","limit":3}}"#),
    )
    .await;
    assert_eq!(texts(&older), ["bob 1", "bob 2"]);

    // Nothing older in the cache: the server is asked (with a session) and has none.
    connect(&reloaded).await;
    let first = get_str(&older[0], "messageId");
    let none = history(&reloaded, &chat_id, &format!(r#"{{"before":"{first}"}}"#)).await;
    assert!(none.is_empty(), "the start of the chat");

    // Logging out takes the account's cached messages with it.
    settle(reloaded.client.logout()).await.expect("logged out");
    if storage == "indexeddb" {
        let rows = read_until(|| stored_rows(&account), |r| r.is_empty()).await;
        assert!(rows.is_empty(), "cleared on logout");
    }
    let after = client_for(&session, storage, "{}");
    let err = settle(after.client.history(&chat_id, JsValue::UNDEFINED))
        .await
        .expect_err("nothing cached, no session");
    assert_eq!(get_str(&err, "kind"), "auth", "the cache is empty");
    drop(after);
    bob.client.disconnect();
}

#[wasm_bindgen_test]
async fn received_and_sent_messages_survive_a_new_client_in_indexeddb() {
    messages_survive_a_new_client("indexeddb").await;
}

#[wasm_bindgen_test]
async fn with_memory_storage_the_next_client_of_the_realm_reads_them() {
    messages_survive_a_new_client("memory").await;
}

/// A device that never saw the chat fills from the server a page at a time (its
/// socket cannot open: nothing arrives live) and stores what it got.
#[wasm_bindgen_test]
async fn a_fresh_store_fills_from_the_server_route_and_keeps_it() {
    let session = session("history-fresh").await;
    let account = get_str(&session, "userId");
    let bob = connected("history-fresh-bob").await;
    let carol = connected("history-fresh-carol").await;
    let not_ours = chat(&bob, "direct", &[&carol]).await;
    let unreachable = format!("{}/nowhere", BASE.replacen("http", "ws", 1));
    let fresh = client_for(
        &session,
        "indexeddb",
        &format!(r#"{{"websocketUrl":"{unreachable}"}}"#),
    );
    settle(fresh.client.connect())
        .await
        .expect("connect starts");
    let ann_chat = chat(&fresh, "group", &[&bob, &carol]).await;
    send(&bob, &ann_chat, "one").await;
    send(&carol, &ann_chat, "two").await;
    send(&bob, &ann_chat, "three").await;
    assert!(fresh.texts().is_empty(), "nothing arrived live");

    let newest = history(&fresh, &ann_chat, r#"{"limit":2}"#).await;
    assert_eq!(texts(&newest), ["two", "three"], "from the server");
    assert_eq!(get_str(&newest[0], "senderId"), carol.user_id());
    assert_eq!(get_str(&newest[0], "chatType"), "group");
    let before = get_str(&newest[0], "messageId");
    let older = history(
        &fresh,
        &ann_chat,
        &format!(r#"{{"before":"{before}","limit":2}}"#),
    )
    .await;
    assert_eq!(texts(&older), ["one"]);
    let first = get_str(&older[0], "messageId");
    assert!(
        history(&fresh, &ann_chat, &format!(r#"{{"before":"{first}"}}"#))
            .await
            .is_empty()
    );

    let rows = read_until(|| stored_messages(&account), |r| r.len() == 3).await;
    assert_eq!(rows.len(), 3, "what came is stored");
    // Now from the cache: the whole chat in one page.
    assert_eq!(
        texts(&history(&fresh, &ann_chat, "").await),
        ["one", "two", "three"]
    );
    // A chat that is not ours: the server's 404, typed.
    let other = settle(fresh.client.history(&not_ours, JsValue::UNDEFINED))
        .await
        .expect_err("not a member");
    assert_eq!(get_str(&other, "kind"), "api");
    fresh.client.disconnect();
    bob.client.disconnect();
    carol.client.disconnect();
}

/// `cacheSize` bounds each chat: `history()` holds to it at once, and the rows on disk
/// go back to it in the transaction that takes the chat past twice it, rewritten as one
/// page.
#[wasm_bindgen_test]
async fn each_chat_keeps_only_its_newest_cache_size_messages() {
    let session = session("history-trim").await;
    let account = get_str(&session, "userId");
    let ann = client_for(&session, "indexeddb", r#"{"cacheSize":4}"#);
    connect(&ann).await;
    let bob = connected("history-trim-bob").await;
    let chat_id = chat(&bob, "direct", &[&ann]).await;
    for i in 1..=8 {
        send(&bob, &chat_id, &format!("m{i}")).await;
    }
    wait_until("ann got them", || ann.texts().len() == 8).await;
    let (ann_ref, chat_ref) = (&ann, chat_id.as_str());
    let kept = read_until(
        move || async move { texts(&history(ann_ref, chat_ref, "").await) },
        |t| *t == ["m5", "m6", "m7", "m8"],
    )
    .await;
    assert_eq!(kept, ["m5", "m6", "m7", "m8"]);
    assert_eq!(
        stored_messages(&account).await.len(),
        8,
        "on disk up to twice cacheSize"
    );
    send(&bob, &chat_id, "m9").await;
    let kept = read_until(
        move || async move { texts(&history(ann_ref, chat_ref, "").await) },
        |t| *t == ["m6", "m7", "m8", "m9"],
    )
    .await;
    assert_eq!(kept, ["m6", "m7", "m8", "m9"]);
    let texts_on_disk: Vec<String> = stored_messages(&account)
        .await
        .iter()
        .map(|m| get_str(m, "frame"))
        .collect();
    assert_eq!(texts_on_disk.len(), 4, "trimmed on disk");
    assert!(texts_on_disk.iter().all(|frame| !frame.contains(r#""m5""#)));
    assert_eq!(stored_rows(&account).await.len(), 1, "in one page");
    ann.client.disconnect();
    bob.client.disconnect();
}

/// Deletes the SDK's database when dropped (also when the test fails before its end),
/// so that the next tests get a database of this build: later opens wait for it.
struct DeleteDatabaseOnDrop;

impl Drop for DeleteDatabaseOnDrop {
    fn drop(&mut self) {
        let delete = js_sys::Function::new_no_args(r#"indexedDB.deleteDatabase("clawchat");"#);
        let _ = delete.call0(&JsValue::NULL);
    }
}

/// Whether the SDK's `messages` store has the time index (and the database's version).
async fn time_index() -> (bool, f64) {
    let read = js_sys::Function::new_no_args(
        r#"return new Promise((ok, fail) => {
            const open = indexedDB.open("clawchat");
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
                const db = open.result;
                const has = db.transaction("messages").objectStore("messages").indexNames.contains("byTime");
                db.close();
                ok([has, db.version]);
            };
        });"#,
    );
    let promise: js_sys::Promise = read.call0(&JsValue::NULL).unwrap().into();
    let pair = Array::from(&settle(promise).await.expect("the database opens"));
    (pair.get(0).is_truthy(), pair.get(1).as_f64().unwrap_or(0.0))
}

/// Rows of one message under `[account, chat]` read the way builds before pages read
/// a chat: their range ends before every page.
async fn rows_an_older_build_reads(account: &str, chat: &str) -> Vec<JsValue> {
    let read = js_sys::Function::new_with_args(
        "account, chat",
        r#"return new Promise((ok, fail) => {
            const open = indexedDB.open("clawchat");
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
                const db = open.result;
                const range = IDBKeyRange.bound([account, chat], [account, chat, []]);
                const all = db.transaction("messages").objectStore("messages").getAll(range);
                all.onerror = () => { db.close(); fail(all.error); };
                all.onsuccess = () => { db.close(); ok(all.result); };
            };
        });"#,
    );
    let promise: js_sys::Promise = read
        .call2(&JsValue::NULL, &account.into(), &chat.into())
        .unwrap()
        .into();
    Array::from(&settle(promise).await.expect("read")).to_vec()
}

/// A database an older build created and wrote: no time index (the index raises no
/// version, so that tabs of the older build keep their database), and a row a message.
/// Its rows are read with the pages as one history; they move into the chat's page when
/// it passes twice `cacheSize`, trimmed to the newest `cacheSize` by time;
/// an older build's reader, whose range ends before the pages, never sees a page.
#[wasm_bindgen_test]
async fn an_older_builds_rows_are_read_with_the_pages_and_moved_into_them() {
    let _cleanup = DeleteDatabaseOnDrop;
    let session = session("history-no-index").await;
    let account = get_str(&session, "userId");
    let ann = client_for(&session, "indexeddb", r#"{"cacheSize":4}"#);
    // Bob keeps nothing in IndexedDB: no open of his may create the database first.
    let bob = client_for(
        &support::session("history-no-index-bob").await,
        "memory",
        "{}",
    );
    connect(&bob).await;
    let chat_id = chat(&bob, "direct", &[&ann]).await;
    // The database as the older build created it, with seven rows of the chat.
    let plant = js_sys::Function::new_with_args(
        "account, chat",
        r#"return new Promise((ok, fail) => {
            const gone = indexedDB.deleteDatabase("clawchat");
            gone.onerror = () => fail(gone.error);
            gone.onsuccess = () => {
                let created = false;
                const open = indexedDB.open("clawchat", 4);
                open.onerror = () => fail(open.error);
                open.onupgradeneeded = () => {
                    created = true;
                    const db = open.result;
                    db.createObjectStore("sessions", { keyPath: "account_key" });
                    db.createObjectStore("leases", { keyPath: "name" });
                    db.createObjectStore("outbox", { keyPath: ["accountKey", "messageId"] });
                    db.createObjectStore("messages", { keyPath: ["accountKey", "chatId", "messageId"] });
                };
                open.onsuccess = () => {
                    const db = open.result;
                    const tx = db.transaction("messages", "readwrite");
                    // Message ids in the reverse order of time: the trim goes by time.
                    for (let i = 1; i <= 7; i++) {
                        const id = `old-${8 - i}`;
                        const frame = JSON.stringify({ version: "2", event: "message.send",
                            emitted_at: i, chat_id: chat, chat_type: "direct",
                            sender: { id: "someone", type: "direct", nick_name: "Someone" },
                            payload: { message_id: id, message_mode: "normal",
                                message: { body: { fragments: [{ kind: "text", text: `old ${i}` }] } } } });
                        tx.objectStore("messages").put({ accountKey: account, chatId: chat,
                            messageId: id, sentAt: i, frame });
                    }
                    tx.oncomplete = () => { db.close(); ok(created); };
                    tx.onerror = () => fail(tx.error);
                };
            };
        });"#,
    );
    let planted: js_sys::Promise = plant
        .call2(
            &JsValue::NULL,
            &account.clone().into(),
            &chat_id.clone().into(),
        )
        .unwrap()
        .into();
    let created = settle(planted).await.expect("a database without the index");
    assert!(
        created.is_truthy(),
        "the older build's database, made by the plant"
    );
    connect(&ann).await;
    let ids = |rows: &Vec<JsValue>| -> Vec<String> {
        let mut ids: Vec<String> = rows.iter().map(|row| get_str(row, "messageId")).collect();
        ids.sort();
        ids
    };

    // Eight messages are within twice four: a page beside the seven rows.
    let first = send(&bob, &chat_id, "into the old database").await;
    let rows = read_until(
        || async { stored_messages(&account).await },
        |rows| ids(rows).contains(&first),
    )
    .await;
    assert_eq!(rows.len(), 8, "kept past cacheSize, up to the threshold");
    assert_eq!(
        stored_rows(&account).await.len(),
        8,
        "seven rows and a page"
    );
    assert_eq!(
        texts(&history(&ann, &chat_id, "").await),
        ["old 5", "old 6", "old 7", "into the old database"],
        "one history, the newest cacheSize"
    );
    let older_view = rows_an_older_build_reads(&account, &chat_id).await;
    let old: Vec<String> = (1..=7).map(|i| format!("old-{i}")).collect();
    assert_eq!(ids(&older_view), old);
    // Nine are past it: the chat is read and the newest four by time kept, in a page.
    let second = send(&bob, &chat_id, "and another").await;
    let rows = read_until(
        || async { stored_messages(&account).await },
        |rows| ids(rows).contains(&second),
    )
    .await;
    let mut newest = vec!["old-1".to_owned(), "old-2".into(), first, second];
    newest.sort();
    assert_eq!(ids(&rows), newest, "the newest four by time");
    assert_eq!(stored_rows(&account).await.len(), 1, "moved into one page");
    assert!(rows_an_older_build_reads(&account, &chat_id)
        .await
        .is_empty());
    assert_eq!(time_index().await, (false, 4.0), "no index, no new version");
    ann.client.disconnect();
    bob.client.disconnect();
}

/// A server can open any number of chats: the account keeps the rows of at most 256
/// (with `cacheSize` 1, at most 256 rows), whatever it is sent.
#[wasm_bindgen_test]
async fn an_account_caches_a_bounded_number_of_chats() {
    let session = session("history-chats").await;
    let account = get_str(&session, "userId");
    let ann = client_for(&session, "indexeddb", r#"{"cacheSize":1}"#);
    connect(&ann).await;
    let frame = downlink(
        "message.send",
        "cap-chat-{n}",
        "mallory",
        r#"{"message_id":"cap-msg-{n}","message":{"body":{"fragments":[{"kind":"text","text":"x"}]}}}"#,
    );
    inject(&account, &frame, 300, 0).await;
    wait_until("ann got all 300", || ann.texts().len() == 300).await;
    let rows = read_until(|| stored_messages(&account), |r| r.len() == 256).await;
    assert_eq!(
        rows.len(),
        256,
        "the chats past the cap are forgotten on disk"
    );
    ann.client.disconnect();
}

/// A stored row or page entry that does not decode (no frame; a frame of another
/// message; not JSON) is dropped with a `warn` event, a page that lies about itself is
/// read as far as it reads, and the good messages are read (and kept, also where a bad
/// copy of one was dropped).
#[wasm_bindgen_test]
async fn a_corrupt_cached_row_is_dropped_with_a_warning() {
    let session = session("history-corrupt").await;
    let account = get_str(&session, "userId");
    let ann = client_for(&session, "indexeddb", "{}");
    // Opens (and upgrades) the SDK's database before the rows are planted.
    settle(ann.client.pending())
        .await
        .expect("the database opens");
    let frame = serde_json::json!({"version": "2", "event": "message.send", "emitted_at": 5,
        "chat_id": "chat-x", "chat_type": "direct",
        "sender": {"id": "u", "type": "direct", "nick_name": "U"},
        "payload": {"message_id": "m-good", "message_mode": "normal",
            "message": {"body": {"fragments": [{"kind": "text", "text": "fine"}]}}}})
    .to_string();
    let row = |id: &str, sent_at: serde_json::Value, frame: Option<&str>| {
        let mut row = serde_json::json!({"accountKey": account, "chatId": "chat-x",
            "messageId": id, "sentAt": sent_at});
        if let Some(frame) = frame {
            row["frame"] = frame.into();
        }
        row
    };
    let page = |key: serde_json::Value, ids, times, frames| {
        serde_json::json!({"accountKey": account, "chatId": "chat-x", "messageId": key,
            "ids": ids, "times": times, "frames": frames})
    };
    let rows = serde_json::json!([
        row("m-bad", "soon".into(), None),
        row("m-good", 5.into(), Some(&frame)),
        row("m-other", 6.into(), Some(&frame)),
        // Pages that lie: no list of ids, a count and size that are not so, an id that
        // is a number, and a copy of the good message that does not decode.
        page(
            serde_json::json!([0, 1, 5, 10]),
            "nope".into(),
            7.into(),
            serde_json::Value::Null
        ),
        page(
            serde_json::json!([1, 99999, "x", -4]),
            serde_json::json!(["m-good", 42, "m-bad2"]),
            serde_json::json!(["t"]),
            serde_json::json!(["{", null, "{"]),
        ),
    ]);
    idb_put("messages", &rows.to_string()).await;
    assert_eq!(texts(&history(&ann, "chat-x", "").await), ["fine"]);
    let warned = || {
        ann.of("warn")
            .iter()
            .filter(|w| get_str(w, "message").contains("cached message malformed"))
            .count()
    };
    assert_eq!(
        warned(),
        4,
        "m-bad, m-other, m-bad2 and the bad copy of m-good"
    );
    // Dropped by id: the good message is stored again, alone in one page.
    let rows = read_until(|| stored_rows(&account), |r| r.len() == 1).await;
    assert_eq!(rows.len(), 1, "the bad rows are gone");
    let messages = stored_messages(&account).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(get_str(&messages[0], "messageId"), "m-good");
    assert!(get_str(&messages[0], "frame").contains("fine"));
    assert_eq!(texts(&history(&ann, "chat-x", "").await), ["fine"]);
    assert_eq!(warned(), 4, "nothing bad is left");
}

#[wasm_bindgen_test]
async fn bad_history_options_and_cache_sizes_are_validation_errors() {
    let session = session("history-options").await;
    let ann = client_for(&session, "memory", "{}");
    for options in [
        r#"{"limit":0}"#,
        r#"{"limit":101}"#,
        r#"{"limit":1.5}"#,
        r#"{"limit":"5"}"#,
        r#"{"before":5}"#,
        r#"{"page":2}"#,
    ] {
        let err = settle(ann.client.history("c1", json(options)))
            .await
            .expect_err(options);
        assert_eq!(get_str(&err, "kind"), "validation", "{options}");
    }
    let blank = settle(ann.client.history(" ", JsValue::UNDEFINED))
        .await
        .expect_err("blank chat");
    assert_eq!(get_str(&blank, "kind"), "validation");
    for size in ["0", "1001", "2.5"] {
        let options = client_options(&session, "{}");
        Reflect::set(&options, &"cacheSize".into(), &json(size)).unwrap();
        let err = clawchat_wasm::js::ClawChatClient::new(options)
            .err()
            .expect(size);
        assert_eq!(get_str(&err, "kind"), "validation", "{size}");
    }
    // Without a session loaded the cache still answers; the server is not asked.
    let err = settle(ann.client.history("c1", JsValue::UNDEFINED))
        .await
        .expect_err("nothing cached, no session yet");
    assert_eq!(get_str(&err, "kind"), "auth");
}
