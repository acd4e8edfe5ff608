//! The connection machine driven through its paths with an injected clock.

use serde_json::json;

use super::*;
use crate::protocol::{decode, ids, Event, Fragment, Frame};

/// Counting entropy: deterministic ids, jitter fraction fixed at one half.
struct Counting(u128);

impl Entropy for Counting {
    fn next_u128(&mut self) -> u128 {
        self.0 += 1;
        self.0
    }
    fn fraction(&mut self) -> f64 {
        0.5
    }
}

fn machine(user_id: &str) -> Connection<Counting> {
    let config = SessionConfig {
        ws_url: "ws://hub/ws".into(),
        device_id: "dev-1".into(),
        user_id: user_id.into(),
        timings: Timings::default(),
        limits: OutboxLimits::default(),
        backoff: Backoff::default(),
    };
    Connection::new(config, "access-token".into(), Counting(0))
}

fn server(event: serde_json::Value) -> String {
    let mut frame = json!({"version": "2", "trace_id": "srv", "emitted_at": 1});
    frame
        .as_object_mut()
        .unwrap()
        .extend(event.as_object().unwrap().clone());
    frame.to_string()
}

fn challenge() -> String {
    server(json!({"event": "connect.challenge", "payload": {"nonce": "n-1"}}))
}

fn hello_ok() -> String {
    server(
        json!({"event": "hello-ok", "payload": {"device_id": "dev-1", "delivery_mode": "device_replay"}}),
    )
}

fn hello_fail(reason: &str) -> String {
    server(json!({"event": "hello-fail", "payload": {"reason": reason}}))
}

fn sent_frames(actions: &[Action]) -> Vec<Frame> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendText(text) => Some(decode(text).unwrap()),
            _ => None,
        })
        .collect()
}

fn ready(m: &mut Connection<Counting>, now: i64) {
    m.connect();
    m.on_open(now);
    m.on_text(&challenge(), now);
    m.on_text(&hello_ok(), now);
    assert_eq!(m.state(), &ConnState::Ready);
}

fn text(t: &str) -> Outgoing {
    Outgoing {
        fragments: vec![Fragment::text(t)],
        reply: None,
        message_id: None,
    }
}

fn completions(actions: &[Action]) -> Vec<&Completion> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::Completed(c) = a {
                Some(c)
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn the_handshake_answers_the_challenge_with_token_nonce_device_and_capabilities() {
    let mut m = machine("me");
    assert_eq!(
        m.connect(),
        [
            Action::State(ConnState::Connecting { attempt: 0 }),
            Action::OpenSocket("ws://hub/ws".into())
        ]
    );
    assert_eq!(m.on_open(0), [Action::State(ConnState::Handshaking)]);
    let frames = sent_frames(&m.on_text(&challenge(), 0));
    let Event::Connect(connect) = &frames[0].event else {
        panic!("connect expected")
    };
    assert_eq!(
        (connect.token.as_str(), connect.nonce.as_str()),
        ("access-token", "n-1")
    );
    assert_eq!(connect.device_id.as_deref(), Some("dev-1"));
    assert!(connect.capabilities.as_ref().unwrap().device_replay);
    assert!(
        !format!("{connect:?}").contains("access-token"),
        "Debug redacts the token"
    );
    assert_eq!(m.on_text(&hello_ok(), 5), [Action::State(ConnState::Ready)]);
}

#[test]
fn hello_fail_is_classified_and_always_backs_off() {
    for (reason, expect_refresh, expect_error) in [
        ("authentication failed", true, false),
        ("auth service unavailable", false, false),
        ("nonce mismatch", false, true),
    ] {
        let mut m = machine("me");
        m.connect();
        m.on_open(0);
        let actions = m.on_text(&hello_fail(reason), 0);
        assert_eq!(
            actions.contains(&Action::TokenRejected),
            expect_refresh,
            "{reason}"
        );
        assert_eq!(
            actions.iter().any(|a| matches!(a, Action::Error(_))),
            expect_error,
            "{reason}"
        );
        assert!(actions.contains(&Action::CloseSocket));
        assert!(
            matches!(m.state(), ConnState::Reconnecting { attempt: 1, .. }),
            "{reason}"
        );
        assert!(
            m.on_close(1).is_empty(),
            "the socket's own close event is then ignored"
        );
    }
}

#[test]
fn reconnect_delays_follow_the_backoff_and_reset_after_a_stable_connection() {
    let mut m = machine("me");
    let backoff = Backoff::default();
    m.connect();
    let mut delays = Vec::new();
    for attempt in 1..=7 {
        let actions = m.on_close(0);
        let Some(Action::ArmReconnect(delay)) = actions.last() else {
            panic!("reconnect armed")
        };
        assert!(*delay <= backoff.ceiling_ms(attempt) && *delay >= backoff.floor_ms);
        delays.push(*delay);
        assert_eq!(
            m.on_reconnect_timer()[1],
            Action::OpenSocket("ws://hub/ws".into())
        );
    }
    assert_eq!(delays, [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    m.on_open(0);
    m.on_text(&challenge(), 0);
    m.on_text(&hello_ok(), 0);
    let actions = m.on_close(Timings::default().stable_after_ms);
    assert_eq!(
        actions.last(),
        Some(&Action::ArmReconnect(500)),
        "stable for 5 s resets the backoff"
    );
}

#[test]
fn going_online_retries_at_once_and_a_stale_timer_is_ignored() {
    let mut m = machine("me");
    m.connect();
    m.on_close(0);
    assert!(m
        .on_online()
        .contains(&Action::OpenSocket("ws://hub/ws".into())));
    assert!(m.on_reconnect_timer().is_empty(), "already connecting");
}

#[test]
fn a_send_is_acked_by_its_id_and_a_failure_ack_surfaces_code_and_reason() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (id, actions) = m.send("c1", text("hi"), 10);
    assert!(ids::is_message_id(&id));
    let frame = &sent_frames(&actions)[0];
    assert_eq!(frame.chat_id.as_deref(), Some("c1"));
    assert!(
        matches!(&frame.event, Event::Send(p) if p.message_id == id && p.message_mode == "normal")
    );
    let ack = server(
        json!({"event": "message.ack", "trace_id": frame.trace_id, "payload": {"message_id": id, "accepted_at": 42}}),
    );
    let done = m.on_text(&ack, 20);
    assert_eq!(
        completions(&done)[0].outcome,
        Ok(Accepted {
            message_id: id.clone(),
            accepted_at: 42
        })
    );

    let (id2, actions) = m.send("c2", text("no"), 30);
    let trace = sent_frames(&actions)[0].trace_id.clone();
    let error = server(
        json!({"event": "message.error", "trace_id": trace, "chat_id": "c2", "payload": {"code": "not_a_member", "message": "legacy hint"}}),
    );
    let done = m.on_text(&error, 40);
    let failure = completions(&done)[0].outcome.clone().unwrap_err();
    assert_eq!(
        (
            failure.kind,
            failure.code.as_deref(),
            failure.reason.as_str()
        ),
        (SendErrorKind::Rejected, Some("not_a_member"), "legacy hint")
    );
    assert_eq!(
        (
            failure.message_id,
            failure.chat_id.as_str(),
            failure.trace_id
        ),
        (id2, "c2", trace)
    );
    let (_, later) = m.send("c2", text("again"), 50);
    assert_eq!(
        completions(&later)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::ChatClosed
    );
}

#[test]
fn an_ack_with_another_id_is_an_error_never_a_success() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, actions) = m.send("c1", text("hi"), 0);
    let trace = sent_frames(&actions)[0].trace_id.clone();
    let ack = server(
        json!({"event": "message.ack", "trace_id": trace, "payload": {"message_id": "msg-other", "accepted_at": 1}}),
    );
    let done = m.on_text(&ack, 1);
    assert_eq!(
        completions(&done)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::AckMismatch
    );
}

#[test]
fn a_send_during_a_drop_is_resent_with_the_same_frame_after_hello_ok() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, first) = m.send("c1", text("survive"), 0);
    let original = first
        .iter()
        .find_map(|a| {
            if let Action::SendText(t) = a {
                Some(t.clone())
            } else {
                None
            }
        })
        .unwrap();
    m.on_close(1);
    let (_, queued) = m.send("c1", text("while down"), 2);
    assert!(sent_frames(&queued).is_empty(), "queued while disconnected");
    m.on_reconnect_timer();
    m.on_open(3);
    m.on_text(&challenge(), 3);
    let flushed: Vec<String> = m
        .on_text(&hello_ok(), 4)
        .into_iter()
        .filter_map(|a| {
            if let Action::SendText(t) = a {
                Some(t)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(flushed.len(), 2);
    assert_eq!(
        flushed[0], original,
        "byte-identical resend, same message id"
    );
}

#[test]
fn ack_timeouts_and_queue_expiry_fail_with_reasons() {
    let mut m = machine("me");
    ready(&mut m, 0);
    m.send("c1", text("unacked"), 0);
    let done = m.on_tick(OutboxLimits::default().ack_timeout_ms);
    assert_eq!(
        completions(&done)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::AckTimeout
    );
    m.on_close(20_000);
    m.send("c1", text("stuck"), 20_000);
    let done = m.on_tick(20_000 + OutboxLimits::default().max_age_ms);
    let failure = completions(&done)[0].outcome.clone().unwrap_err();
    assert_eq!(failure.kind, SendErrorKind::Expired);
    assert!(failure.reason.contains("not delivered"));
}

#[test]
fn a_handshake_that_never_completes_times_out() {
    let mut m = machine("me");
    m.connect();
    m.on_open(0);
    assert!(m
        .on_tick(9_999)
        .iter()
        .all(|a| !matches!(a, Action::CloseSocket)));
    let actions = m.on_tick(10_000);
    assert!(actions.contains(&Action::CloseSocket));
    assert!(matches!(m.state(), ConnState::Reconnecting { .. }));
}

#[test]
fn a_quiet_socket_is_pinged_and_a_silent_one_is_declared_dead() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let timings = Timings::default();
    let pings = sent_frames(&m.on_tick(timings.ping_interval_ms));
    assert!(matches!(pings[0].event, Event::Ping(_)));
    assert!(
        sent_frames(&m.on_tick(timings.ping_interval_ms + 1_000)).is_empty(),
        "one ping per interval"
    );
    let actions = m.on_tick(timings.dead_after_ms);
    assert!(actions.contains(&Action::CloseSocket));
    assert!(matches!(m.state(), ConnState::Reconnecting { .. }));
}

#[test]
fn inbound_messages_are_delivered_once_and_self_echo_is_dropped() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let message = |sender: &str| {
        server(
            json!({"event": "message.send", "chat_id": "c1", "chat_type": "direct",
            "sender": {"id": sender, "type": "direct", "nick_name": "Ann"},
            "payload": {"message_id": "msg-1", "message": {"body": {"fragments": [{"kind": "text", "text": "yo"}]}}}}),
        )
    };
    assert!(matches!(
        &m.on_text(&message("ann"), 1)[..],
        [Action::Deliver(Delivery::Message(_))]
    ));
    assert!(
        m.on_text(&message("ann"), 2).is_empty(),
        "replayed duplicate"
    );
    let mut echo = machine("ann");
    ready(&mut echo, 0);
    assert!(echo.on_text(&message("ann"), 1).is_empty());
    let mut blind = machine("");
    ready(&mut blind, 0);
    assert!(matches!(
        &blind.on_text(&message("ann"), 1)[..],
        [Action::Error(ClientError {
            kind: "self_echo_guard",
            ..
        })]
    ));
}

#[test]
fn malformed_frames_are_reported_and_the_connection_lives_on() {
    let mut m = machine("me");
    ready(&mut m, 0);
    for junk in [
        "",
        "{",
        "[1]",
        r#"{"event":"message.ack","payload":{"message_id":3}}"#,
    ] {
        let actions = m.on_text(junk, 1);
        assert!(
            matches!(
                &actions[..],
                [Action::Error(ClientError {
                    kind: "malformed_frame",
                    ..
                })]
            ),
            "{junk}"
        );
        assert!(!format!("{actions:?}").contains("access-token"));
    }
    assert_eq!(m.state(), &ConnState::Ready);
}

#[test]
fn app_pings_are_answered_and_typing_goes_out_only_when_ready() {
    let mut m = machine("me");
    assert!(m.set_typing("c1", true, 0).is_empty());
    ready(&mut m, 0);
    let pong = sent_frames(&m.on_text(&server(json!({"event": "ping", "payload": {"k": 1}})), 1));
    assert_eq!(pong[0].event, Event::Pong(json!({"k": 1})));
    let typing = sent_frames(&m.set_typing("c1", true, 2));
    assert!(matches!(&typing[0].event, Event::Typing(t) if t.is_typing));
}

#[test]
fn disconnect_and_logout_fail_pending_sends_and_stop_reconnecting() {
    let mut m = machine("me");
    ready(&mut m, 0);
    m.send("c1", text("pending"), 0);
    let actions = m.logout("refresh token rejected");
    let failure = completions(&actions)[0].outcome.clone().unwrap_err();
    assert_eq!(failure.kind, SendErrorKind::Closed);
    assert!(failure.reason.contains("logged out"));
    assert!(actions.contains(&Action::CloseSocket));
    assert_eq!(m.state(), &ConnState::LoggedOut);
    assert!(m.on_close(1).is_empty() && m.on_reconnect_timer().is_empty());
    assert!(matches!(&m.connect()[..], [Action::Error(_)]));
    let (_, refused) = m.send("c1", text("after"), 2);
    assert_eq!(
        completions(&refused)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::Closed
    );
}

#[test]
fn a_new_token_replaces_a_ready_socket_make_before_break() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, sent) = m.send("c1", text("in flight"), 5);
    let original = sent_frames(&sent)[0].encode_uplink();
    let actions = m.reconnect_with_token("fresh-token".into(), 10);
    assert!(
        !actions.contains(&Action::CloseSocket),
        "the old socket keeps being read"
    );
    assert_eq!(
        actions.last(),
        Some(&Action::ReplaceSocket("ws://hub/ws".into()))
    );
    let late = server(
        json!({"event": "message.send", "chat_id": "c1", "sender": {"id": "ann", "type": "direct", "nick_name": "Ann"},
        "payload": {"message_id": "msg-late", "message": {"body": {"fragments": [{"kind": "text", "text": "late"}]}}}}),
    );
    assert!(
        matches!(&m.on_text(&late, 11)[..], [Action::Deliver(_)]),
        "frames still arriving on the old socket are delivered"
    );
    m.on_open(12);
    let Event::Connect(connect) = &sent_frames(&m.on_text(&challenge(), 12))[0].event else {
        panic!()
    };
    assert_eq!(connect.token, "fresh-token");
    let flushed = sent_frames(&m.on_text(&hello_ok(), 13));
    assert_eq!(
        flushed[0].encode_uplink(),
        original,
        "the in-flight send goes again, same frame"
    );
}

#[test]
fn a_new_token_during_a_handshake_reconnects_at_once() {
    let mut m = machine("me");
    m.connect();
    m.on_open(0);
    let actions = m.reconnect_with_token("fresh-token".into(), 10);
    assert!(actions.contains(&Action::CloseSocket));
    assert_eq!(actions.last(), Some(&Action::ArmReconnect(0)));
    m.on_reconnect_timer();
    m.on_open(11);
    let Event::Connect(connect) = &sent_frames(&m.on_text(&challenge(), 11))[0].event else {
        panic!()
    };
    assert_eq!(connect.token, "fresh-token");
}

#[test]
fn a_retry_may_reuse_its_message_id() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let id = ids::message_id(5, 5);
    let (got, _) = m.send(
        "c1",
        Outgoing {
            message_id: Some(id.clone()),
            ..text("again")
        },
        0,
    );
    assert_eq!(got, id);
    let (minted, _) = m.send(
        "c1",
        Outgoing {
            message_id: Some("bogus".into()),
            ..text("x")
        },
        0,
    );
    assert_ne!(minted, "bogus");
}

#[test]
fn identity_set_after_construction_is_used_for_connect_and_the_guard() {
    let mut m = machine("");
    m.set_identity("me", "dev-9", "loaded-token".into());
    ready(&mut m, 0);
    m.connect();
    let mut fresh = machine("");
    fresh.set_identity("me", "dev-9", "loaded-token".into());
    fresh.connect();
    fresh.on_open(0);
    let Event::Connect(connect) = &sent_frames(&fresh.on_text(&challenge(), 0))[0].event else {
        panic!()
    };
    assert_eq!(
        (connect.token.as_str(), connect.device_id.as_deref()),
        ("loaded-token", Some("dev-9"))
    );
    let echo = server(
        json!({"event": "message.send", "chat_id": "c", "sender": {"id": "me", "type": "direct", "nick_name": "Me"},
        "payload": {"message_id": "msg-x", "message": {"body": {"fragments": []}}}}),
    );
    assert!(
        m.on_text(&echo, 1).is_empty(),
        "guard open and our echo dropped"
    );
}
