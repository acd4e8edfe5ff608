//! `POST /v1/auth/refresh` per PROTOCOL.md §1.1, classified by the SDK's own classifier.

mod common;

use clawchat_emulator::Config;
use clawchat_wasm::api::{classify_refresh, HttpOutcome, RefreshResult, TokenPair};
use common::Emu;
use serde_json::{json, Value};

async fn refresh(emu: &Emu, token: &str, device: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = device.map(|d| vec![("x-device-id", d)]).unwrap_or_default();
    emu.post(
        "/v1/auth/refresh",
        None,
        &headers,
        json!({"refresh_token": token}),
    )
    .await
}

fn classify(status: u16, body: &Value) -> RefreshResult {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    classify_refresh(HttpOutcome::Response {
        status,
        body: &text,
    })
}

fn strict() -> Config {
    let mut config = Config::for_tests();
    config.refresh_grace_secs = 0;
    config
}

fn pair_of(status: u16, body: &Value) -> TokenPair {
    match classify(status, body) {
        RefreshResult::Success(pair) => pair,
        other => panic!("expected a rotated pair, got {other:?}: {body}"),
    }
}

fn is_10003(status: u16, body: &Value) -> bool {
    status == 200
        && matches!(
            classify(status, body),
            RefreshResult::Permanent { code: 10003, .. }
        )
}

#[tokio::test]
async fn within_the_grace_window_a_spent_token_returns_the_same_pair_at_most_twice() {
    let emu = Emu::start().await;
    assert_eq!(
        Config::for_tests().refresh_grace_secs,
        60,
        "the default window"
    );
    let ann = emu.sign_in("ann", "dev-ann").await;
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    let rotated = pair_of(status, &body);
    for reuse in 1..=2 {
        let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
        assert_eq!(
            pair_of(status, &body),
            rotated,
            "reuse {reuse} gets the same pair"
        );
    }
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    assert!(is_10003(status, &body), "a third reuse is refused: {body}");

    // Another device cannot redeem the window; the rotated pair stays single-use.
    let (_, body) = refresh(&emu, &rotated.refresh_token, Some("dev-ann")).await;
    let (status, other) = refresh(&emu, &rotated.refresh_token, Some("dev-eve")).await;
    assert!(matches!(
        classify(status, &other),
        RefreshResult::Permanent { code: 400, .. }
    ));
    let next = pair_of(200, &body);
    let (status, me) = emu.get("/v1/users/me", &next.access_token).await;
    assert_eq!(
        (status, me["data"]["id"].as_str()),
        (200, Some(ann.user_id.as_str()))
    );
}

#[tokio::test]
async fn after_the_grace_window_a_spent_token_is_refused() {
    let mut config = Config::for_tests();
    config.refresh_grace_secs = 1;
    let emu = Emu::start_with(config).await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    pair_of(status, &body);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    assert!(is_10003(status, &body), "{body}");
}

#[tokio::test]
async fn rotation_is_single_use_and_reuse_is_10003() {
    let emu = Emu::start_with(strict()).await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    let RefreshResult::Success(pair) = classify(status, &body) else {
        panic!("{body}")
    };
    assert_ne!(pair.refresh_token, ann.refresh_token);
    assert_ne!(pair.access_token, ann.access_token);
    let claims = clawchat_wasm::auth::decode_claims(&pair.access_token).unwrap();
    assert_eq!(
        claims.did.as_deref(),
        Some("dev-ann"),
        "the rotated token keeps the device"
    );

    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    assert_eq!(status, 200);
    assert!(matches!(
        classify(status, &body),
        RefreshResult::Permanent { code: 10003, .. }
    ));

    // The rotated token works, once; the new access token authenticates REST.
    let (status, body) = refresh(&emu, &pair.refresh_token, Some("dev-ann")).await;
    assert!(matches!(classify(status, &body), RefreshResult::Success(_)));
    let (status, me) = emu.get("/v1/users/me", &pair.access_token).await;
    assert_eq!(
        (status, me["data"]["id"].as_str()),
        (200, Some(ann.user_id.as_str()))
    );
}

#[tokio::test]
async fn a_device_mismatch_or_missing_device_is_400_and_does_not_spend_the_token() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    for device in [Some("dev-other"), None] {
        let (status, body) = refresh(&emu, &ann.refresh_token, device).await;
        assert_eq!(status, 200);
        assert!(
            matches!(
                classify(status, &body),
                RefreshResult::Permanent { code: 400, .. }
            ),
            "{body}"
        );
    }
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    assert!(
        matches!(classify(status, &body), RefreshResult::Success(_)),
        "{body}"
    );
}

#[tokio::test]
async fn a_bad_body_is_400_with_http_200() {
    let emu = Emu::start().await;
    let (status, body) = emu
        .post(
            "/v1/auth/refresh",
            None,
            &[("x-device-id", "d")],
            json!({"nope": 1}),
        )
        .await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(400)));
}

#[tokio::test]
async fn each_refresh_fault_is_transient_and_leaves_the_token_valid() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    for kind in ["http500", "code1", "garbage"] {
        emu.admin("/admin/faults/refresh", json!({"kind": kind}))
            .await;
        let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
        assert!(
            matches!(classify(status, &body), RefreshResult::Transient { .. }),
            "{kind}: {status} {body}"
        );
    }
    emu.admin(
        "/admin/faults/refresh",
        json!({"kind": "hang", "hang_ms": 400}),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    assert!(started.elapsed().as_millis() >= 400, "the answer hung");
    assert!(matches!(
        classify(status, &body),
        RefreshResult::Transient { .. }
    ));

    let (status, body) = refresh(&emu, &ann.refresh_token, Some("dev-ann")).await;
    assert!(
        matches!(classify(status, &body), RefreshResult::Success(_)),
        "still valid after faults"
    );
    assert_eq!(emu.stats().await["refresh_calls"], 5);
}

#[tokio::test]
async fn rest_without_a_valid_token_is_401_without_an_envelope() {
    let emu = Emu::start().await;
    let (status, body) = emu.get("/v1/users/me", "bad").await;
    assert_eq!((status, body), (401, Value::Null));
    let decoded = clawchat_wasm::api::decode_response(status, "", "/v1/users/me").unwrap_err();
    assert!(decoded.is_auth());
}

#[tokio::test]
async fn activation_codes_work_once() {
    let emu = Emu::start().await;
    let (_, body) = emu
        .post(
            "/v1/dev/activation-codes",
            None,
            &[],
            json!({"nickname": "bot"}),
        )
        .await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    let activate = json!({"code": code, "platform": "web", "type": "agent"});
    let (status, body) = emu
        .post(
            "/v1/agents/connect",
            Some(""),
            &[("x-device-id", "bot-dev")],
            activate.clone(),
        )
        .await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(0)), "{body}");
    assert_eq!(body["data"]["device_id"], "bot-dev");
    assert!(body["data"]["websocket_url"]
        .as_str()
        .unwrap()
        .starts_with("ws://"));
    let (_, body) = emu
        .post("/v1/agents/connect", Some(""), &[], activate)
        .await;
    assert_ne!(body["code"].as_i64(), Some(0), "a code works once");
}
