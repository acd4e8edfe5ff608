//! The real client in headless Chromium against the emulator over real sockets.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn two_clients_chat_both_ways_in_a_direct_chat_with_a_reply() {
    let ann = connected("ann").await;
    let bob = connected("bob").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;

    let receipt = settle(ann.client.send_text(&chat_id, "hi bob", JsValue::UNDEFINED))
        .await
        .expect("acked");
    assert!(get_str(&receipt, "messageId").starts_with("msg-"));
    assert!(get(&receipt, "acceptedAt").as_f64().unwrap() > 0.0);
    wait_until("bob receives", || bob.texts() == ["hi bob"]).await;
    let received = &bob.of("message")[0];
    assert_eq!(get_str(received, "senderId"), ann.user_id());
    assert_eq!(get_str(received, "chatType"), "direct");
    assert_eq!(
        get_str(received, "messageId"),
        get_str(&receipt, "messageId")
    );

    let reply_to = json(&format!(
        r#"{{"replyTo":{{"messageId":"{}","nickName":"ann","fragments":[{{"kind":"text","text":"hi bob"}}]}}}}"#,
        get_str(received, "messageId")
    ));
    settle(bob.client.send_text(&chat_id, "hello ann", reply_to))
        .await
        .expect("reply acked");
    wait_until("ann receives the reply", || ann.texts() == ["hello ann"]).await;
    let reply = get(&ann.of("message")[0], "reply");
    assert_eq!(get_str(&reply, "text"), "hi bob");
    assert_eq!(get_str(&reply, "nickName"), "ann");
    assert!(ann.texts().iter().all(|t| t != "hi bob"), "no self echo");
}

#[wasm_bindgen_test]
async fn a_group_chat_of_three_delivers_to_both_others_and_typing_is_relayed() {
    let (a, b, c) = (
        connected("ga").await,
        connected("gb").await,
        connected("gc").await,
    );
    let chat_id = chat(&a, "group", &[&b, &c]).await;
    settle(
        b.client
            .send_text(&chat_id, "to the group", JsValue::UNDEFINED),
    )
    .await
    .expect("acked");
    wait_until("a and c receive", || {
        a.texts() == ["to the group"] && c.texts() == ["to the group"]
    })
    .await;
    assert_eq!(get_str(&a.of("message")[0], "chatType"), "group");
    a.client.set_typing(&chat_id, true);
    wait_until("typing reaches b", || !b.of("typing").is_empty()).await;
    assert_eq!(get(&b.of("typing")[0], "isTyping").as_bool(), Some(true));
    assert!(
        b.texts().is_empty(),
        "the sender gets no copy of its own message"
    );
}

#[wasm_bindgen_test]
async fn rest_results_name_their_fields_in_camel_case() {
    let ann = connected("rest-ann").await;
    let bob = connected("rest-bob").await;
    let chat_id = chat(&ann, "group", &[&bob]).await;
    let chats = settle(ann.client.chats()).await.expect("chats listed");
    let ours = js_sys::Array::from(&chats)
        .iter()
        .find(|c| get_str(c, "id") == chat_id)
        .expect("the new chat is listed");
    let mut members: Vec<String> = js_sys::Array::from(&get(&ours, "memberIds"))
        .iter()
        .filter_map(|m| m.as_string())
        .collect();
    members.sort();
    let mut expected = vec![ann.user_id(), bob.user_id()];
    expected.sort();
    assert_eq!(members, expected);
    assert!(get(&ours, "member_ids").is_undefined());

    let profiles = [
        settle(ann.client.me()).await.expect("me"),
        settle(ann.client.user(&bob.user_id())).await.expect("bob"),
    ];
    for profile in &profiles {
        let has = |key: &str| js_sys::Reflect::has(profile, &key.into()).unwrap_or(false);
        assert!(has("avatarUrl") && !has("avatar_url") && !has("device_id"));
    }
    assert!(get_str(&profiles[1], "nickname").starts_with("rest-bob"));
}

#[wasm_bindgen_test]
async fn a_send_during_a_forced_drop_is_delivered_exactly_once() {
    let ann = connected("drop-a").await;
    let bob = connected("drop-b").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    admin("/admin/faults/acks", r#"{"withhold":1}"#).await;
    let pending = ann
        .client
        .send_text(&chat_id, "through the storm", JsValue::UNDEFINED);
    wait_until("bob has it once", || bob.texts().len() == 1).await;
    admin("/admin/drop-sockets", "{}").await;
    let receipt = settle(pending).await.expect("acked after the resend");
    assert!(get_str(&receipt, "messageId").starts_with("msg-"));
    assert!(ann
        .of("state")
        .iter()
        .any(|s| get_str(s, "state") == "reconnecting"));
    wait_until("bob reconnected", || bob.state() == "ready").await;
    sleep(500).await;
    assert_eq!(
        bob.texts(),
        ["through the storm"],
        "the resend coalesced on the server"
    );
    assert_eq!(ann.client.pending_sends(), 0);
}

#[wasm_bindgen_test]
async fn a_failure_ack_surfaces_code_and_reason_and_closes_the_chat() {
    let ann = connected("fail-a").await;
    let bob = connected("fail-b").await;
    let eve = connected("fail-e").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    let err = settle(
        eve.client
            .send_text(&chat_id, "let me in", JsValue::UNDEFINED),
    )
    .await
    .unwrap_err();
    assert_eq!(get_str(&err, "kind"), "rejected");
    assert_eq!(get_str(&err, "code"), "not_a_member");
    assert!(!get_str(&err, "reason").is_empty());
    assert_eq!(get_str(&err, "chatId"), chat_id);
    assert!(!get_str(&err, "traceId").is_empty());
    let again = settle(eve.client.send_text(&chat_id, "again", JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert_eq!(get_str(&again, "kind"), "chat_closed");
    assert!(bob.texts().is_empty());
}

#[wasm_bindgen_test]
async fn replay_after_reconnect_arrives_in_order_and_deduped() {
    let ann = connected("replay-a").await;
    let bob = connected("replay-b").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    bob.client.disconnect();
    let bob_id = bob.user_id();
    for _ in 0..100 {
        let live = js_sys::Array::from(&get(&stats().await, "live_sessions"));
        if !live.iter().any(|s| get_str(&s, "user_id") == bob_id) {
            break;
        }
        sleep(20).await;
    }
    for text in ["one", "two", "three"] {
        settle(ann.client.send_text(&chat_id, text, JsValue::UNDEFINED))
            .await
            .expect("acked");
    }
    admin("/admin/faults/duplicate-replay", r#"{"count":3}"#).await;
    settle(bob.client.connect()).await.expect("reconnect");
    wait_until("three replayed", || bob.texts().len() >= 3).await;
    sleep(500).await;
    assert_eq!(bob.texts(), ["one", "two", "three"]);
}

#[wasm_bindgen_test]
async fn sends_while_disconnected_wait_and_disconnect_fails_them_with_a_reason() {
    let ann = connected("queue-a").await;
    let bob = connected("queue-b").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    ann.client.disconnect();
    let err = settle(ann.client.send_text(&chat_id, "closed", JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert_eq!(get_str(&err, "kind"), "closed");
    settle(ann.client.connect()).await.expect("reconnect");
    let queued = ann
        .client
        .send_text(&chat_id, "queued before ready", JsValue::UNDEFINED);
    settle(queued).await.expect("sent once ready");
    wait_until("delivered", || bob.texts() == ["queued before ready"]).await;
}

#[wasm_bindgen_test]
async fn media_uploads_become_fragments_the_other_side_sees() {
    let ann = connected("media-a").await;
    let bob = connected("media-b").await;
    let chat_id = chat(&ann, "direct", &[&bob]).await;
    let bytes = js_sys::Uint8Array::from(&[137u8, 80, 78, 71][..]);
    let parts = js_sys::Array::of1(&bytes);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/png");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).unwrap();
    let fragment = settle(ann.client.upload_media(blob, Some("dot.png".into())))
        .await
        .expect("uploaded");
    assert_eq!(get_str(&fragment, "kind"), "image");
    assert_eq!(get_str(&fragment, "mime"), "image/png");
    let fragments = js_sys::Array::of1(&fragment);
    settle(
        ann.client
            .send_fragments(&chat_id, fragments.into(), JsValue::UNDEFINED),
    )
    .await
    .expect("acked");
    wait_until("bob sees the image", || bob.of("message").len() == 1).await;
    let seen = js_sys::Array::from(&get(&bob.of("message")[0], "fragments")).get(0);
    assert_eq!(get_str(&seen, "kind"), "image");
    assert_eq!(get_str(&seen, "url"), get_str(&fragment, "url"));
}

#[wasm_bindgen_test]
async fn a_refused_handshake_backs_off_and_recovers() {
    admin(
        "/admin/faults/handshake",
        r#"{"reason":"auth service unavailable","count":2}"#,
    )
    .await;
    let ann = connected("refused").await;
    let reconnects = ann
        .of("state")
        .iter()
        .filter(|s| get_str(s, "state") == "reconnecting")
        .count();
    assert!(
        reconnects >= 2,
        "two refusals then ready, got {reconnects} reconnects"
    );
}

/// The mention fragment at `index` of `message`.
fn fragment(message: &JsValue, index: u32) -> JsValue {
    js_sys::Array::from(&get(message, "fragments")).get(index)
}

#[wasm_bindgen_test]
async fn a_mention_is_camel_case_in_js_both_ways_and_snake_case_on_the_wire() {
    let ann = connected("men-ann").await;
    let bob = connected("men-bob").await;
    let chat_id = chat(&ann, "group", &[&bob]).await;
    let bob_id = bob.user_id();

    // Sent as the types say: `userId`.
    let fragments = json(&format!(
        r#"[{{"kind":"text","text":"hi "}},{{"kind":"mention","userId":"{bob_id}","display":"@bob"}}]"#
    ));
    settle(
        ann.client
            .send_fragments(&chat_id, fragments, JsValue::UNDEFINED),
    )
    .await
    .expect("acked");
    wait_until("bob receives", || bob.texts() == ["hi @bob"]).await;
    let received = &bob.of("message")[0];
    // Bob's client reads the wire's `user_id` only: so the wire carried it.
    assert_eq!(get(received, "mentionsMe").as_bool(), Some(true));
    let mention = fragment(received, 1);
    assert_eq!(get_str(&mention, "userId"), bob_id);
    assert!(get(&mention, "user_id").is_undefined());
    let page = settle(bob.client.history(&chat_id, JsValue::UNDEFINED))
        .await
        .expect("history");
    let listed = js_sys::Array::from(&page).get(0);
    assert_eq!(get_str(&fragment(&listed, 1), "userId"), bob_id);

    // A peer's `context.mentions` objects (wire: `user_id`) reach JS renamed too.
    let frame = format!(
        r#"{{"version":"2","event":"message.send","trace_id":"t-{{n}}","emitted_at":1,"chat_id":"{chat_id}","chat_type":"group","sender":{{"id":"{}","type":"direct","nick_name":"ann"}},"payload":{{"message_id":"msg-mentions-{{n}}","message":{{"body":{{"fragments":[{{"kind":"text","text":"all of you"}}]}},"context":{{"mentions":[{{"user_id":"all","nick_name":"everyone"}},"{bob_id}"]}}}}}}}}"#,
        ann.user_id()
    );
    let body =
        serde_json::json!({"user_id": bob_id, "frame": frame, "repeat": 1, "pad_to_bytes": 0});
    admin("/admin/inject", &body.to_string()).await;
    wait_until("bob receives the injected message", || {
        bob.texts().len() == 2
    })
    .await;
    let injected = &bob.of("message")[1];
    assert_eq!(get(injected, "mentionsAll").as_bool(), Some(true));
    let mentions = js_sys::Array::from(&get(injected, "mentions"));
    let everyone = mentions.get(0);
    assert_eq!(get_str(&everyone, "userId"), "all");
    assert_eq!(get_str(&everyone, "nickName"), "everyone");
    assert!(get(&everyone, "user_id").is_undefined());
    assert_eq!(
        mentions.get(1).as_string().as_deref(),
        Some(bob_id.as_str())
    );
}

/// A client freed while a refresh it asked for is with the server: the server rotates
/// the pair, and the freed client still saves it (a pair the server answered with is
/// the truth from then on) and settles the app's promise with the outcome, without an
/// event to the app's handlers after the free.
#[wasm_bindgen_test]
async fn a_refresh_under_way_when_the_client_is_freed_is_saved() {
    let session = session("freed-refresh").await;
    let account = get_str(&session, "userId");
    let client =
        clawchat_wasm::js::ClawChatClient::new(client_options(&session, "{}")).expect("client");
    settle(client.connect()).await.expect("connect starts");
    admin("/admin/faults/refresh", r#"{"kind":"slow","hang_ms":1500}"#).await;
    let calls = || async { get(&stats().await, "refresh_calls").as_f64().unwrap_or(0.0) };
    let before = calls().await;
    let refresh = client.refresh_now();
    read_until(calls, |n| *n > before).await;
    let heard = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = heard.clone();
    let handler = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |_| {
        count.set(count.get() + 1)
    });
    for event in ["refresh", "tokens", "state"] {
        let _ = client.on(event, handler.as_ref().clone());
    }
    drop(client);
    let report = settle(refresh).await.expect("resolved");
    assert_eq!(get_str(&report, "outcome"), "success");
    sleep(300).await;
    assert_eq!(heard.get(), 0, "a freed client's app hears nothing more");
    drop(handler);
    let stored = read_until(
        || idb_rows("sessions"),
        |rows| {
            rows.iter().any(|row| {
                get_str(row, "account_key") == account
                    && get_str(row, "refresh_token") != get_str(&session, "refreshToken")
            })
        },
    )
    .await;
    let row = stored
        .iter()
        .find(|row| get_str(row, "account_key") == account)
        .expect("the session row");
    assert_ne!(
        get_str(row, "refresh_token"),
        get_str(&session, "refreshToken"),
        "the rotated pair is stored"
    );
}
