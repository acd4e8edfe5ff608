//! The v2 handshake over real loopback sockets: success and every `hello-fail` reason.

mod common;

use std::time::Duration;

use clawchat_emulator::Config;
use clawchat_wasm::protocol::{Event, Frame};
use common::{Closed, Emu, Ws};

#[tokio::test]
async fn a_valid_connect_gets_hello_ok_with_the_device_id() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let mut ws = Ws::open(&emu.running.ws_url()).await;
    let Event::Challenge(challenge) = ws.next_frame().await.event else {
        panic!("challenge first")
    };
    assert!(challenge.nonce.len() >= 16);
    ws.send_connect(&ann.access_token, &challenge.nonce, None)
        .await;
    let hello = ws.next_frame().await;
    assert_eq!(
        hello.trace_id, "t-connect",
        "the connect trace id is echoed"
    );
    let Event::HelloOk(ok) = hello.event else {
        panic!("hello-ok")
    };
    assert_eq!(
        (ok.device_id.as_str(), ok.delivery_mode.as_str()),
        ("dev-ann", "device_replay")
    );
}

#[tokio::test]
async fn every_refusal_reason_is_sent_then_the_socket_closes() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let url = emu.running.ws_url();

    // Wrong nonce.
    let mut ws = Ws::open(&url).await;
    ws.next_frame().await;
    ws.send_connect(&ann.access_token, "not-the-nonce", None)
        .await;
    assert!(
        matches!(ws.next_frame().await.event, Event::HelloFail(f) if f.reason == "nonce mismatch")
    );
    assert_eq!(ws.closed().await, Closed::Code(1008));

    // Bad token, other key, and a device that is neither the bound one nor a sibling.
    assert_eq!(
        Ws::handshake(&url, "garbage", None).await.err().as_deref(),
        Some("authentication failed")
    );
    assert_eq!(
        Ws::handshake(&url, &ann.access_token, Some("someone-else"))
            .await
            .err()
            .as_deref(),
        Some("invalid connect payload")
    );

    // Another event instead of connect, and a frame that is not JSON.
    let mut ws = Ws::open(&url).await;
    ws.next_frame().await;
    ws.send(&Frame::new(
        Event::Ping(clawchat_wasm::json::RawJson::empty_object()),
        "t",
        0,
    ))
    .await;
    assert!(
        matches!(ws.next_frame().await.event, Event::HelloFail(f) if f.reason == "invalid connect event")
    );
    let mut ws = Ws::open(&url).await;
    ws.next_frame().await;
    ws.send_raw("{not json").await;
    assert!(
        matches!(ws.next_frame().await.event, Event::HelloFail(f) if f.reason == "invalid connect payload")
    );

    let stats = emu.stats().await;
    assert_eq!(stats["hello_fail"], 5);
    assert_eq!(stats["hello_ok"], 0);
}

#[tokio::test]
async fn an_expired_token_is_refused_as_authentication_failed() {
    let emu = Emu::start().await;
    let ann = emu.sign_in_ttl("ann", "dev-ann", 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reason = Ws::handshake(&emu.running.ws_url(), &ann.access_token, None)
        .await
        .err();
    assert_eq!(reason.as_deref(), Some("authentication failed"));
}

#[tokio::test]
async fn a_clock_offset_moves_expiry() {
    let mut config = Config::for_tests();
    config.clock_offset_secs = -3600;
    let emu = Emu::start_with(config).await;
    let ann = emu.sign_in_ttl("ann", "dev-ann", 60).await;
    let claims = clawchat_wasm::auth::decode_claims(&ann.access_token).unwrap();
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (claims.iat.unwrap() - (real_now - 3600)).abs() <= 2,
        "iat follows the offset clock"
    );
    assert!(
        Ws::handshake(&emu.running.ws_url(), &ann.access_token, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_silent_socket_is_closed_without_a_frame_after_the_handshake_timeout() {
    let mut config = Config::for_tests();
    config.handshake_timeout_ms = 300;
    let emu = Emu::start_with(config).await;
    let mut ws = Ws::open(&emu.running.ws_url()).await;
    assert!(matches!(ws.next_frame().await.event, Event::Challenge(_)));
    assert!(
        ws.next_frame_within(Duration::from_secs(2)).await.is_none(),
        "no hello-fail on timeout"
    );
}

#[tokio::test]
async fn the_auth_unavailable_knob_refuses_then_recovers() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    emu.admin("/admin/faults/handshake", serde_json::json!({"count": 2}))
        .await;
    let url = emu.running.ws_url();
    for _ in 0..2 {
        let reason = Ws::handshake(&url, &ann.access_token, None).await.err();
        assert_eq!(reason.as_deref(), Some("auth service unavailable"));
    }
    assert!(Ws::handshake(&url, &ann.access_token, None).await.is_ok());
}

#[tokio::test]
async fn a_second_connect_with_the_same_device_takes_over_and_siblings_coexist() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let mut first = emu.connect(&ann).await;
    let _second = emu.connect(&ann).await;
    assert_eq!(
        first.closed().await,
        Closed::Code(clawchat_emulator::ws::CLOSE_REPLACED)
    );
    let url = emu.running.ws_url();
    let _sibling = Ws::handshake(&url, &ann.access_token, Some("dev-ann-tab2"))
        .await
        .expect("sibling ok");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = emu.stats().await;
    assert_eq!(stats["takeovers"], 1);
    assert_eq!(stats["live_sessions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_admin_listener_must_be_loopback() {
    let mut config = Config::for_tests();
    config.admin_listen = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(
        clawchat_emulator::start(config).await,
        Err(clawchat_emulator::StartError::AdminNotLoopback(_))
    ));
}

#[tokio::test]
async fn a_socket_that_stops_answering_pings_is_closed_as_dead() {
    let mut config = Config::for_tests();
    config.ping_interval_ms = 100;
    let emu = Emu::start_with(config).await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let mut ws = emu.connect(&ann).await;
    // Not polling the socket means no pong goes back (tungstenite answers while reading).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(ws.next_frame_within(Duration::from_secs(2)).await.is_none());
    assert!(emu.stats().await["live_sessions"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_socket_that_answers_pings_stays_up() {
    let mut config = Config::for_tests();
    config.ping_interval_ms = 100;
    let emu = Emu::start_with(config).await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let mut ws = emu.connect(&ann).await;
    ws.expect_silence(800).await; // reading answers the pings
    assert_eq!(
        emu.stats().await["live_sessions"].as_array().unwrap().len(),
        1
    );
}
