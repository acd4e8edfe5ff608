//! The rotation flow driven by hand through every branch. Tests named `fNN_…` are the
//! numbered failures of issue 10: each describes what the old shell did.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::*;
use crate::api::TokenPair;

const MIN: i64 = 60_000;

/// A JWT-shaped token with these claims (seconds) and a tag to tell tokens apart.
fn jwt(iat: i64, exp: i64, tag: &str) -> String {
    let payload = format!(r#"{{"iat":{iat},"exp":{exp},"jti":"{tag}"}}"#);
    format!("h.{}.s", URL_SAFE_NO_PAD.encode(payload))
}

fn row(access: &str, refresh: &str, refreshed_at: i64) -> StoredSession {
    StoredSession {
        account_key: "ann".into(),
        user_id: "u1".into(),
        access_token: access.into(),
        refresh_token: refresh.into(),
        device_id: "d1".into(),
        activated_at: 0,
        refreshed_at,
    }
}

fn pair(access: &str, refresh: &str) -> RefreshResult {
    RefreshResult::Success(TokenPair {
        access_token: access.into(),
        refresh_token: refresh.into(),
    })
}

fn transient(status: Option<u16>) -> RefreshResult {
    RefreshResult::Transient {
        status,
        code: None,
        message: "x".into(),
    }
}

fn refused() -> RefreshResult {
    RefreshResult::Permanent {
        code: 10003,
        message: "refresh token reused".into(),
    }
}

/// A machine holding `session`, not in charge.
fn machine(session: StoredSession) -> Rotation {
    let mut m = Rotation::new(RotationConfig::default(), 0.5);
    m.start(Ok(Some(session)), None).unwrap();
    m
}

fn requests(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Request { refresh_token, .. } => Some(refresh_token.clone()),
            _ => None,
        })
        .collect()
}

fn reports(effects: &[Effect]) -> Vec<Outcome> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Report { report, .. } => Some(report.outcome),
            _ => None,
        })
        .collect()
}

fn has(effects: &[Effect], wanted: impl Fn(&Effect) -> bool) -> bool {
    effects.iter().any(wanted)
}

/// Takes the lock and reads `stored` under it.
fn locked(
    m: &mut Rotation,
    stored: Option<StoredSession>,
    trigger: Trigger,
    now: i64,
) -> Vec<Effect> {
    let out = m.request(trigger, Some(1), now);
    let Some(Effect::AcquireLock { flow }) = out.first().cloned() else {
        panic!("expected a lock request, got {out:?}");
    };
    let out = m.on_lock(flow, true, now);
    assert_eq!(
        out,
        [Effect::Read {
            flow,
            purpose: ReadPurpose::UnderLock
        }]
    );
    m.on_read(flow, ReadPurpose::UnderLock, Ok(stored), now)
}

#[test]
fn f01_persist_failure_keeps_the_rotated_pair_and_saves_it_again() {
    // Old: the pair was dropped when IndexedDB failed; the next refresh spent r1 again.
    let mut m = machine(row("a1", "r1", 0));
    let out = locked(&mut m, Some(row("a1", "r1", 0)), Trigger::Manual, MIN);
    assert_eq!(requests(&out), ["r1"]);
    let out = m.on_answer(m.flow, pair("a2", "r2"), MIN);
    assert!(has(
        &out,
        |e| matches!(e, Effect::Use(s) if s.refresh_token == "r2")
    ));
    assert_eq!(reports(&out), [Outcome::Success]);
    let out = m.on_saved(m.flow, Err(StoreError::Io("disk full".into())), MIN);
    assert!(has(&out, |e| matches!(e, Effect::Warn(_))));
    assert!(
        !has(&out, |e| matches!(e, Effect::ReleaseLock { .. })),
        "the lock is kept until saved"
    );
    assert_eq!(
        m.session().unwrap().refresh_token,
        "r2",
        "in use although unsaved"
    );
    assert_eq!(
        m.poll_timeout(),
        Some(MIN + 500),
        "saved again with backoff"
    );
    let out = m.on_timeout(MIN + 500);
    assert!(has(
        &out,
        |e| matches!(e, Effect::Save { session, .. } if session.refresh_token == "r2")
    ));
    let out = m.on_saved(m.flow, Err(StoreError::Io("still full".into())), MIN + 500);
    assert!(has(&out, |e| matches!(e, Effect::Warn(_))));
    assert_eq!(m.poll_timeout(), Some(MIN + 1_500), "the backoff doubles");
    // A refresh while unsaved presents r2, never r1.
    let out = m.request(Trigger::Manual, Some(2), 10 * MIN);
    assert_eq!(requests(&out), ["r2"]);
}

#[test]
fn f02_a_store_read_error_under_the_lock_is_transient_with_no_request() {
    // Old: a failed re-read fell through to refreshing with the in-memory (spent) token.
    let mut m = machine(row("a1", "r1", 0));
    m.request(Trigger::Manual, Some(1), MIN);
    m.on_lock(m.flow, true, MIN);
    let out = m.on_read(
        m.flow,
        ReadPurpose::UnderLock,
        Err(StoreError::Io("read".into())),
        MIN,
    );
    assert!(requests(&out).is_empty());
    assert_eq!(reports(&out), [Outcome::Transient]);
    assert!(has(&out, |e| matches!(e, Effect::ReleaseLock { .. })));
    assert!(!has(&out, |e| matches!(
        e,
        Effect::Clear { .. } | Effect::LoggedOut { .. }
    )));
}

#[test]
fn f03_a_lost_response_is_retried_soon_with_the_same_token() {
    // Old: no retry until the next trigger, 30 s or more later: past a grace window.
    let mut m = machine(row("a1", "r1", 0));
    locked(&mut m, Some(row("a1", "r1", 0)), Trigger::Manual, MIN);
    let out = m.on_answer(m.flow, transient(None), MIN);
    assert_eq!(reports(&out), [Outcome::Transient]);
    assert_eq!(m.poll_timeout(), Some(MIN + 1_000));
    let out = m.on_timeout(MIN + 1_000);
    assert!(has(&out, |e| matches!(e, Effect::AcquireLock { .. })));
    m.on_lock(m.flow, true, MIN + 1_000);
    let out = m.on_read(
        m.flow,
        ReadPurpose::UnderLock,
        Ok(Some(row("a1", "r1", 0))),
        MIN + 1_000,
    );
    assert_eq!(
        requests(&out),
        ["r1"],
        "the retry is not held back by the floor"
    );
    // A hung request ends at the deadline the same way.
    let out = m.on_timeout(MIN + 21_000);
    assert!(has(&out, |e| matches!(e, Effect::AbortRequest { .. })));
    assert_eq!(m.poll_timeout(), Some(MIN + 23_000));
}

#[test]
fn f06_short_tokens_and_a_fast_clock_refresh_at_half_life_on_the_server_clock() {
    // Old: exp − clamp(¼ life, 30 min, 2 h) lay before iat: a refresh every 30 s forever.
    let server_now = 1_000_000_000; // s
    let local_ahead = 10 * MIN;
    let first = jwt(server_now - 10, server_now + 890, "a1");
    let mut m = machine(row(&first, "r1", 0));
    m.set_in_charge(true, server_now * 1000 + local_ahead);
    let now = server_now * 1000 + local_ahead;
    locked(&mut m, Some(row(&first, "r1", 0)), Trigger::Manual, now);
    let fresh = jwt(server_now, server_now + 900, "a2");
    m.on_answer(m.flow, pair(&fresh, "r2"), now);
    m.on_saved(m.flow, Ok(()), now);
    assert!(
        (m.server_offset_ms() + local_ahead).abs() <= 1_000,
        "offset from iat"
    );
    let next = m.poll_timeout().unwrap();
    let half = 450_000;
    assert!(
        (next - (now + half)).abs() <= 90_000 + 1_000,
        "next refresh {} ms after the rotation, expected about half the life",
        next - now
    );
}

#[test]
fn f07_a_token_valid_for_twenty_minutes_connects_at_once() {
    // Old: is_due (30 min lead) refreshed first and a hung refresh held the socket 30 s.
    let now_s = 1_000_000;
    let mut m = machine(row(&jwt(now_s - 3_400, now_s + 1_200, "a1"), "r1", 0));
    let out = m.set_in_charge(true, now_s * 1000);
    assert_eq!(out[0], Effect::Connect, "{out:?}");
    assert!(
        has(&m.on_timeout(now_s * 1000), |e| matches!(
            e,
            Effect::AcquireLock { .. }
        )),
        "and the refresh runs beside the open socket"
    );
    // Within a minute of expiry: refresh first, connect when it ends, even transiently.
    let mut m = machine(row(&jwt(now_s - 3_600, now_s + 30, "a1"), "r1", 0));
    let out = m.set_in_charge(true, now_s * 1000);
    assert!(!has(&out, |e| *e == Effect::Connect));
    m.on_lock(m.flow, true, now_s * 1000);
    let stored = m.session().cloned();
    m.on_read(m.flow, ReadPurpose::UnderLock, Ok(stored), now_s * 1000);
    let out = m.on_timeout(now_s * 1000 + 20_000);
    assert!(
        has(&out, |e| *e == Effect::Connect),
        "a hung refresh ends at 20 s: {out:?}"
    );
}

#[test]
fn f08_a_new_leader_inside_the_account_floor_does_not_rotate_again() {
    // Old: the floor was per tab; a new leader rotated 190 ms after the old one.
    let rotated_at = 10 * MIN;
    let token = jwt(rotated_at / 1000, rotated_at / 1000 + 90, "a2"); // due at once by the old rule
    let mut m = machine(row(&token, "r2", rotated_at));
    let out = m.set_in_charge(true, rotated_at + 190);
    assert_eq!(out, [Effect::Connect]);
    assert!(m.on_timeout(rotated_at + 190).is_empty());
    assert!(
        m.poll_timeout().unwrap() >= rotated_at + 30_000,
        "proactive waits for the floor"
    );
    // Even a manual refresh under the lock sees the row's rotation time.
    let out = m.request(Trigger::Manual, Some(1), rotated_at + 190);
    let flow = m.flow;
    let _ = out;
    m.on_lock(flow, true, rotated_at + 190);
    let out = m.on_read(
        flow,
        ReadPurpose::UnderLock,
        Ok(Some(row(&token, "r2", rotated_at))),
        rotated_at + 190,
    );
    assert!(requests(&out).is_empty());
    assert_eq!(reports(&out), [Outcome::Skipped]);
}

#[test]
fn f09_the_lease_outlives_the_request_and_is_renewed_while_held() {
    // Old: a 30 s lease equal to the 30 s fetch timeout could lapse mid-refresh.
    let config = RotationConfig::default();
    assert!(config.lease_ttl_ms > config.request_timeout_ms + config.lease_renew_ms);
    assert!(config.lease_renew_ms < config.lease_ttl_ms / 2);
    let mut m = machine(row("a1", "r1", 0));
    locked(&mut m, Some(row("a1", "r1", 0)), Trigger::Manual, MIN);
    assert_eq!(m.poll_timeout(), Some(MIN + config.lease_renew_ms));
    let out = m.on_timeout(MIN + config.lease_renew_ms);
    assert_eq!(out, [Effect::RenewLock { flow: m.flow }]);
    let out = m.on_answer(m.flow, transient(Some(500)), MIN + 16_000);
    assert!(has(&out, |e| matches!(e, Effect::ReleaseLock { .. })));
    assert!(m.renew_at.is_none(), "no renewal once released");
}

#[test]
fn f11_a_follower_refresh_inside_the_floor_adopts_the_new_pair() {
    // Old: the follower asked the leader, which skipped (floor): "transient" after 10 s.
    let mut follower = machine(row("a1", "r1", 0));
    let out = locked(
        &mut follower,
        Some(row("a2", "r2", MIN)),
        Trigger::Manual,
        MIN + 500,
    );
    assert_eq!(reports(&out), [Outcome::Adopted]);
    assert!(requests(&out).is_empty());
    assert_eq!(follower.session().unwrap().refresh_token, "r2");
}

#[test]
fn a_refusal_clears_the_row_and_logs_out_only_when_the_row_holds_the_refused_token() {
    let mut m = machine(row("a1", "r1", 0));
    locked(&mut m, Some(row("a1", "r1", 0)), Trigger::Manual, MIN);
    let out = m.on_answer(m.flow, refused(), MIN);
    assert_eq!(
        out,
        [Effect::Read {
            flow: m.flow,
            purpose: ReadPurpose::ConfirmRefusal
        }]
    );
    let out = m.on_read(
        m.flow,
        ReadPurpose::ConfirmRefusal,
        Ok(Some(row("a1", "r1", 0))),
        MIN,
    );
    assert_eq!(out, [Effect::Clear { flow: m.flow }]);
    let out = m.on_cleared(m.flow, Ok(()));
    assert_eq!(reports(&out), [Outcome::Permanent]);
    assert!(has(&out, |e| matches!(
        e,
        Effect::Broadcast(News::LoggedOut { code: 10003, .. })
    )));
    assert!(has(&out, |e| matches!(
        e,
        Effect::LoggedOut { code: 10003, .. }
    )));
    assert!(m.logged_out());
    assert_eq!(
        reports(&m.request(Trigger::Manual, Some(3), MIN)),
        [Outcome::Skipped]
    );
}

#[test]
fn a_refusal_adopts_a_newer_row_instead_of_logging_out() {
    let mut m = machine(row("a1", "r1", 0));
    locked(&mut m, Some(row("a1", "r1", 0)), Trigger::HelloFail, MIN);
    m.on_answer(m.flow, refused(), MIN);
    let out = m.on_read(
        m.flow,
        ReadPurpose::ConfirmRefusal,
        Ok(Some(row("a9", "r9", MIN))),
        MIN,
    );
    assert_eq!(reports(&out), [Outcome::Adopted]);
    assert!(!has(&out, |e| matches!(
        e,
        Effect::Clear { .. } | Effect::LoggedOut { .. }
    )));
    assert!(!m.logged_out());
}

#[test]
fn an_unconfirmed_refusal_keeps_the_lock_and_reads_again_never_resending_the_token() {
    let mut m = machine(row("a1", "r1", 0));
    locked(&mut m, Some(row("a1", "r1", 0)), Trigger::Manual, MIN);
    m.on_answer(m.flow, refused(), MIN);
    let out = m.on_read(
        m.flow,
        ReadPurpose::ConfirmRefusal,
        Err(StoreError::Io("x".into())),
        MIN,
    );
    assert_eq!(reports(&out), [Outcome::Transient]);
    assert!(!has(&out, |e| matches!(e, Effect::ReleaseLock { .. })));
    assert!(!m.logged_out());
    assert_eq!(m.poll_timeout(), Some(MIN + 500));
    let out = m.on_timeout(MIN + 500);
    assert_eq!(
        out,
        [Effect::Read {
            flow: m.flow,
            purpose: ReadPurpose::ConfirmRefusal
        }]
    );
    let out = m.on_read(
        m.flow,
        ReadPurpose::ConfirmRefusal,
        Ok(Some(row("a1", "r1", 0))),
        MIN + 500,
    );
    assert_eq!(
        out,
        [Effect::Clear { flow: m.flow }],
        "confirmed now: cleared"
    );
}

#[test]
fn a_row_removed_by_another_tab_ends_the_session_without_a_request() {
    let mut m = machine(row("a1", "r1", 0));
    let out = locked(&mut m, None, Trigger::HelloFail, MIN);
    assert!(requests(&out).is_empty());
    assert!(has(&out, |e| matches!(
        e,
        Effect::LoggedOut { code: 0, .. }
    )));
    assert!(!has(&out, |e| matches!(
        e,
        Effect::Clear { .. } | Effect::Broadcast(_)
    )));
}

#[test]
fn concurrent_requests_share_one_flow_and_one_report() {
    let mut m = machine(row("a1", "r1", 0));
    m.request(Trigger::Manual, Some(1), MIN);
    assert!(m
        .request(Trigger::RestUnauthorized, Some(2), MIN)
        .is_empty());
    m.on_lock(m.flow, true, MIN);
    m.on_read(
        m.flow,
        ReadPurpose::UnderLock,
        Ok(Some(row("a1", "r1", 0))),
        MIN,
    );
    let out = m.on_answer(m.flow, pair("a2", "r2"), MIN);
    assert!(has(
        &out,
        |e| matches!(e, Effect::Report { tickets, .. } if *tickets == [1, 2])
    ));
}

#[test]
fn a_late_lock_grant_or_answer_of_an_abandoned_flow_is_given_back_or_ignored() {
    let mut m = machine(row("a1", "r1", 0));
    m.request(Trigger::Manual, Some(1), MIN);
    let old = m.flow;
    let out = m.on_timeout(MIN + 25_000);
    assert_eq!(reports(&out), [Outcome::Transient]);
    assert_eq!(
        m.on_lock(old, true, MIN + 26_000),
        [Effect::ReleaseLock { flow: old }]
    );
    assert!(m.on_answer(old, pair("a2", "r2"), MIN + 26_000).is_empty());
    assert_eq!(m.session().unwrap().refresh_token, "r1");
}

#[test]
fn a_broadcast_rotation_is_adopted_only_when_the_row_is_newer() {
    let mut m = machine(row("a1", "r1", 0));
    let out = m.on_rotated_elsewhere();
    let Effect::Read { flow, purpose } = out[0].clone() else {
        panic!()
    };
    assert!(m
        .on_read(flow, purpose, Ok(Some(row("a1", "r1", 0))), MIN)
        .is_empty());
    let out = m.on_read(flow, purpose, Ok(Some(row("a2", "r2", MIN))), MIN);
    assert!(has(
        &out,
        |e| matches!(e, Effect::Use(s) if s.refresh_token == "r2")
    ));
    assert!(
        m.on_read(flow, purpose, Ok(Some(row("a1", "r1", 0))), MIN)
            .is_empty(),
        "a stale row never replaces the pair in use"
    );
}

#[test]
fn start_prefers_the_newer_of_stored_and_offered_and_saves_the_offered() {
    let mut m = Rotation::new(RotationConfig::default(), 0.5);
    let mut offered = row("a2", "r2", 0);
    offered.activated_at = 10;
    let out = m
        .start(Ok(Some(row("a1", "r1", 0))), Some(offered.clone()))
        .unwrap();
    assert!(has(&out, |e| matches!(e, Effect::Save { flow: 0, .. })));
    assert_eq!(m.session().unwrap().refresh_token, "r2");
    let out = m.on_saved(0, Err(StoreError::Unavailable("no".into())), 0);
    assert!(has(
        &out,
        |e| matches!(e, Effect::Warn(w) if w.contains("memory"))
    ));
    let mut m = Rotation::new(RotationConfig::default(), 0.5);
    assert!(m.start(Ok(None), None).is_err());
    let mut m = Rotation::new(RotationConfig::default(), 0.5);
    assert!(m
        .start(Err(StoreError::Io("x".into())), Some(offered))
        .is_ok());
}

#[test]
fn explicit_logout_clears_tells_the_tabs_and_abandons_the_flow() {
    let mut m = machine(row("a1", "r1", 0));
    locked(&mut m, Some(row("a1", "r1", 0)), Trigger::Manual, MIN);
    let out = m.logout("bye");
    assert!(has(&out, |e| matches!(e, Effect::AbortRequest { .. })));
    assert!(has(&out, |e| matches!(e, Effect::ReleaseLock { .. })));
    assert!(has(&out, |e| matches!(e, Effect::Clear { .. })));
    assert!(has(&out, |e| matches!(
        e,
        Effect::Broadcast(News::LoggedOut { code: 0, .. })
    )));
    assert!(m.poll_timeout().is_none());
}

#[test]
fn a_rotation_broadcast_while_waiting_for_the_lock_ends_the_flow_adopted() {
    let mut m = machine(row("a1", "r1", 0));
    m.request(Trigger::Manual, Some(4), MIN);
    let flow = m.flow;
    let read = m.on_rotated_elsewhere();
    let Effect::Read { purpose, .. } = read[0] else {
        panic!()
    };
    let out = m.on_read(flow, purpose, Ok(Some(row("a2", "r2", MIN))), MIN);
    assert!(has(&out, |e| *e == Effect::ReleaseLock { flow }));
    assert_eq!(reports(&out), [Outcome::Adopted]);
    assert_eq!(
        m.on_lock(flow, true, MIN),
        [Effect::ReleaseLock { flow }],
        "a late grant is given back"
    );
}

#[test]
fn a_rest_date_sample_moves_the_proactive_point_to_the_servers_clock() {
    let token = jwt(0, 14_400, "a1"); // 4 h: the point is at 3 h on the server's clock
    let mut m = machine(row(&token, "r1", 0));
    m.set_in_charge(true, 0);
    let on_server_clock = m.poll_timeout().unwrap();
    m.on_server_date(0, 10 * MIN); // our clock runs 10 min ahead
    assert_eq!(m.poll_timeout().unwrap(), on_server_clock + 10 * MIN - 500);
}

/// What serde's derive wrote for the report (the build before).
#[test]
fn reports_are_written_as_before() {
    let names = ["success", "adopted", "transient", "permanent", "skipped"];
    let outcomes = [
        Outcome::Success,
        Outcome::Adopted,
        Outcome::Transient,
        Outcome::Permanent,
        Outcome::Skipped,
    ];
    for (outcome, name) in outcomes.into_iter().zip(names) {
        let report = RefreshReport::new(outcome, Trigger::Manual, None);
        assert_eq!(
            crate::json::to_string(&report),
            format!(r#"{{"outcome":"{name}","trigger":"manual","reason":null}}"#)
        );
    }
    let report = RefreshReport::new(Outcome::Transient, Trigger::Wake, Some("x".into()));
    assert_eq!(
        crate::json::to_string(&report),
        r#"{"outcome":"transient","trigger":"wake","reason":"x"}"#
    );
}
