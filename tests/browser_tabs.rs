//! Many clients of one account in one browser (they share Web Locks, BroadcastChannel
//! and IndexedDB as tabs do): one socket, relayed sends and events, hand-over, and one
//! refresh per rotation.
#![cfg(all(target_arch = "wasm32", feature = "emulator-tests"))]

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use support::*;
use wasm_bindgen::prelude::{Closure, JsValue};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const TIMINGS: &str = r#"{"backoffInitialMs":100,"backoffCapMs":1000,"refreshFloorMs":1500}"#;

fn role(tab: &Recorded) -> String {
    tab.client.role().as_string().unwrap_or_default()
}

async fn tabs(session: &JsValue, n: usize) -> Vec<Recorded> {
    let tabs: Vec<Recorded> = (0..n)
        .map(|_| client_with(session, TIMINGS, None))
        .collect();
    for tab in &tabs {
        settle(tab.client.connect()).await.expect("connect starts");
    }
    wait_until("one leader, ready everywhere", || {
        tabs.iter().filter(|t| role(t) == "leader").count() == 1
            && tabs.iter().all(|t| t.state() == "ready")
    })
    .await;
    tabs
}

async fn account_sockets(user_id: &str) -> Vec<String> {
    js_sys::Array::from(&get(&stats().await, "live_sessions"))
        .iter()
        .filter(|s| get_str(s, "user_id") == user_id)
        .map(|s| get_str(&s, "device_id"))
        .collect()
}

#[wasm_bindgen_test]
async fn three_tabs_share_one_socket_send_and_receive_and_hand_over() {
    let session = session("tabs").await;
    let user_id = get_str(&session, "userId");
    let tabs = tabs(&session, 3).await;
    assert_eq!(tabs.iter().filter(|t| role(t) == "follower").count(), 2);
    let bob = connected("tabs-bob").await;
    let chat_id = chat(&tabs[1], "direct", &[&bob]).await;
    let takeovers = get(&stats().await, "takeovers").as_f64().unwrap();

    for round in 0..4 {
        for (i, tab) in tabs.iter().enumerate() {
            let receipt = settle(tab.client.send_text(
                &chat_id,
                &format!("r{round} tab{i}"),
                JsValue::UNDEFINED,
            ))
            .await;
            assert!(get_str(&receipt.expect("acked"), "messageId").starts_with("msg-"));
        }
        settle(
            bob.client
                .send_text(&chat_id, &format!("bob r{round}"), JsValue::UNDEFINED),
        )
        .await
        .expect("acked");
        sleep(500).await;
    }
    wait_until("bob got every tab's messages", || bob.texts().len() == 12).await;
    wait_until("every tab got bob's messages", || {
        tabs.iter().all(|t| t.texts().len() == 4)
    })
    .await;
    assert_eq!(
        account_sockets(&user_id).await,
        [get_str(&session, "deviceId")],
        "one socket, canonical device"
    );
    assert_eq!(
        get(&stats().await, "takeovers").as_f64().unwrap(),
        takeovers,
        "no takeovers"
    );

    let leader = tabs.iter().position(|t| role(t) == "leader").unwrap();
    let follower = (leader + 1) % 3;
    tabs[leader].client.disconnect();
    let started = js_sys::Date::now();
    let during =
        tabs[follower]
            .client
            .send_text(&chat_id, "during the hand-over", JsValue::UNDEFINED);
    let remaining: Vec<&Recorded> = tabs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, t)| t)
        .collect();
    wait_until("a new leader is ready", || {
        remaining.iter().any(|t| role(t) == "leader")
            && remaining.iter().all(|t| t.state() == "ready")
    })
    .await;
    web_sys::console::log_1(&format!("hand-over took {} ms", js_sys::Date::now() - started).into());
    settle(during).await.expect("the hand-over send is acked");
    wait_until("delivered", || {
        bob.texts().iter().any(|t| t == "during the hand-over")
    })
    .await;
    sleep(1000).await;
    assert_eq!(
        bob.texts()
            .iter()
            .filter(|t| *t == "during the hand-over")
            .count(),
        1,
        "exactly once"
    );
    assert_eq!(account_sockets(&user_id).await.len(), 1);
}

#[wasm_bindgen_test]
async fn only_the_leader_refreshes_once_per_rotation_for_all_tabs() {
    // 4 s tokens: refreshed at half their life, every 2 s.
    let session = session_ttl("tabs-refresh", 4).await;
    let before = refresh_calls().await;
    let tabs = tabs(&session, 3).await;
    sleep(5000).await;
    let leader = tabs.iter().find(|t| role(t) == "leader").unwrap();
    wait_until("every tab on the leader's pair", || {
        tabs.iter()
            .all(|t| t.client.access_token() == leader.client.access_token())
    })
    .await;
    let rotations = leader
        .of("refresh")
        .iter()
        .filter(|r| get_str(r, "outcome") == "success")
        .count() as f64;
    assert!(rotations >= 2.0, "the leader rotated repeatedly");
    let calls = refresh_calls().await - before;
    assert!(
        calls == rotations || calls == rotations + 1.0,
        "{calls} calls for {rotations} rotations (one may be in flight)"
    );
    assert!(tabs.iter().all(|t| t.state() == "ready"));
}

#[wasm_bindgen_test]
async fn a_relayed_send_settles_with_the_leaders_typed_outcome() {
    scenarios::relayed_sends_settle_with_the_leaders_typed_outcome().await;
}

#[wasm_bindgen_test]
async fn memory_storage_hands_the_rotated_pair_to_the_promoted_follower() {
    scenarios::memory_storage_hands_the_rotated_pair_to_the_promoted_follower().await;
}

#[wasm_bindgen_test]
async fn a_leader_that_hands_over_during_a_burst_has_relayed_every_event_first() {
    // A leader queues its relays and posts them at the start of a later task (or 256 at a
    // time); a burst keeps the page busy with socket tasks meanwhile. One that
    // disconnects as soon as the last message reaches this code posts what it queued
    // before it releases the lock, so the promoted follower misses none. Only relayed
    // events are batched: a send the follower relays meanwhile is received and settled
    // in posts of their own (the format tabs of older builds read).
    const BURST: u32 = 3000;
    let session = session("tabs-burst").await;
    let user_id = get_str(&session, "userId");
    let tabs = tabs(&session, 2).await;
    let leader_at = tabs.iter().position(|t| role(t) == "leader").unwrap();
    let (leader, follower) = (&tabs[leader_at], &tabs[1 - leader_at]);
    let bob = connected("tabs-burst-b").await;
    let ours = chat(follower, "direct", &[&bob]).await;
    let posts = Rc::new(RefCell::new(Vec::<JsValue>::new()));
    let observer = web_sys::BroadcastChannel::new(&format!("clawchat:{user_id}")).unwrap();
    let record = {
        let posts = posts.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let text = e.data().as_string().unwrap_or_default();
            posts
                .borrow_mut()
                .push(js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL));
        })
    };
    observer.set_onmessage(Some(record.as_ref().unchecked_ref()));
    let last = format!("burst {}", BURST - 1);
    let last_arrived = js_sys::Promise::new(&mut |resolve, _| {
        let last = last.clone();
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
            if get_str(&m, "text") == last {
                let _ = resolve.call0(&JsValue::NULL);
            }
        });
        leader
            .client
            .on("message", handler.as_ref().clone())
            .expect("a known event");
        handler.forget();
    });
    let payload = r#"{"message_id":"msg-burst-{n}","message_mode":"normal","message":{"body":{"fragments":[{"kind":"text","text":"burst {n}"}]},"context":{"mentions":[]}}}"#;
    let frame = downlink("message.send", "cht_burst", "usr_burst_peer", payload);
    inject(&user_id, &frame, BURST, 0).await;
    let relayed = follower
        .client
        .send_text(&ours, "during the burst", JsValue::UNDEFINED);
    settle(relayed).await.expect("acked through the leader");
    settle(last_arrived)
        .await
        .expect("the leader got the last message");
    tabs[leader_at].client.disconnect();
    wait_until("the follower got the whole burst", || {
        follower.texts().len() == BURST as usize
    })
    .await;
    assert_eq!(follower.texts().last(), Some(&last), "in order");
    let kind = |message: &JsValue| {
        js_sys::Object::keys(&message.clone().into())
            .get(0)
            .as_string()
            .unwrap_or_default()
    };
    // This page's listeners get each post in their own time: wait for the observer.
    for control in ["received", "settled"] {
        wait_until(
            &format!("the relayed send {control} in a post of its own"),
            || posts.borrow().iter().any(|p| kind(p) == control),
        )
        .await;
    }
    observer.close();
    let batches: Vec<js_sys::Array> = posts
        .borrow()
        .iter()
        .filter(|p| js_sys::Array::is_array(p))
        .map(|p| p.clone().into())
        .collect();
    assert!(!batches.is_empty(), "the burst was relayed in batches");
    assert!(
        batches
            .iter()
            .all(|b| b.iter().all(|m| kind(&m) == "event")),
        "a batch holds relayed events only"
    );
}
