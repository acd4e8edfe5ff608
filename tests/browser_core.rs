//! The pure core inside headless Chromium: decoders, JWT claims, ids from Web Crypto.
#![cfg(target_arch = "wasm32")]

use clawchat_wasm::api::{classify_refresh, decode_response, HttpOutcome, RefreshResult};
use clawchat_wasm::auth::decode_claims;
use clawchat_wasm::protocol::{decode, ids, Event, Fragment, Frame};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn message_ids_minted_from_web_crypto_are_unique_ulids() {
    let now = js_sys::Date::now() as u64;
    let a = ids::message_id(now, ids::random_u128().expect("Web Crypto"));
    let b = ids::message_id(now, ids::random_u128().expect("Web Crypto"));
    assert!(ids::is_message_id(&a), "{a}");
    assert_ne!(a, b);
}

#[wasm_bindgen_test]
fn frames_round_trip_in_the_browser() {
    let payload = clawchat_wasm::json::from_str(
        r#"{"message_id":"msg-01ARZ3NDEKTSV4RRFFQ69G5FAV","message_mode":"normal","message":{"body":{"fragments":[{"kind":"text","text":"héllo"},{"kind":"sticker","id":3}]},"context":{"mentions":[],"reply":null}}}"#,
    )
    .unwrap();
    let frame = Frame::new(Event::Send(payload), "trace-1", 5).in_chat("chat-1");
    let decoded = decode(&frame.encode_uplink()).unwrap();
    assert_eq!(decoded, frame);
    let Event::Send(message) = decoded.event else {
        panic!("not a send")
    };
    assert!(matches!(
        message.message.body.fragments[1],
        Fragment::Unsupported(_)
    ));
}

#[wasm_bindgen_test]
fn malformed_frames_are_errors_not_panics() {
    for text in [
        "",
        "{",
        "[]",
        r#"{"event":"message.ack","payload":{}}"#,
        r#"{"version":"3","event":"ping"}"#,
    ] {
        assert!(decode(text).is_err(), "{text}");
    }
}

#[wasm_bindgen_test]
fn envelopes_and_refresh_results_classify_in_the_browser() {
    assert!(decode_response(200, r#"{"code":0,"data":1}"#, "/p").is_ok());
    let result = classify_refresh(HttpOutcome::Response {
        status: 200,
        body: r#"{"code":10003}"#,
    });
    assert!(matches!(
        result,
        RefreshResult::Permanent { code: 10003, .. }
    ));
}

#[wasm_bindgen_test]
fn jwt_claims_decode_in_the_browser() {
    // {"exp":2000000000,"iat":1999999000}
    let token = "h.eyJleHAiOjIwMDAwMDAwMDAsImlhdCI6MTk5OTk5OTAwMH0.s";
    let claims = decode_claims(token).unwrap();
    assert_eq!(
        (claims.exp, claims.iat),
        (Some(2_000_000_000), Some(1_999_999_000))
    );
}

#[wasm_bindgen_test]
fn the_monotonic_clock_follows_performance_now_and_survives_losing_it() {
    use clawchat_wasm::platform::{monotonic_ms, now};
    let performance = || {
        let p = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
        let now = js_sys::Reflect::get(&p, &"now".into()).unwrap();
        js_sys::Function::from(now)
            .call0(&p)
            .unwrap()
            .as_f64()
            .unwrap()
    };
    let before = performance();
    let reading = now();
    let after = performance();
    assert!(reading.mono >= before as i64 - 1 && reading.mono <= after as i64 + 1);
    assert!((reading.wall - js_sys::Date::now() as i64).abs() < 1_000);
    // Without `performance` (replaced on the global), the wall clock takes over without
    // a jump, and the clock still never steps back.
    let global = js_sys::global();
    let key = wasm_bindgen::JsValue::from("performance");
    let original = js_sys::Object::get_own_property_descriptor(&global, &key);
    js_sys::Reflect::set(&global, &key, &wasm_bindgen::JsValue::UNDEFINED).unwrap();
    assert!(js_sys::Reflect::get(&global, &key).unwrap().is_undefined());
    let mut last = monotonic_ms();
    let start = last;
    for _ in 0..2_000 {
        let next = monotonic_ms();
        assert!(next >= last, "{next} < {last}");
        last = next;
    }
    if original.is_undefined() {
        js_sys::Reflect::delete_property(&global, &key).unwrap();
    } else {
        js_sys::Object::define_property(&global, &key, &original.into());
    }
    assert!(performance() > 0.0, "performance restored");
    assert!(
        last - start < 5_000,
        "no jump to the epoch: {start} → {last}"
    );
    assert!(monotonic_ms() >= last);
}
