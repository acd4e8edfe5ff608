//! Sends, acks, fan-out, replay and the message-level fault knobs over real sockets.

mod common;

use std::time::Duration;

use clawchat_emulator::Config;
use clawchat_wasm::protocol::{
    send_codes, ChatType, Event, Frame, StreamPayload, StreamPhase, Typing,
};
use common::{mint_id, Closed, Emu};
use serde_json::json;

#[tokio::test]
async fn a_direct_send_is_acked_and_delivered_stamped_to_the_other_member_only() {
    let emu = Emu::start().await;
    let (ann, bob) = (
        emu.sign_in("ann", "d-ann").await,
        emu.sign_in("bob", "d-bob").await,
    );
    let chat = emu.chat(&ann, "direct", &[&bob]).await;
    let (mut a, mut b) = (emu.connect(&ann).await, emu.connect(&bob).await);

    let id = a.send_text(&chat, "hello bob").await;
    let (acked, accepted_at) = a.ack().await;
    assert_eq!(acked, id);
    assert!(accepted_at > 0);

    let frame = b.next_frame().await;
    assert_eq!(frame.chat_id.as_deref(), Some(chat.as_str()));
    assert_eq!(frame.chat_type, Some(ChatType::Direct));
    let sender = frame.sender.expect("sender stamped");
    assert_eq!(
        (
            sender.id.as_str(),
            sender.kind.as_str(),
            sender.nick_name.as_str()
        ),
        (ann.user_id.as_str(), "direct", "ann")
    );
    assert!(matches!(frame.event, Event::Send(ref p) if p.message_id == id));
    a.expect_silence(200).await;
}

#[tokio::test]
async fn a_group_send_reaches_every_other_member() {
    let emu = Emu::start().await;
    let (ann, bob, cid) = (
        emu.sign_in("ann", "d1").await,
        emu.sign_in("bob", "d2").await,
        emu.sign_in("cid", "d3").await,
    );
    let chat = emu.chat(&ann, "group", &[&bob, &cid]).await;
    let (mut a, mut b, mut c) = (
        emu.connect(&ann).await,
        emu.connect(&bob).await,
        emu.connect(&cid).await,
    );
    b.send_text(&chat, "from bob").await;
    b.ack().await;
    for ws in [&mut a, &mut c] {
        let frame = ws.next_frame().await;
        assert_eq!(frame.chat_type, Some(ChatType::Group));
        assert!(matches!(frame.event, Event::Send(_)));
    }
    b.expect_silence(200).await;
}

#[tokio::test]
async fn sends_to_foreign_or_missing_chats_fail_with_terminal_codes() {
    let emu = Emu::start().await;
    let (ann, bob, eve) = (
        emu.sign_in("ann", "d1").await,
        emu.sign_in("bob", "d2").await,
        emu.sign_in("eve", "d3").await,
    );
    let chat = emu.chat(&ann, "direct", &[&bob]).await;
    let mut e = emu.connect(&eve).await;
    for (target, code) in [
        (chat.as_str(), send_codes::NOT_A_MEMBER),
        ("c-missing", send_codes::CHAT_NOT_FOUND),
    ] {
        let id = e.send_text(target, "sneaky").await;
        let frame = e.next_frame().await;
        assert_eq!(frame.trace_id, format!("t-{id}"));
        assert_eq!(frame.chat_id.as_deref(), Some(target));
        let Event::SendError(failure) = frame.event else {
            panic!("message.error")
        };
        assert_eq!(failure.code, code);
        assert!(send_codes::is_terminal(&failure.code));
        assert!(!failure.hint().is_empty());
        assert_eq!(failure.message_id.as_deref(), Some(id.as_str()));
    }
}

#[tokio::test]
async fn a_resend_with_the_same_id_coalesces() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let (mut a, mut b) = (emu.connect(&ann).await, emu.connect(&bob).await);
    let id = mint_id();
    a.send_message(&chat, &id, "once").await;
    let first = a.ack().await;
    a.send_message(&chat, &id, "once").await;
    assert_eq!(
        a.ack().await,
        first,
        "the resend is acked with the first acceptance time"
    );
    assert_eq!(b.receive_texts(1).await, ["once"]);
    b.expect_silence(300).await;
}

#[tokio::test]
async fn missed_envelopes_replay_in_order_after_reconnect_then_live_ones_follow() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let mut a = emu.connect(&ann).await;
    let mut b = emu.connect(&bob).await;
    a.send_text(&chat, "m0").await;
    a.ack().await;
    assert_eq!(b.receive_texts(1).await, ["m0"]);
    drop(b);
    for i in 1..=300 {
        a.send_text(&chat, &format!("m{i}")).await;
        a.ack().await;
    }
    let mut b = emu.connect(&bob).await;
    let expected: Vec<String> = (1..=300).map(|i| format!("m{i}")).collect();
    assert_eq!(
        b.receive_texts(300).await,
        expected,
        "replay is complete, in order, without m0"
    );
    a.send_text(&chat, "live").await;
    assert_eq!(b.receive_texts(1).await, ["live"]);
}

#[tokio::test]
async fn nothing_is_lost_across_a_real_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests();
    config.db = dir.path().join("db.sqlite3").to_string_lossy().into_owned();
    let emu = Emu::start_with(config.clone()).await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let mut b = emu.connect(&bob).await;
    let mut a = emu.connect(&ann).await;
    a.send_text(&chat, "before").await;
    a.ack().await;
    assert_eq!(b.receive_texts(1).await, ["before"]);
    drop(b);
    a.send_text(&chat, "while bob is away").await;
    a.ack().await;
    drop(a);
    emu.running.stop().await;

    let emu = Emu::start_with(config).await;
    let mut b = emu.connect(&bob).await;
    assert_eq!(
        b.receive_texts(1).await,
        ["while bob is away"],
        "tokens and inbox survive"
    );
    b.expect_silence(300).await;
}

#[tokio::test]
async fn typing_and_streaming_are_relayed_without_acks_or_echo() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let (mut a, mut b) = (emu.connect(&ann).await, emu.connect(&bob).await);
    a.send(&Frame::new(Event::Typing(Typing { is_typing: true }), "t1", 0).in_chat(&chat))
        .await;
    let frame = b.next_frame().await;
    assert!(matches!(
        frame.event,
        Event::Typing(Typing { is_typing: true })
    ));
    assert_eq!(frame.sender.unwrap().id, ann.user_id);
    let stream: StreamPayload =
        clawchat_wasm::json::from_str(r#"{"message_id": "msg-s", "sequence": 1, "fragments": []}"#)
            .unwrap();
    a.send(&Frame::new(Event::Stream(StreamPhase::Created, stream), "t2", 0).in_chat(&chat))
        .await;
    assert!(matches!(
        b.next_frame().await.event,
        Event::Stream(StreamPhase::Created, _)
    ));
    a.expect_silence(300).await;
}

#[tokio::test]
async fn app_ping_is_answered_with_pong_echoing_payload_and_trace() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "d1").await;
    let mut a = emu.connect(&ann).await;
    let n7 = || clawchat_wasm::json::from_str(r#"{"n":7}"#).unwrap();
    a.send(&Frame::new(Event::Ping(n7()), "t-ping", 0)).await;
    let pong = a.next_frame().await;
    assert_eq!(pong.trace_id, "t-ping");
    assert_eq!(pong.event, Event::Pong(n7()));
    assert_eq!(emu.stats().await["pings"], 1, "pings are counted");
}

#[tokio::test]
async fn bad_input_is_answered_and_the_server_keeps_serving() {
    let mut config = Config::for_tests();
    config.max_frame_bytes = 4096;
    let emu = Emu::start_with(config).await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let mut a = emu.connect(&ann).await;
    let mut b = emu.connect(&bob).await;
    for junk in [
        "{oops",
        "[]",
        r#"{"version":"2","event":"message.send","payload":{"message_id":5}}"#,
    ] {
        a.send_raw(junk).await;
        let Event::SendError(failure) = a.next_frame().await.event else {
            panic!("message.error for {junk}")
        };
        assert_eq!(failure.code, send_codes::INVALID_PAYLOAD);
    }
    a.send_raw(
        r#"{"version":"2","event":"future.event","trace_id":"t","emitted_at":0,"payload":{}}"#,
    )
    .await;
    a.expect_silence(200).await;
    a.send_raw(&"x".repeat(10_000)).await;
    assert!(
        matches!(a.closed().await, Closed::Code(_) | Closed::Abrupt),
        "oversized frame closes the socket"
    );
    b.send_text(&chat, "still serving").await;
    b.ack().await;
    assert!(emu.stats().await["bad_frames"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn ack_faults_delay_and_withhold() {
    let emu = Emu::start().await;
    let (ann, _bob, chat) = emu.direct_pair().await;
    let mut a = emu.connect(&ann).await;
    emu.admin("/admin/faults/acks", json!({"withhold": 1}))
        .await;
    a.send_text(&chat, "no ack").await;
    a.expect_silence(300).await;
    emu.admin("/admin/faults/acks", json!({"delay_ms": 400}))
        .await;
    let id = a.send_text(&chat, "late ack").await;
    a.expect_silence(250).await;
    assert_eq!(a.ack().await.0, id);
    emu.admin("/admin/faults/clear", json!({})).await;
    a.send_text(&chat, "prompt").await;
    assert!(tokio::time::timeout(Duration::from_millis(200), a.ack())
        .await
        .is_ok());
}

#[tokio::test]
async fn the_drop_ack_fault_cuts_the_socket_after_storing_each_send_until_spent() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    emu.admin("/admin/faults/acks", json!({"drop": 2})).await;
    let id = mint_id();
    for attempt in 0..2 {
        let mut a = emu.connect(&ann).await;
        a.send_message(&chat, &id, "dropped twice").await;
        assert_eq!(a.closed().await, Closed::Abrupt, "attempt {attempt}");
    }
    let mut a = emu.connect(&ann).await;
    a.send_message(&chat, &id, "dropped twice").await;
    assert_eq!(
        a.ack().await.0,
        id,
        "the fault is spent: the resend is acked"
    );
    assert_eq!(emu.stats().await["sends_accepted"], 3);
    let mut b = emu.connect(&bob).await;
    assert_eq!(b.receive_texts(1).await, ["dropped twice"]);
    b.expect_silence(200).await;
}

#[tokio::test]
async fn duplicate_replay_sends_an_envelope_twice() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let mut a = emu.connect(&ann).await;
    let id = a.send_text(&chat, "twice").await;
    a.ack().await;
    emu.admin("/admin/faults/duplicate-replay", json!({"count": 1}))
        .await;
    let mut b = emu.connect(&bob).await;
    for _ in 0..2 {
        assert!(matches!(b.next_frame().await.event, Event::Send(p) if p.message_id == id));
    }
    b.expect_silence(200).await;
}

#[tokio::test]
async fn drop_and_restart_knobs_cut_sockets_without_a_close_frame_and_keep_storage() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    for knob in ["/admin/drop-sockets", "/admin/restart"] {
        let mut a = emu.connect(&ann).await;
        emu.admin(knob, json!({})).await;
        assert_eq!(a.closed().await, Closed::Abrupt, "{knob}");
    }
    emu.admin("/admin/faults/handshake", json!({"count": 5}))
        .await;
    emu.admin("/admin/restart", json!({})).await;
    let mut a = emu.connect(&ann).await; // faults were wiped with the restart
    a.send_text(&chat, "after restart").await;
    a.ack().await;
    let mut b = emu.connect(&bob).await;
    assert_eq!(b.receive_texts(1).await, ["after restart"]);
}

#[tokio::test]
async fn media_uploads_are_stored_and_served() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "d1").await;
    let part = reqwest::multipart::Part::bytes(vec![1u8, 2, 3, 4])
        .file_name("dot.png")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let body: serde_json::Value = emu
        .http
        .post(format!("{}/media/upload", emu.running.base_url()))
        .bearer_auth(&ann.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(
        (body["data"]["mime"].as_str(), body["data"]["size"].as_u64()),
        (Some("image/png"), Some(4))
    );
    let url = format!(
        "{}{}",
        emu.running.base_url(),
        body["data"]["url"].as_str().unwrap()
    );
    let served = emu.http.get(url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), &[1, 2, 3, 4]);
}
