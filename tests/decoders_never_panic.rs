//! Every decoder meets truncated, oversized, wrong-typed and random input and answers
//! with a value or a typed error — never a panic.
#![cfg(not(target_arch = "wasm32"))]

use clawchat_wasm::api::{classify_refresh, decode_response, parse_envelope, HttpOutcome};
use clawchat_wasm::auth::decode_claims;
use clawchat_wasm::protocol::{decode, Event, HandshakeFailure, MAX_FRAME_BYTES};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Text made of JSON-ish characters, which reaches deeper into the parsers.
    fn jsonish(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = br#"{}[]":,.-0123456789eE+truefalsnl\ abcmsg_id"#;
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

fn every_decoder(input: &str) {
    let _ = decode(input);
    let _ = decode_response(200, input, "/p");
    let _ = decode_response(500, input, "/p");
    let _ = parse_envelope(input);
    let _ = classify_refresh(HttpOutcome::Response {
        status: 200,
        body: input,
    });
    let _ = decode_claims(input);
    let _ = HandshakeFailure::classify(input);
}

const VALID_FRAMES: &[&str] = &[
    r#"{"version":"2","event":"connect.challenge","trace_id":"t","emitted_at":1,"payload":{"nonce":"n"}}"#,
    r#"{"version":"2","event":"hello-ok","trace_id":"t","emitted_at":1,"payload":{"device_id":"d","delivery_mode":"device_replay"}}"#,
    r#"{"version":"2","event":"message.send","trace_id":"t","emitted_at":1,"chat_id":"c","chat_type":"group","sender":{"id":"u","type":"direct","nick_name":"U"},"payload":{"message_id":"msg-01ARZ3NDEKTSV4RRFFQ69G5FAV","message_mode":"","message":{"body":{"fragments":[{"kind":"text","text":"hé"},{"kind":"image","url":"/m/1"}]},"context":{"mentions":[],"reply":{"reply_to_msg_id":"m0","reply_preview":{"id":"m0","nick_name":"A","fragments":[]}}}}}}"#,
    r#"{"version":"2","event":"message.add","trace_id":"t","emitted_at":1,"payload":{"message_id":"m","sequence":2,"mutation":{"type":"append","target_fragment_index":0},"fragments":[{"kind":"text","text":"ab","delta":"b"}],"streaming":{"status":"streaming","sequence":2}}}"#,
    r#"{"version":"2","event":"message.error","trace_id":"t","emitted_at":1,"chat_id":"c","payload":{"code":"chat_not_found","reason":"no"}}"#,
];

#[test]
fn every_prefix_of_valid_frames_is_handled() {
    for frame in VALID_FRAMES {
        assert!(decode(frame).is_ok(), "{frame}");
        for cut in 0..frame.len() {
            if frame.is_char_boundary(cut) {
                every_decoder(&frame[..cut]);
                assert!(decode(&frame[..cut]).is_err() || cut == frame.len());
            }
        }
    }
}

#[test]
fn wrong_types_in_every_field_are_typed_errors() {
    let wrong = ["null", "1", "-1.5", "true", "\"s\"", "[]", "{}", "[{}]"];
    let fields = [
        "version",
        "event",
        "trace_id",
        "emitted_at",
        "chat_id",
        "to",
        "chat_type",
        "sender",
        "payload",
    ];
    for field in fields {
        for value in wrong {
            let frame = format!(
                r#"{{"version":"2","event":"message.send","trace_id":"t","emitted_at":1,"payload":{{"message_id":"m"}},"{field}":{value}}}"#
            );
            every_decoder(&frame);
        }
    }
    for event in [
        "connect.challenge",
        "connect",
        "hello-ok",
        "hello-fail",
        "message.send",
        "message.reply",
        "message.ack",
        "message.error",
        "message.created",
        "message.add",
        "message.done",
        "message.failed",
        "typing.update",
    ] {
        for payload in wrong {
            let frame = format!(
                r#"{{"version":"2","event":"{event}","trace_id":"t","emitted_at":1,"payload":{payload}}}"#
            );
            every_decoder(&frame);
        }
    }
}

#[test]
fn oversized_input_is_refused_quickly() {
    let huge = format!(
        r#"{{"event":"ping","payload":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    assert!(decode(&huge).is_err());
    let deep = "[".repeat(100_000);
    every_decoder(&deep);
    every_decoder(&"{\"a\":".repeat(50_000));
}

#[test]
fn random_bytes_and_jsonish_noise_never_panic() {
    let mut noise = Noise(0x5EED_1234_ABCD_0001);
    for round in 0..20_000 {
        let len = (noise.next() % 300) as usize;
        let text = if round % 2 == 0 {
            String::from_utf8_lossy(&noise.bytes(len)).into_owned()
        } else {
            noise.jsonish(len)
        };
        every_decoder(&text);
    }
}

#[test]
fn random_mutations_of_valid_frames_never_panic() {
    let mut noise = Noise(42);
    for _ in 0..20_000 {
        let frame = VALID_FRAMES[(noise.next() % VALID_FRAMES.len() as u64) as usize];
        let mut bytes = frame.as_bytes().to_vec();
        for _ in 0..=(noise.next() % 4) {
            let at = (noise.next() % bytes.len() as u64) as usize;
            bytes[at] = noise.next() as u8;
        }
        every_decoder(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn unknown_events_are_kept_not_rejected() {
    let frame = decode(
        r#"{"version":"2","event":"chat.meta","trace_id":"t","emitted_at":1,"payload":{"x":1}}"#,
    )
    .unwrap();
    assert!(matches!(frame.event, Event::Unknown { ref name, .. } if name == "chat.meta"));
}
