//! The tab coordinator through its paths: relays, outcomes, hand-over, deadlines.

use serde_json::json;

use super::*;
use crate::protocol::Fragment;
use crate::session::SendErrorKind;

fn send(id: &str) -> RelayedSend {
    RelayedSend {
        message_id: id.into(),
        chat_id: "c1".into(),
        fragments: vec![Fragment::text("hi")],
        reply: None,
    }
}

fn accepted(id: &str) -> Accepted {
    Accepted {
        message_id: id.into(),
        accepted_at: 7,
    }
}

fn posts(effects: &[Effect]) -> Vec<TabWire> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Post(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Delivers every post of `from`'s effects to `to`.
fn deliver(effects: &[Effect], to: &mut Coordinator, now: i64) -> Vec<Effect> {
    posts(effects)
        .into_iter()
        .flat_map(|m| to.on_wire(m, now))
        .collect()
}

/// The leader lock request among `effects`.
fn requested(effects: &[Effect]) -> u64 {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::RequestLeadership { request } => Some(*request),
            _ => None,
        })
        .expect("asks for the leader lock")
}

/// Starts `tab` and grants it the leader lock it asked for.
fn start_leading(tab: &mut Coordinator) -> Vec<Effect> {
    let request = requested(&tab.start(true));
    tab.on_leadership(request)
}

fn pair() -> (Coordinator, Coordinator) {
    let mut leader = Coordinator::new("L".into(), CoordinatorConfig::default());
    let mut follower = Coordinator::new("F".into(), CoordinatorConfig::default());
    start_leading(&mut leader);
    let hello = follower.start(true);
    deliver(&hello, &mut leader, 0);
    (leader, follower)
}

#[test]
fn a_relayed_send_settles_with_the_leaders_typed_outcome() {
    let (mut leader, mut follower) = pair();
    let out = follower.send(send("m1"), 0);
    let at_leader = deliver(&out, &mut leader, 1);
    assert!(at_leader.contains(&Effect::WriteLocal(send("m1"))));
    deliver(&at_leader, &mut follower, 1);
    let settled = leader.on_completed("m1", Ok(accepted("m1")));
    let out = deliver(&settled, &mut follower, 2);
    assert_eq!(
        out,
        [Effect::Settle {
            message_id: "m1".into(),
            outcome: Ok(accepted("m1"))
        }]
    );
    assert_eq!(follower.unsettled(), 0);
    let back = TabWire::decode(&posts(&settled)[0].encode());
    assert_eq!(
        back.as_ref(),
        posts(&settled).first(),
        "the outcome survives the wire"
    );
    assert_eq!(TabWire::decode("not a tab message"), None);
}

#[test]
fn a_relayed_send_no_leader_takes_fails_instead_of_hanging() {
    let mut follower = Coordinator::new("F".into(), CoordinatorConfig::default());
    follower.start(true);
    follower.send(send("m1"), 0);
    assert_eq!(follower.poll_timeout(), Some(5_000));
    let out = follower.on_timeout(5_000);
    assert!(
        matches!(&out[..], [Effect::Settle { outcome: Err(e), .. }] if e.kind == SendErrorKind::Relay)
    );
    assert_eq!(follower.poll_timeout(), None);
}

#[test]
fn a_taken_send_waits_for_its_settlement_up_to_the_settle_deadline() {
    let (mut leader, mut follower) = pair();
    let out = follower.send(send("m1"), 0);
    let at_leader = deliver(&out, &mut leader, 0);
    deliver(&at_leader, &mut follower, 0);
    assert!(follower.on_timeout(5_000).is_empty());
    assert_eq!(follower.poll_timeout(), Some(6 * 60_000));
}

#[test]
fn hand_over_re_sends_pending_relays_to_the_new_leader_and_a_promoted_follower_writes_its_own() {
    let (mut old, mut follower) = pair();
    let out = follower.send(send("m1"), 0);
    deliver(&out, &mut old, 0);
    let stopped = old.stop("disconnected by the app");
    assert!(stopped.contains(&Effect::ReleaseLeadership));
    assert!(
        old.on_completed("m1", Ok(accepted("m1")))
            .iter()
            .all(|e| !matches!(e, Effect::Post(_))),
        "the old leader no longer answers for it"
    );
    let mut next = Coordinator::new("N".into(), CoordinatorConfig::default());
    let leading = start_leading(&mut next);
    let resent = deliver(&leading, &mut follower, 10);
    assert!(posts(&resent).contains(&TabWire::Send {
        from: "F".into(),
        send: send("m1")
    }));
    let out = deliver(&resent, &mut next, 10);
    assert!(out.contains(&Effect::WriteLocal(send("m1"))));
    // The follower itself promoted: its own pending relays are written locally.
    let mut alone = Coordinator::new("A".into(), CoordinatorConfig::default());
    let request = requested(&alone.start(true));
    alone.send(send("m2"), 0);
    assert!(alone
        .on_leadership(request)
        .contains(&Effect::WriteLocal(send("m2"))));
    assert_eq!(alone.unsettled(), 0);
}

#[test]
fn a_send_relayed_twice_is_written_once() {
    let (mut leader, _) = pair();
    let msg = TabWire::Send {
        from: "F".into(),
        send: send("m1"),
    };
    assert!(leader
        .on_wire(msg.clone(), 0)
        .contains(&Effect::WriteLocal(send("m1"))));
    assert!(!leader
        .on_wire(msg, 0)
        .contains(&Effect::WriteLocal(send("m1"))));
}

#[test]
fn events_are_forwarded_only_while_a_follower_listens() {
    let mut leader = Coordinator::new("L".into(), CoordinatorConfig::default());
    start_leading(&mut leader);
    assert!(
        leader
            .on_event("message", || EventJson::from_text("{}".into()))
            .is_empty(),
        "nobody listens"
    );
    leader.on_wire(TabWire::Hello { tab: "F".into() }, 0);
    assert_eq!(leader.followers(), 1);
    assert_eq!(
        leader
            .on_event("message", || EventJson::from_text(r#"{"a":1}"#.into()))
            .len(),
        1
    );
    assert!(
        leader
            .on_event("tokens", || EventJson::from_text("{}".into()))
            .is_empty(),
        "never forwarded"
    );
    leader.on_wire(TabWire::Bye { tab: "F".into() }, 0);
    assert!(leader
        .on_event("message", || EventJson::from_text("{}".into()))
        .is_empty());
}

#[test]
fn a_follower_keeps_the_leaders_state_and_emits_forwarded_events() {
    let mut follower = Coordinator::new("F".into(), CoordinatorConfig::default());
    follower.start(true);
    let state = EventJson::from_text(json!({"state": "ready"}).to_string()).unwrap();
    let out = follower.on_wire(
        TabWire::Event {
            name: "state".into(),
            payload: state.clone(),
        },
        0,
    );
    assert_eq!(
        out,
        [Effect::Emit {
            name: "state".into(),
            payload: state.clone()
        }]
    );
    assert_eq!(follower.leader_state(), Some(&state));
    assert!(follower
        .on_wire(
            TabWire::Event {
                name: "logout".into(),
                payload: EventJson::from_text("{}".into()).unwrap()
            },
            0
        )
        .is_empty());
}

#[test]
fn a_promoted_follower_still_emits_the_old_leaders_last_messages_and_nothing_else() {
    let (mut old, mut follower) = pair();
    let relayed = old.on_event("message", || EventJson::from_text(r#"{"a":1}"#.into()));
    let stopped = old.stop("disconnected by the app");
    let state = old.on_event("state", || EventJson::from_text("{}".into()));
    assert!(state.is_empty(), "an idle tab relays nothing");
    // The lock grant overtakes the posts made before the release (the follower's first
    // request, made in `pair`).
    follower.on_leadership(1);
    assert_eq!(follower.role(), Role::Leader);
    let late = deliver(&relayed, &mut follower, 5);
    assert_eq!(
        late,
        [Effect::Emit {
            name: "message".into(),
            payload: EventJson::from_text(r#"{"a":1}"#.into()).unwrap()
        }]
    );
    for (name, why) in [
        ("state", "the old leader's connection is not this tab's"),
        (
            "sent",
            "this tab re-wrote the relayed sends and settles them itself",
        ),
        ("failed", "likewise"),
        ("stream", "this tab's own socket streams from now on"),
    ] {
        let late = TabWire::Event {
            name: name.into(),
            payload: EventJson::from_text("{}".into()).unwrap(),
        };
        assert!(follower.on_wire(late, 5).is_empty(), "{name}: {why}");
    }
    assert!(deliver(&stopped, &mut follower, 5).is_empty());
}

#[test]
fn a_grant_of_a_lock_request_given_up_since_is_ignored() {
    // disconnect() then connect() before the first grant came: that hold is released
    // already; leading on it would make a second leader, and releasing would drop the
    // new request.
    let mut tab = Coordinator::new("T".into(), CoordinatorConfig::default());
    let first = requested(&tab.start(true));
    assert!(tab
        .stop("disconnected by the app")
        .contains(&Effect::ReleaseLeadership));
    let second = requested(&tab.start(true));
    assert!(tab.on_leadership(first).is_empty());
    assert_eq!(tab.role(), Role::Follower);
    assert!(tab
        .on_leadership(second)
        .contains(&Effect::Lead { solo: false }));
    assert_eq!(tab.role(), Role::Leader);
}

#[test]
fn f10_logout_releases_the_leader_lock() {
    // Old: logout left the lock held; a new client of the account in that origin became
    // a follower of nobody and never connected.
    let mut leader = Coordinator::new("L".into(), CoordinatorConfig::default());
    start_leading(&mut leader);
    let out = leader.stop("logged out");
    assert!(out.contains(&Effect::ReleaseLeadership));
    assert_eq!(leader.role(), Role::Idle);
    let mut follower = Coordinator::new("F".into(), CoordinatorConfig::default());
    follower.start(true);
    follower.send(send("m1"), 0);
    let out = follower.stop("logged out");
    assert!(
        out.contains(&Effect::ReleaseLeadership),
        "a queued lock request is abandoned too"
    );
    assert!(
        matches!(&out[0], Effect::Settle { outcome: Err(e), .. } if e.kind == SendErrorKind::Closed)
    );
}

#[test]
fn without_coordination_a_tab_leads_alone() {
    let mut solo = Coordinator::new("S".into(), CoordinatorConfig::default());
    assert_eq!(
        solo.start(false),
        [Effect::Role(Role::Solo), Effect::Lead { solo: true }]
    );
    assert_eq!(solo.send(send("m1"), 0), [Effect::WriteLocal(send("m1"))]);
    assert_eq!(solo.on_wire(TabWire::Rotated, 0), [Effect::Rotated]);
}

#[test]
fn an_event_crosses_the_tab_wire_as_the_same_json_text() {
    let payload = r#"{"text":"café \"q\"","n":[1,{"userId":"u"}]}"#;
    let event = TabWire::Event {
        name: "message".into(),
        payload: EventJson::from_text(payload.into()).unwrap(),
    };
    let text = event.encode();
    assert_eq!(
        text,
        format!(r#"{{"event":{{"name":"message","payload":{payload}}}}}"#)
    );
    assert_eq!(TabWire::decode(&text), Some(event));
    assert!(EventJson::from_text("{".into()).is_none());
    assert!(EventJson::from_text("1 2".into()).is_none());
}

#[test]
fn messages_posted_together_arrive_in_order_and_a_bad_one_is_left_out() {
    let first = TabWire::Hello { tab: "a".into() };
    let second = TabWire::Rotated;
    assert_eq!(
        TabWire::batch(vec![first.encode()]),
        first.encode(),
        "one goes alone"
    );
    let both = TabWire::batch(vec![
        first.encode(),
        r#"{"nope":1}"#.into(),
        second.encode(),
    ]);
    assert_eq!(TabWire::unbatch(&both), [first.clone(), second]);
    assert_eq!(TabWire::unbatch(&first.encode()), [first]);
    for junk in ["", "[", "[1,", "{}", "null", "[[]]"] {
        assert!(TabWire::unbatch(junk).is_empty(), "{junk}");
    }
}
