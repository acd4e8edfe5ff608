//! A hostile server and a hostile peer against a real client in headless Chromium: every
//! frame known to have hurt a client is written to the victim's socket (through the
//! emulator's loopback admin `inject`), and the victim must stay `ready`, keep sending and
//! receiving, and keep its wasm memory within a stated bound.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use js_sys::Reflect;
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// How much the victim's wasm memory may grow under the whole attack (**ours**: the
/// machines' own bounds are a few MiB; wasm memory never shrinks, so growth is what a
/// hostile peer could take for good).
const MEMORY_GROWTH_BOUND: f64 = 16.0 * 1024.0 * 1024.0;

fn wasm_memory_bytes() -> f64 {
    let buffer = Reflect::get(&wasm_bindgen::memory(), &"buffer".into()).unwrap();
    get(&buffer, "byteLength").as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn a_victim_survives_every_hostile_frame_and_goes_on_chatting() {
    let victim = connected("victim").await;
    let mallory = connected("mallory").await;
    let chat_id = chat(&mallory, "direct", &[&victim]).await;
    let (v, m) = (victim.user_id(), mallory.user_id());
    let before = wasm_memory_bytes();

    // The trap: a fragment index that wrapped `target + 1` on wasm32, and one that grew
    // memory to 840 MB.
    let created = downlink(
        "message.created",
        &chat_id,
        &m,
        r#"{"message_id":"s-trap","sequence":1,"fragments":[{"kind":"text","text":""}]}"#,
    );
    inject(&v, &created, 1, 0).await;
    for index in ["4294967295", "5000000"] {
        let add = downlink(
            "message.add",
            &chat_id,
            &m,
            &format!(
                r#"{{"message_id":"s-trap","sequence":2,"mutation":{{"type":"append","target_fragment_index":{index}}},"fragments":[{{"kind":"text","text":"x","delta":"x"}}]}}"#
            ),
        );
        inject(&v, &add, 1, 0).await;
    }
    // Maps a server could grow: closed chats, live streams, dedupe ids (long and many).
    let error = downlink(
        "message.error",
        "evil-chat-{n}",
        &m,
        r#"{"code":"chat_not_found","reason":"gone"}"#,
    );
    inject(&v, &error, 5_000, 0).await;
    let stream = downlink(
        "message.created",
        &chat_id,
        &m,
        r#"{"message_id":"s-{n}","sequence":1,"fragments":[{"kind":"text","text":"x"}]}"#,
    );
    inject(&v, &stream, 5_000, 0).await;
    let long_id = "L".repeat(300);
    let long = downlink(
        "message.send",
        &chat_id,
        &m,
        &format!(r#"{{"message_id":"{long_id}-{{n}}","message":{{"body":{{"fragments":[]}}}}}}"#),
    );
    inject(&v, &long, 2_000, 0).await;
    // Integers JavaScript cannot hold exactly, which turned whole events into `null`.
    let huge = downlink(
        "message.send",
        &chat_id,
        &m,
        r#"{"message_id":"msg-huge","message":{"body":{"fragments":[{"kind":"file","url":"/f","size":9007199254740993}]},"context":{"mentions":[{"user_id":"all","n":18446744073709551615}]}}}"#,
    );
    inject(&v, &huge, 1, 0).await;
    // A 64 MiB text frame: measured before it is copied into wasm.
    let ping = downlink("ping", &chat_id, &m, "{}");
    inject(&v, &ping, 1, 64 << 20).await;

    wait_until("the attack is reported", || {
        let errors = victim.of("error");
        let kinds: Vec<String> = errors.iter().map(|e| get_str(e, "kind")).collect();
        kinds.iter().any(|k| k == "bad_frame")
            && kinds.iter().filter(|k| *k == "malformed_frame").count() >= 2_000
    })
    .await;
    assert_eq!(victim.state(), "ready", "the victim never dropped");
    assert!(
        victim.of("message").iter().all(|m| !m.is_null()),
        "no event turned into null"
    );
    assert!(
        victim.texts().is_empty(),
        "no hostile frame was delivered as a message"
    );

    // The victim goes on: it sends, and it receives.
    let receipt = settle(
        victim
            .client
            .send_text(&chat_id, "still here", JsValue::UNDEFINED),
    )
    .await
    .expect("acked after the attack");
    assert!(get_str(&receipt, "messageId").starts_with("msg-"));
    settle(
        mallory
            .client
            .send_text(&chat_id, "ok, you win", JsValue::UNDEFINED),
    )
    .await
    .expect("mallory's send acked");
    wait_until("the victim receives", || victim.texts() == ["ok, you win"]).await;

    let growth = wasm_memory_bytes() - before;
    web_sys::console::log_1(&format!("wasm memory growth under attack: {growth} bytes").into());
    assert!(
        growth <= MEMORY_GROWTH_BOUND,
        "wasm memory grew {growth} bytes (bound {MEMORY_GROWTH_BOUND})"
    );
}

/// A server that fills a stream to 200 fragments of 1 KB and then rewrites its last
/// fragment 2,000 times (small frames, each of which made a whole ≈ 400 KB event):
/// the updates are folded into a few events, and the final one carries the last rewrite.
#[wasm_bindgen_test]
async fn rewriting_a_large_stream_makes_few_events_and_the_final_one_is_whole() {
    let victim = connected("stream-victim").await;
    let mallory = connected("stream-mallory").await;
    let chat_id = chat(&mallory, "direct", &[&victim]).await;
    let (v, m) = (victim.user_id(), mallory.user_id());
    let fragment = format!(r#"{{"kind":"text","text":"{}"}}"#, "x".repeat(1000));
    let fragments = vec![fragment; 200].join(",");
    let created = downlink(
        "message.created",
        &chat_id,
        &m,
        &format!(r#"{{"message_id":"s-big","sequence":0,"fragments":[{fragments}]}}"#),
    );
    inject(&v, &created, 1, 0).await;
    // Sequences 10, 11, … 19, 110, … grow with {n}.
    let rewrite = downlink(
        "message.add",
        &chat_id,
        &m,
        r#"{"message_id":"s-big","sequence":1{n},"mutation":{"type":"append","target_fragment_index":199},"fragments":[{"kind":"text","text":"y{n}"}]}"#,
    );
    const REWRITES: usize = 2_000;
    inject(&v, &rewrite, REWRITES as u32, 0).await;
    let done = downlink(
        "message.done",
        &chat_id,
        &m,
        r#"{"message_id":"s-big","sequence":99999999,"fragments":[]}"#,
    );
    inject(&v, &done, 1, 0).await;

    wait_until("the stream ends", || {
        victim
            .of("stream")
            .iter()
            .any(|s| get_str(s, "status") == "done")
    })
    .await;
    let events = victim.of("stream");
    web_sys::console::log_1(&format!("{REWRITES} rewrites, {} events", events.len()).into());
    assert!(
        events.len() < REWRITES / 20,
        "{} events for {REWRITES} rewrites",
        events.len()
    );
    let last = events.last().expect("events");
    assert_eq!(get_str(last, "status"), "done");
    let text = get_str(last, "text");
    assert_eq!(text.len(), 199 * 1000 + "y1999".len());
    assert!(
        text.ends_with("xy1999"),
        "the last rewrite is in the final event"
    );
    assert_eq!(victim.state(), "ready");
}

/// A stream that goes quiet right after updates that were held (the agent thinks): the
/// last of them still comes, as the stream's latest event, without a `done`. (The
/// connection machine's deadline for it is tested natively, in `session/tests.rs`.)
#[wasm_bindgen_test]
async fn a_held_update_of_a_stream_that_goes_quiet_still_comes() {
    let victim = connected("quiet-victim").await;
    let mallory = connected("quiet-mallory").await;
    let chat_id = chat(&mallory, "direct", &[&victim]).await;
    let (v, m) = (victim.user_id(), mallory.user_id());
    // 100 KB: 200 ms between events, so the three updates after it are held.
    let created = downlink(
        "message.created",
        &chat_id,
        &m,
        &format!(
            r#"{{"message_id":"s-quiet","sequence":0,"fragments":[{{"kind":"text","text":"{}"}},{{"kind":"text","text":""}}]}}"#,
            "x".repeat(100_000)
        ),
    );
    inject(&v, &created, 1, 0).await;
    let add = downlink(
        "message.add",
        &chat_id,
        &m,
        r#"{"message_id":"s-quiet","sequence":1{n},"mutation":{"type":"append","target_fragment_index":1},"fragments":[{"kind":"text","text":"thinking {n}"}]}"#,
    );
    inject(&v, &add, 3, 0).await;
    wait_until("the last update comes", || {
        victim
            .of("stream")
            .last()
            .is_some_and(|s| get_str(s, "text").ends_with("thinking 2"))
    })
    .await;
    let events = victim.of("stream");
    assert_eq!(
        events.len(),
        2,
        "the created message, then the three updates as one"
    );
    assert!(events.iter().all(|s| get_str(s, "status") == "streaming"));
}
