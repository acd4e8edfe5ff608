//! The connection machine driven through its paths with an injected clock.

use serde_json::json;

use super::*;
use crate::protocol::{decode, ids, Event, Fragment, Frame, CLOSE_SESSION_TAKEN_OVER};

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

/// The wall clock at monotonic 0 of these tests.
const WALL0: i64 = 1_700_000_000_000;

/// Both clocks `ms` into the test.
fn at(ms: i64) -> Now {
    Now::new(ms, WALL0 + ms)
}

/// Sends and reports the row saved at once (a memory-only store): the actions of both.
fn send(
    m: &mut Connection<Counting>,
    chat: &str,
    outgoing: Outgoing,
    ms: i64,
) -> (String, Vec<Action>) {
    let (id, mut actions) = m.send(chat, outgoing, at(ms));
    actions.extend(m.on_row_saved(&id, at(ms)));
    (id, actions)
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
    m.on_open(at(now));
    m.on_text(&challenge(), at(now));
    m.on_text(&hello_ok(), at(now));
    assert_eq!(m.state(), &ConnState::Ready);
}

fn text(t: &str) -> Outgoing {
    Outgoing {
        fragments: vec![Fragment::text(t)],
        reply: None,
        message_id: None,
    }
}

fn sent_texts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendText(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Reconnects after a close: timer, open, challenge, `hello-ok`; the actions of the
/// `hello-ok` (the flushed sends).
fn reconnect(m: &mut Connection<Counting>, now: i64) -> Vec<Action> {
    m.on_reconnect_timer();
    m.on_open(at(now));
    m.on_text(&challenge(), at(now));
    m.on_text(&hello_ok(), at(now))
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
    assert_eq!(m.on_open(at(0)), [Action::State(ConnState::Handshaking)]);
    let frames = sent_frames(&m.on_text(&challenge(), at(0)));
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
    assert_eq!(
        m.on_text(&hello_ok(), at(5)),
        [Action::State(ConnState::Ready)]
    );
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
        m.on_open(at(0));
        let actions = m.on_text(&hello_fail(reason), at(0));
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
            m.on_close(1000, at(1)).is_empty(),
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
        let actions = m.on_close(1000, at(0));
        let Some(Action::ArmReconnect(delay)) = actions.last() else {
            panic!("reconnect armed")
        };
        assert!(*delay <= backoff.ceiling_ms(attempt) && *delay >= backoff.base_ms(attempt));
        delays.push(*delay);
        assert_eq!(
            m.on_reconnect_timer()[1],
            Action::OpenSocket("ws://hub/ws".into())
        );
    }
    // 500 ms doubling to 15 s, plus 15 % (the fixed jitter fraction 0.5 of 30 %).
    assert_eq!(delays, [575, 1_150, 2_300, 4_600, 9_200, 17_250, 17_250]);
    m.on_open(at(0));
    m.on_text(&challenge(), at(0));
    m.on_text(&hello_ok(), at(0));
    let actions = m.on_close(1000, at(Timings::default().stable_after_ms));
    assert_eq!(
        actions.last(),
        Some(&Action::ArmReconnect(575)),
        "stable for 5 s resets the backoff"
    );
}

#[test]
fn going_online_retries_at_once_and_a_stale_timer_is_ignored() {
    let mut m = machine("me");
    m.connect();
    m.on_close(1000, at(0));
    assert!(m
        .on_wake(Wake::Online, at(0))
        .contains(&Action::OpenSocket("ws://hub/ws".into())));
    assert!(m.on_reconnect_timer().is_empty(), "already connecting");
}

#[test]
fn a_send_is_acked_by_its_id_and_a_failure_ack_surfaces_code_and_reason() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (id, actions) = send(&mut m, "c1", text("hi"), 10);
    assert!(ids::is_message_id(&id));
    let frame = &sent_frames(&actions)[0];
    assert_eq!(frame.chat_id.as_deref(), Some("c1"));
    assert!(
        matches!(&frame.event, Event::Send(p) if p.message_id == id && p.message_mode == "normal")
    );
    let ack = server(
        json!({"event": "message.ack", "trace_id": frame.trace_id, "payload": {"message_id": id, "accepted_at": 42}}),
    );
    let done = m.on_text(&ack, at(20));
    assert_eq!(
        completions(&done)[0].outcome,
        Ok(Accepted {
            message_id: id.clone(),
            accepted_at: 42
        })
    );

    let (id2, actions) = send(&mut m, "c2", text("no"), 30);
    let trace = sent_frames(&actions)[0].trace_id.clone();
    let error = server(
        json!({"event": "message.error", "trace_id": trace, "chat_id": "c2", "payload": {"code": "not_a_member", "message": "legacy hint"}}),
    );
    let done = m.on_text(&error, at(40));
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
    let (_, later) = send(&mut m, "c2", text("again"), 50);
    assert_eq!(
        completions(&later)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::ChatClosed
    );
}

#[test]
fn an_ack_with_another_id_is_an_error_never_a_success() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, actions) = send(&mut m, "c1", text("hi"), 0);
    let trace = sent_frames(&actions)[0].trace_id.clone();
    let ack = server(
        json!({"event": "message.ack", "trace_id": trace, "payload": {"message_id": "msg-other", "accepted_at": 1}}),
    );
    let done = m.on_text(&ack, at(1));
    assert_eq!(
        completions(&done)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::AckMismatch
    );
}

#[test]
fn a_send_during_a_drop_is_resent_with_the_same_frame_after_hello_ok() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, first) = send(&mut m, "c1", text("survive"), 0);
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
    m.on_close(1000, at(1));
    let (_, queued) = send(&mut m, "c1", text("while down"), 2);
    assert!(sent_frames(&queued).is_empty(), "queued while disconnected");
    m.on_reconnect_timer();
    m.on_open(at(3));
    m.on_text(&challenge(), at(3));
    let flushed: Vec<String> = m
        .on_text(&hello_ok(), at(4))
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
fn a_write_that_throws_is_reported_drops_the_socket_and_the_send_goes_again() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, first) = send(&mut m, "c1", text("across requests"), 0);
    let original = sent_texts(&first);
    assert_eq!(original.len(), 1);
    let thrown = "Cannot perform I/O on behalf of a different request. I/O objects ...";
    let actions = m.on_send_failed(thrown, at(1));
    let kinds: Vec<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Error(e) => Some(e.kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["cross_request_io"]);
    assert!(actions.contains(&Action::CloseSocket));
    assert!(completions(&actions).is_empty(), "the send is not failed");
    assert!(matches!(m.state(), ConnState::Reconnecting { .. }));
    assert!(
        m.on_send_failed(thrown, at(2)).is_empty(),
        "a later throw of the dropped socket changes nothing"
    );
    let flushed = reconnect(&mut m, 3);
    assert_eq!(
        sent_texts(&flushed),
        original,
        "the same frame, on the new socket"
    );
    assert!(completions(&flushed).is_empty());
}

#[test]
fn an_ack_timeout_marks_the_send_unconfirmed_and_the_next_connection_sends_it_again() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (id, sent) = send(&mut m, "c1", text("unacked"), 0);
    let frame = sent_texts(&sent);
    let timeout = OutboxLimits::default().ack_timeout_ms;
    let done = m.on_tick(at(timeout));
    assert!(completions(&done).is_empty(), "not failed");
    let row = done.iter().find_map(|a| match a {
        Action::PersistRow(row) => Some(row.clone()),
        _ => None,
    });
    assert_eq!(row.map(|r| r.status), Some(RowStatus::Unconfirmed));
    let Some(Action::Unconfirmed(note)) = done.iter().find(|a| matches!(a, Action::Unconfirmed(_)))
    else {
        panic!("unconfirmed expected: {done:?}")
    };
    assert_eq!(
        (note.message_id.as_str(), note.chat_id.as_str()),
        (id.as_str(), "c1")
    );
    assert!(sent_texts(&m.on_tick(at(timeout + 1_000)))
        .iter()
        .all(|t| !t.contains(&id)));
    m.on_close(1000, at(timeout + 2_000));
    assert_eq!(sent_texts(&reconnect(&mut m, timeout + 3_000)), frame);
    let ack = server(
        json!({"event": "message.ack", "trace_id": "other", "payload": {"message_id": id, "accepted_at": 9}}),
    );
    let done = m.on_text(&ack, at(timeout + 3_100));
    assert_eq!(done[0], Action::RemoveRow(id.clone()));
    assert!(completions(&done)[0].outcome.is_ok());
}

#[test]
fn only_the_maximum_age_ends_a_queued_send() {
    let mut m = machine("me");
    m.connect();
    m.on_close(1000, at(0));
    let (id, _) = send(&mut m, "c1", text("stuck"), 0);
    let max_age = OutboxLimits::default().max_age_ms;
    assert_eq!(max_age, 24 * 3_600_000);
    assert!(completions(&m.on_tick(at(max_age - 1))).is_empty());
    let done = m.on_tick(at(max_age));
    assert_eq!(done[0], Action::RemoveRow(id));
    let failure = completions(&done)[0].outcome.clone().unwrap_err();
    assert_eq!(failure.kind, SendErrorKind::Expired);
    assert!(failure.reason.contains("not delivered"));
}

#[test]
fn a_handshake_that_never_completes_times_out() {
    let mut m = machine("me");
    m.connect();
    m.on_open(at(0));
    assert!(m
        .on_tick(at(9_999))
        .iter()
        .all(|a| !matches!(a, Action::CloseSocket)));
    let actions = m.on_tick(at(10_000));
    assert!(actions.contains(&Action::CloseSocket));
    assert!(matches!(m.state(), ConnState::Reconnecting { .. }));
}

#[test]
fn a_quiet_socket_is_pinged_and_a_silent_one_is_dropped_within_interval_plus_window() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let mut pings = Vec::new();
    let mut dropped = None;
    for now in (1_000..=60_000).step_by(1_000) {
        let actions = m.on_tick(at(now));
        pings.extend(
            sent_frames(&actions)
                .iter()
                .filter(|f| matches!(f.event, Event::Ping(_)))
                .map(|_| now),
        );
        if actions.contains(&Action::CloseSocket) {
            dropped = Some(now);
            break;
        }
    }
    assert_eq!(pings, [20_000], "one ping after 20 s of quiet");
    assert_eq!(dropped, Some(30_000), "dead 10 s after the unanswered ping");
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
        &m.on_text(&message("ann"), at(1))[..],
        [Action::Deliver(Delivery::Message(_))]
    ));
    assert!(
        m.on_text(&message("ann"), at(2)).is_empty(),
        "replayed duplicate"
    );
    let mut echo = machine("ann");
    ready(&mut echo, 0);
    assert!(echo.on_text(&message("ann"), at(1)).is_empty());
    let mut blind = machine("");
    ready(&mut blind, 0);
    assert!(matches!(
        &blind.on_text(&message("ann"), at(1))[..],
        [Action::Error(ClientError {
            kind: "self_echo_guard",
            ..
        })]
    ));
}

#[test]
fn a_message_another_tab_delivered_is_not_delivered_again_after_a_hand_over() {
    let mut m = machine("me");
    assert!(m.delivered_elsewhere("msg-1"), "relayed by the old leader");
    assert!(!m.delivered_elsewhere("msg-1"), "relayed twice");
    ready(&mut m, 0);
    let replayed = server(
        json!({"event": "message.send", "chat_id": "c1", "chat_type": "direct",
        "sender": {"id": "ann", "type": "direct", "nick_name": "Ann"},
        "payload": {"message_id": "msg-1", "message": {"body": {"fragments": [{"kind": "text", "text": "yo"}]}}}}),
    );
    assert!(m.on_text(&replayed, at(1)).is_empty(), "this tab now leads");
    assert!(
        !m.delivered_elsewhere("msg-1"),
        "a late relay after our replay"
    );
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
        let actions = m.on_text(junk, at(1));
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
    assert!(m.set_typing("c1", true, at(0)).is_empty());
    ready(&mut m, 0);
    let pong = sent_frames(&m.on_text(
        &server(json!({"event": "ping", "payload": {"k": 1}})),
        at(1),
    ));
    assert_eq!(
        pong[0].event,
        Event::Pong(crate::json::from_str(r#"{"k":1}"#).unwrap())
    );
    let typing = sent_frames(&m.set_typing("c1", true, at(2)));
    assert!(matches!(&typing[0].event, Event::Typing(t) if t.is_typing));
}

#[test]
fn disconnect_and_logout_fail_pending_sends_and_stop_reconnecting() {
    let mut m = machine("me");
    ready(&mut m, 0);
    send(&mut m, "c1", text("pending"), 0);
    let actions = m.logout("refresh token rejected");
    let failure = completions(&actions)[0].outcome.clone().unwrap_err();
    assert_eq!(failure.kind, SendErrorKind::Closed);
    assert!(failure.reason.contains("logged out"));
    assert!(actions.contains(&Action::CloseSocket));
    assert_eq!(m.state(), &ConnState::LoggedOut);
    assert!(m.on_close(1000, at(1)).is_empty() && m.on_reconnect_timer().is_empty());
    assert!(matches!(&m.connect()[..], [Action::Error(_)]));
    let (_, refused) = send(&mut m, "c1", text("after"), 2);
    assert_eq!(
        completions(&refused)[0].outcome.clone().unwrap_err().kind,
        SendErrorKind::Closed
    );
}

#[test]
fn a_new_token_replaces_a_ready_socket_make_before_break() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (_, sent) = send(&mut m, "c1", text("in flight"), 5);
    let original = sent_frames(&sent)[0].encode_uplink();
    let actions = m.reconnect_with_token("fresh-token".into(), at(10));
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
        matches!(&m.on_text(&late, at(11))[..], [Action::Deliver(_)]),
        "frames still arriving on the old socket are delivered"
    );
    m.on_open(at(12));
    let Event::Connect(connect) = &sent_frames(&m.on_text(&challenge(), at(12)))[0].event else {
        panic!()
    };
    assert_eq!(connect.token, "fresh-token");
    let flushed = sent_frames(&m.on_text(&hello_ok(), at(13)));
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
    m.on_open(at(0));
    let actions = m.reconnect_with_token("fresh-token".into(), at(10));
    assert!(actions.contains(&Action::CloseSocket));
    assert_eq!(actions.last(), Some(&Action::ArmReconnect(0)));
    m.on_reconnect_timer();
    m.on_open(at(11));
    let Event::Connect(connect) = &sent_frames(&m.on_text(&challenge(), at(11)))[0].event else {
        panic!()
    };
    assert_eq!(connect.token, "fresh-token");
}

#[test]
fn a_retry_may_reuse_its_message_id() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let id = ids::message_id(5, 5);
    let (got, _) = send(
        &mut m,
        "c1",
        Outgoing {
            message_id: Some(id.clone()),
            ..text("again")
        },
        0,
    );
    assert_eq!(got, id);
    let (minted, _) = send(
        &mut m,
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
    fresh.on_open(at(0));
    let Event::Connect(connect) = &sent_frames(&fresh.on_text(&challenge(), at(0)))[0].event else {
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
        m.on_text(&echo, at(1)).is_empty(),
        "guard open and our echo dropped"
    );
}

/// Both clocks with the wall clock shifted by `skew` ms.
fn skewed(ms: i64, skew: i64) -> Now {
    Now::new(ms, WALL0 + ms + skew)
}

fn pong() -> String {
    server(json!({"event": "pong", "payload": {}}))
}

fn ack_for(id: &str) -> String {
    server(
        json!({"event": "message.ack", "trace_id": "x", "payload": {"message_id": id, "accepted_at": 1}}),
    )
}

#[test]
fn wall_clock_steps_of_an_hour_either_way_change_nothing() {
    for skew in [-3_600_000, 3_600_000] {
        let mut m = machine("me");
        ready(&mut m, 0);
        let (id, _) = send(&mut m, "c1", text("steady"), 0);
        let mut pinged = Vec::new();
        let mut other = Vec::new();
        for now in (1_000..=19_000).step_by(1_000) {
            other.extend(m.on_tick(skewed(now, skew)));
        }
        let actions = m.on_tick(skewed(20_000, skew));
        pinged.extend(
            sent_frames(&actions)
                .into_iter()
                .map(|f| f.event.name().to_owned()),
        );
        m.on_text(&pong(), skewed(20_050, skew));
        for now in (21_000..=40_000).step_by(1_000) {
            other.extend(m.on_tick(skewed(now, skew)));
        }
        assert_eq!(pinged, ["ping"], "{skew}: pings on the monotonic clock");
        assert!(completions(&other).is_empty(), "{skew}: nothing expired");
        assert_eq!(m.state(), &ConnState::Ready, "{skew}: not dropped");
        assert!(
            other.iter().any(|a| matches!(a, Action::Unconfirmed(_))),
            "{skew}: ack timeout at 15 s monotonic"
        );
        let done = m.on_text(&ack_for(&id), skewed(40_500, skew));
        assert!(completions(&done)[0].outcome.is_ok(), "{skew}");
    }
}

#[test]
fn minute_long_tick_gaps_with_a_live_socket_never_drop_it() {
    let mut m = machine("me");
    ready(&mut m, 0);
    for now in (60_000..=1_800_000).step_by(60_000) {
        let actions = m.on_tick(at(now));
        assert!(!actions.contains(&Action::CloseSocket), "dropped at {now}");
        if sent_frames(&actions)
            .iter()
            .any(|f| matches!(f.event, Event::Ping(_)))
        {
            m.on_text(&pong(), at(now + 40));
        }
    }
    assert_eq!(m.state(), &ConnState::Ready);
}

#[test]
fn with_throttled_ticks_a_silent_socket_is_still_dropped() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let first = m.on_tick(at(60_000));
    assert!(sent_frames(&first)
        .iter()
        .any(|f| matches!(f.event, Event::Ping(_))));
    assert!(!first.contains(&Action::CloseSocket), "ping first");
    assert!(m.on_tick(at(120_000)).contains(&Action::CloseSocket));
}

#[test]
fn waking_up_pings_a_quiet_socket_at_once() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let actions = m.on_wake(Wake::Visible, at(50_000));
    assert!(matches!(sent_frames(&actions)[0].event, Event::Ping(_)));
    m.on_text(&pong(), at(50_030));
    assert!(m.on_wake(Wake::Focus, at(50_100)).is_empty(), "just heard");
}

#[test]
fn twenty_drops_right_after_a_send_then_one_ack_settles_it_with_one_frame() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (id, first) = send(&mut m, "c1", text("through the storm"), 0);
    let mut written = sent_texts(&first);
    let mut settled = Vec::new();
    for drop in 1..=20 {
        let t = drop * 100;
        settled.extend(m.on_close(1006, at(t)));
        written.extend(sent_texts(&reconnect(&mut m, t + 50)));
    }
    assert!(completions(&settled).is_empty(), "never given up");
    assert_eq!(written.len(), 21, "written once per connection");
    assert!(written.iter().all(|w| *w == written[0]), "byte-identical");
    let Event::Send(payload) = decode(&written[0]).unwrap().event else {
        panic!()
    };
    assert_eq!(payload.message_id, id);
    assert_eq!(m.pending()[0].attempts, 21);
    let done = m.on_text(&ack_for(&id), at(3_000));
    assert_eq!(completions(&done).len(), 1);
    assert!(completions(&done)[0].outcome.is_ok());
    assert!(m.pending().is_empty());
}

#[test]
fn a_send_is_persisted_before_it_is_first_written_and_removed_when_it_ends() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (id, actions) = m.send("c1", text("durable"), at(0));
    let [Action::PersistRow(row)] = &actions[..] else {
        panic!("only a row to store: {actions:?}")
    };
    assert_eq!(
        (
            row.message_id.as_str(),
            row.chat_id.as_str(),
            row.created_at,
            row.status
        ),
        (id.as_str(), "c1", WALL0, RowStatus::Queued)
    );
    assert!(m
        .on_tick(at(1_000))
        .iter()
        .all(|a| !matches!(a, Action::SendText(t) if t.contains(&id))));
    let written = sent_texts(&m.on_row_saved(&id, at(1_500)));
    assert_eq!(
        written,
        [row.frame.as_str()],
        "the stored frame, byte for byte"
    );
    assert!(m.on_row_saved(&id, at(1_600)).is_empty(), "once");
    assert_eq!(
        OutboxRow::parse(&crate::json::to_string(row)).as_ref(),
        Ok(row)
    );
    let done = m.on_text(&ack_for(&id), at(2_000));
    assert_eq!(done[0], Action::RemoveRow(id));

    let (_, refused) = m.send(" ", text("nowhere"), at(3_000));
    assert!(
        refused
            .iter()
            .all(|a| !matches!(a, Action::PersistRow(_) | Action::RemoveRow(_))),
        "a refused send is never stored"
    );
}

#[test]
fn a_send_made_offline_is_stored_and_goes_out_after_hello_ok() {
    let mut m = machine("me");
    m.connect();
    m.on_close(1006, at(0));
    let (id, actions) = send(&mut m, "c1", text("offline"), 10);
    assert!(matches!(&actions[..], [Action::PersistRow(_)]));
    let flushed = sent_texts(&reconnect(&mut m, 1_000));
    assert!(flushed[0].contains(&id));
}

#[test]
fn stored_rows_are_restored_with_their_ids_and_sent_once_ready() {
    let mut original = machine("me");
    ready(&mut original, 0);
    let (id, actions) = original.send("c1", text("from the last page"), at(0));
    let Action::PersistRow(row) = &actions[0] else {
        panic!()
    };
    let stored = crate::json::to_string(row);

    // A new page, an hour of monotonic time later, 2 min of wall time later.
    let mut m = machine("me");
    let now = Now::new(5, WALL0 + 120_000);
    let parsed = OutboxRow::parse(&stored).unwrap();
    let (skipped, actions) = m.restore(vec![parsed.clone()], now);
    assert!(skipped.is_empty() && actions.is_empty(), "not ready yet");
    let (skipped, _) = m.restore(vec![parsed], now);
    assert_eq!(skipped, [(id.clone(), RowError::AlreadyPending)]);
    ready(&mut m, 10);
    assert_eq!(m.pending()[0].attempts, 1);
    let m_frames: Vec<String> = m.pending().iter().map(|p| p.frame.clone()).collect();
    assert_eq!(m_frames, [row.frame.as_str()]);
    let done = m.on_text(&ack_for(&id), at(20));
    assert!(completions(&done)[0].outcome.is_ok());
}

#[test]
fn replay_done_ends_the_replay_or_a_five_second_fallback_does() {
    let mut m = machine("me");
    ready(&mut m, 0);
    assert!(m.replaying());
    let done = m.on_text(
        &server(json!({"event": "replay.done", "payload": {}})),
        at(300),
    );
    assert_eq!(done, [Action::ReplayDone { timed_out: false }]);
    assert!(!m.replaying());
    assert!(m
        .on_text(
            &server(json!({"event": "replay.done", "payload": {}})),
            at(400)
        )
        .is_empty());

    let mut silent = machine("me");
    ready(&mut silent, 0);
    assert!(!silent
        .on_tick(at(4_999))
        .iter()
        .any(|a| matches!(a, Action::ReplayDone { .. })));
    assert!(silent
        .on_tick(at(5_000))
        .contains(&Action::ReplayDone { timed_out: true }));
    assert!(!silent.replaying());
}

#[test]
fn a_takeover_close_waits_at_least_five_seconds_even_when_online() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let actions = m.on_close(CLOSE_SESSION_TAKEN_OVER, at(100));
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Error(e) if e.kind == "session_taken_over")));
    let Some(Action::ArmReconnect(delay)) = actions.last() else {
        panic!()
    };
    assert!(*delay >= 5_000, "{delay}");
    assert!(m.on_wake(Wake::Online, at(1_000)).is_empty(), "floor holds");
    assert!(m.on_tick(at(5_099)).is_empty());
    assert!(m
        .on_wake(Wake::Online, at(5_100))
        .contains(&Action::OpenSocket("ws://hub/ws".into())));

    let mut plain = machine("me");
    ready(&mut plain, 0);
    let Some(Action::ArmReconnect(delay)) = plain.on_close(1006, at(100)).last().cloned() else {
        panic!()
    };
    assert!(delay < 1_000, "{delay}");
}

#[test]
fn a_throttled_reconnect_timer_is_caught_by_the_tick() {
    let mut m = machine("me");
    m.connect();
    m.on_close(1006, at(0));
    assert!(m.on_tick(at(100)).is_empty());
    assert!(m
        .on_tick(at(60_000))
        .contains(&Action::OpenSocket("ws://hub/ws".into())));
}

#[test]
fn typing_is_refreshed_while_typing_and_peers_expire_after_six_seconds() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let typing_sends = |actions: &[Action]| -> Vec<bool> {
        sent_frames(actions)
            .iter()
            .filter_map(|f| match &f.event {
                Event::Typing(t) => Some(t.is_typing),
                _ => None,
            })
            .collect()
    };
    assert_eq!(typing_sends(&m.set_typing("c1", true, at(0))), [true]);
    assert!(m.set_typing("c1", true, at(1_000)).is_empty(), "throttled");
    let mut refreshes = Vec::new();
    for now in (1_000..=4_000).step_by(1_000) {
        let mut actions = m.on_tick(at(now));
        actions.extend(m.set_typing("c1", true, at(now)));
        refreshes.extend(typing_sends(&actions).into_iter().map(|t| (now, t)));
    }
    assert_eq!(refreshes, [(3_000, true)]);
    assert_eq!(typing_sends(&m.set_typing("c1", false, at(4_500))), [false]);

    let peer = |typing: bool| {
        server(
            json!({"event": "typing.update", "chat_id": "c1", "sender": {"id": "ann", "type": "direct", "nick_name": "Ann"}, "payload": {"is_typing": typing}}),
        )
    };
    let shown = m.on_text(&peer(true), at(10_000));
    assert!(matches!(&shown[..], [Action::Deliver(Delivery::Typing(t))] if t.is_typing));
    assert!(m.on_text(&peer(true), at(13_000)).is_empty(), "a refresh");
    let expired: Vec<Action> = (14_000..=19_000)
        .step_by(1_000)
        .flat_map(|now| m.on_tick(at(now)))
        .filter(|a| matches!(a, Action::Deliver(_)))
        .collect();
    assert!(
        matches!(&expired[..], [Action::Deliver(Delivery::Typing(t))] if !t.is_typing),
        "{expired:?}"
    );
}

#[test]
fn a_mention_of_all_mentions_us() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let message = |id: &str, user: &str| {
        server(
            json!({"event": "message.send", "chat_id": "c1", "sender": {"id": "ann", "type": "direct", "nick_name": "Ann"},
        "payload": {"message_id": id, "message": {"body": {"fragments": [{"kind": "mention", "user_id": user, "display": "@x"}]}}}}),
        )
    };
    let delivered = |actions: Vec<Action>| match actions.into_iter().next() {
        Some(Action::Deliver(Delivery::Message(m))) => (m.mentions_me, m.mentions_all),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        delivered(m.on_text(&message("msg-a", "all"), at(1))),
        (true, true)
    );
    assert_eq!(
        delivered(m.on_text(&message("msg-b", "me"), at(2))),
        (true, false)
    );
    assert_eq!(
        delivered(m.on_text(&message("msg-c", "bo"), at(3))),
        (false, false)
    );
}

#[test]
fn every_listed_error_code_ends_its_send_and_removes_its_row() {
    for code in [
        "chat_not_found",
        "not_member",
        "bad_request",
        "capability_missing",
        "unsupported_version",
        "message_too_large",
        "message_id_too_long",
    ] {
        let mut m = machine("me");
        ready(&mut m, 0);
        let (id, _) = send(&mut m, "c1", text("x"), 0);
        let error = server(
            json!({"event": "message.error", "chat_id": "c1", "payload": {"message_id": id, "code": code, "reason": "r", "rejected_at": 1}}),
        );
        let done = m.on_text(&error, at(1));
        assert_eq!(done[0], Action::RemoveRow(id.clone()), "{code}");
        let failure = completions(&done)[0].outcome.clone().unwrap_err();
        assert_eq!(
            (failure.kind, failure.code.as_deref()),
            (SendErrorKind::Rejected, Some(code))
        );
        m.on_close(1006, at(2));
        assert!(
            sent_texts(&reconnect(&mut m, 3)).is_empty(),
            "{code}: never resent"
        );
    }
}

#[test]
fn a_server_storage_error_keeps_the_send_for_the_next_connection() {
    let mut m = machine("me");
    ready(&mut m, 0);
    let (id, sent) = send(&mut m, "c1", text("x"), 0);
    let error = server(
        json!({"event": "message.error", "chat_id": "c1", "payload": {"message_id": id, "code": "internal", "reason": "storage error"}}),
    );
    let done = m.on_text(&error, at(1));
    assert!(completions(&done).is_empty());
    assert!(done.iter().any(|a| matches!(a, Action::Unconfirmed(_))));
    m.on_close(1006, at(2));
    assert_eq!(sent_texts(&reconnect(&mut m, 3)), sent_texts(&sent));
}

#[test]
fn states_and_errors_are_written_as_the_serde_derive_wrote_them() {
    let states = [
        (ConnState::Idle, r#"{"state":"idle"}"#),
        (
            ConnState::Connecting { attempt: 0 },
            r#"{"state":"connecting","attempt":0}"#,
        ),
        (ConnState::Handshaking, r#"{"state":"handshaking"}"#),
        (ConnState::Ready, r#"{"state":"ready"}"#),
        (
            ConnState::Reconnecting {
                attempt: 3,
                delay_ms: 1500,
            },
            r#"{"state":"reconnecting","attempt":3,"delayMs":1500}"#,
        ),
        (ConnState::Closed, r#"{"state":"closed"}"#),
        (ConnState::LoggedOut, r#"{"state":"logged_out"}"#),
    ];
    for (state, want) in states {
        assert_eq!(crate::json::to_string(&state), want);
    }
    let err = ClientError {
        kind: "malformed_frame",
        message: "a \"b\"\n".into(),
    };
    assert_eq!(
        crate::json::to_string(&err),
        r#"{"kind":"malformed_frame","message":"a \"b\"\n"}"#
    );
}

/// A streaming `add` of message `s1` in chat `c1` whose text is `text`.
fn stream_add(sequence: u64, text: &str) -> String {
    server(
        json!({"event": "message.add", "chat_id": "c1", "chat_type": "direct",
        "sender": {"id": "bot", "type": "direct", "nick_name": "Bot"},
        "payload": {"message_id": "s1", "sequence": sequence,
            "mutation": {"type": "append", "target_fragment_index": 0},
            "fragments": [{"kind": "text", "text": text}]}}),
    )
}

/// The texts of the `stream` events among `actions`.
fn stream_texts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver(Delivery::Stream(view)) => Some(view.text.clone()),
            _ => None,
        })
        .collect()
}

/// A ready connection whose stream `s1` went out as "a" at 100 and holds "ab" (101).
fn holding_a_stream_update() -> Connection<Counting> {
    let mut m = machine("me");
    ready(&mut m, 0);
    assert_eq!(
        stream_texts(&m.on_text(&stream_add(1, "a"), at(100))),
        ["a"]
    );
    assert!(stream_texts(&m.on_text(&stream_add(2, "ab"), at(101))).is_empty());
    m
}

#[test]
fn a_held_stream_update_is_due_at_the_connections_deadline_and_sent_before_a_stop() {
    let mut m = holding_a_stream_update();
    assert!(stream_texts(&m.on_text(&stream_add(3, "abc"), at(102))).is_empty());
    let due = m.poll_timeout().expect("a deadline");
    assert_eq!(due, 100 + crate::session::stream::MIN_EVENT_GAP_MS);
    assert!(m.on_timeout(at(due - 1)).is_empty());
    assert_eq!(stream_texts(&m.on_timeout(at(due))), ["abc"]);
    assert_eq!(m.poll_timeout(), None, "nothing held");

    // Held when the app disconnects: delivered before the connection closes.
    assert!(stream_texts(&m.on_text(&stream_add(4, "abcd"), at(due + 1))).is_empty());
    let stopped = m.disconnect();
    assert_eq!(stream_texts(&stopped), ["abcd"]);
    let closed_at = stopped
        .iter()
        .position(|a| matches!(a, Action::State(ConnState::Closed)))
        .expect("closed");
    let streamed_at = stopped
        .iter()
        .position(|a| matches!(a, Action::Deliver(_)))
        .expect("streamed");
    assert!(
        streamed_at < closed_at,
        "what came before the stop goes first"
    );
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_streamed_message_that_comes_as_sent_ends_its_stream_without_a_late_update() {
    let mut m = holding_a_stream_update();
    let sent = server(
        json!({"event": "message.send", "chat_id": "c1", "chat_type": "direct",
        "sender": {"id": "bot", "type": "direct", "nick_name": "Bot"},
        "payload": {"message_id": "s1", "message": {"body": {"fragments": [{"kind": "text", "text": "abc"}]}}}}),
    );
    assert!(matches!(
        &m.on_text(&sent, at(102))[..],
        [Action::Deliver(Delivery::Message(_))]
    ));
    assert_eq!(m.poll_timeout(), None, "the held update is dropped");
    assert!(stream_texts(&m.on_timeout(at(1_000))).is_empty());
    assert!(
        m.on_text(&stream_add(3, "abcd"), at(103)).is_empty(),
        "later frames are stale"
    );
}
