//! The emulator as a dev tool on a developer's machine, over real sockets: uploads
//! cannot run as the demo's origin, the demo page has a strict CSP, other web origins
//! and other Host names are refused, REST checks the device, dev sign-in can be turned
//! off, and the hub refuses frames that could hurt the receiving client.

mod common;

use clawchat_emulator::Config;
use clawchat_wasm::protocol::{send_codes, Event, Fragment, Frame, StreamPayload, StreamPhase};
use common::{mint_id, text_message, Emu, Ws};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

fn demo_config() -> Config {
    let mut config = Config::for_tests();
    config.www_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../www").into();
    config
}

async fn upload(emu: &Emu, token: &str, name: &str, mime: &str, bytes: &[u8]) -> String {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap();
    let body: Value = emu
        .http
        .post(format!("{}/media/upload", emu.running.base_url()))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["url"].as_str().expect("uploaded").to_owned()
}

async fn head(emu: &Emu, path: &str) -> HeaderMap {
    let response = emu
        .http
        .get(format!("{}{path}", emu.running.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.headers().clone()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn uploads_are_downloads_except_plain_images_and_always_sandboxed() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "d1").await;
    let cases = [
        (
            "page.html",
            "text/html",
            "application/octet-stream",
            "attachment",
        ),
        (
            "x.svg",
            "image/svg+xml",
            "application/octet-stream",
            "attachment",
        ),
        (
            "a.js",
            "text/javascript",
            "application/octet-stream",
            "attachment",
        ),
        ("p.png", "image/png", "image/png", "inline"),
        ("p.jpg", "image/jpeg", "image/jpeg", "inline"),
        ("p.gif", "image/gif", "image/gif", "inline"),
        ("p.webp", "image/webp", "image/webp", "inline"),
    ];
    for (name, mime, served_as, disposition) in cases {
        let url = upload(
            &emu,
            &ann.access_token,
            name,
            mime,
            b"<script>alert(1)</script>",
        )
        .await;
        let headers = head(&emu, &url).await;
        assert_eq!(header(&headers, "content-type"), served_as, "{name}");
        assert!(
            header(&headers, "content-disposition").starts_with(disposition),
            "{name}: {headers:?}"
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "content-security-policy"), "sandbox");
    }
}

#[tokio::test]
async fn the_demo_page_and_its_scripts_carry_a_strict_csp() {
    let emu = Emu::start_with(demo_config()).await;
    let host = emu.running.addr.to_string();
    for path in ["/", "/app.js"] {
        let csp = header(&head(&emu, path).await, "content-security-policy").to_owned();
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(
            csp.contains(&format!("connect-src 'self' ws://{host};")),
            "{csp}"
        );
        assert!(csp.contains("img-src 'self' blob: data:;"), "{csp}");
    }
    let (_, body) = emu.get("/v1/users/me", "no").await;
    assert_eq!(body, Value::Null, "REST is not the demo");
}

#[tokio::test]
async fn other_host_names_are_refused_on_both_listeners() {
    let emu = Emu::start().await;
    for addr in [emu.running.addr, emu.running.admin_addr] {
        let port = addr.port();
        for (host, expected) in [
            (format!("evil.test:{port}"), "421"),
            (format!("127.0.0.1:{}", port + 7), "421"),
            (format!("localhost:{port}"), "200"),
            (format!("127.0.0.1:{port}"), "200"),
        ] {
            let path = if addr == emu.running.addr {
                "/v1/dev/activation-codes"
            } else {
                "/admin/stats"
            };
            let request = if addr == emu.running.addr {
                let body = r#"{"nickname":"ann"}"#;
                format!(
                    "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            };
            let response = Emu::raw(addr, &request).await;
            assert!(
                response.starts_with(&format!("HTTP/1.1 {expected}")),
                "{host} on {addr}: {response}"
            );
        }
    }
}

async fn with_origin(emu: &Emu, url: String, origin: &str) -> (u16, HeaderMap) {
    let response = emu
        .http
        .post(url)
        .header("origin", origin)
        .json(&json!({"nickname": "mallory"}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

async fn preflight(emu: &Emu, url: String, origin: &str) -> (u16, HeaderMap) {
    let response = emu
        .http
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization,x-device-id",
        )
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

#[tokio::test]
async fn only_the_configured_page_origin_gets_cors_and_admin_gets_none() {
    let page = "http://127.0.0.1:9";
    let mut config = Config::for_tests();
    config.allow_origins = vec![page.into()];
    let emu = Emu::start_with(config).await;
    let rest = format!("{}/v1/dev/activation-codes", emu.running.base_url());
    let admin = format!("{}/admin/faults/clear", emu.running.admin_url());
    let own = emu.running.base_url();

    let (status, headers) = preflight(&emu, rest.clone(), page).await;
    assert!(status < 300, "{status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), page);
    assert!(header(&headers, "access-control-allow-headers").contains("x-device-id"));
    let (status, headers) = with_origin(&emu, rest.clone(), page).await;
    assert_eq!(
        (status, header(&headers, "access-control-allow-origin")),
        (200, page)
    );
    assert_eq!(header(&headers, "access-control-expose-headers"), "*");
    let (status, headers) = with_origin(&emu, rest.clone(), &own).await;
    assert_eq!(
        (status, header(&headers, "access-control-allow-origin")),
        (200, "")
    );

    for foreign in ["http://evil.test", "null", "http://127.0.0.1:10"] {
        assert_eq!(
            with_origin(&emu, rest.clone(), foreign).await.0,
            403,
            "{foreign}"
        );
        assert_eq!(
            preflight(&emu, rest.clone(), foreign).await.0,
            403,
            "{foreign}"
        );
        assert_eq!(
            with_origin(&emu, admin.clone(), foreign).await.0,
            403,
            "{foreign}"
        );
    }
    // The page origin is not an admin origin: no CORS there, and its requests are refused.
    assert_eq!(with_origin(&emu, admin.clone(), page).await.0, 403);
    assert_eq!(preflight(&emu, admin.clone(), page).await.0, 403);
    let (status, headers) = with_origin(&emu, admin.clone(), &emu.running.admin_url()).await;
    assert_eq!(
        (status, header(&headers, "access-control-allow-origin")),
        (200, "")
    );
    let response = emu.http.post(admin).send().await.unwrap();
    assert_eq!(response.status(), 200, "tools without an Origin still work");
}

#[tokio::test]
async fn an_admin_origin_flag_opens_the_admin_api_to_a_test_runner_only() {
    let runner = "http://127.0.0.1:11";
    let mut config = Config::for_tests();
    config.admin_allow_origins = vec![runner.into()];
    let emu = Emu::start_with(config).await;
    let admin = format!("{}/admin/faults/clear", emu.running.admin_url());
    let (status, headers) = preflight(&emu, admin.clone(), runner).await;
    assert!(status < 300);
    assert_eq!(header(&headers, "access-control-allow-origin"), runner);
    let rest = format!("{}/v1/dev/activation-codes", emu.running.base_url());
    assert_eq!(
        with_origin(&emu, rest, runner).await.0,
        403,
        "admin origins are not page origins"
    );
}

#[tokio::test]
async fn a_socket_from_a_foreign_page_is_refused_before_the_upgrade() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let emu = Emu::start().await;
    let mut request = emu.running.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.test".parse().unwrap());
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) =
        tokio_tungstenite::connect_async(request).await
    else {
        panic!("a foreign origin must not get a socket")
    };
    assert_eq!(response.status(), 403);
    let mut request = emu.running.ws_url().into_client_request().unwrap();
    let own = emu.running.base_url();
    request.headers_mut().insert("origin", own.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}

#[tokio::test]
async fn rest_refuses_a_device_header_that_is_not_the_tokens_device() {
    let emu = Emu::start().await;
    let ann = emu.sign_in("ann", "dev-ann").await;
    let me = |device: Option<&'static str>| {
        let mut request = emu
            .http
            .get(format!("{}/v1/users/me", emu.running.base_url()))
            .bearer_auth(&ann.access_token);
        if let Some(device) = device {
            request = request.header("x-device-id", device);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for device in [None, Some("dev-ann"), Some("dev-ann-tab2")] {
        assert_eq!(me(device).await.0, 200, "{device:?}");
    }
    let (status, body) = me(Some("dev-bob")).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (403, Some(40301)),
        "{body}"
    );
}

#[tokio::test]
async fn dev_routes_can_be_turned_off() {
    let mut config = Config::for_tests();
    config.no_dev_sign_in = true;
    let emu = Emu::start_with(config).await;
    for path in ["/v1/dev/sign-in", "/v1/dev/activation-codes"] {
        let (status, body) = emu.post(path, None, &[], json!({"nickname": "ann"})).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["data"]["access_token"].is_null());
    }
}

fn stream_frame(
    chat: &str,
    phase: StreamPhase,
    id: &str,
    target: Option<u64>,
    fragments: usize,
) -> String {
    let mut payload = json!({
        "message_id": id, "sequence": 1,
        "fragments": (0..fragments).map(|_| json!({"kind": "text", "text": "x"})).collect::<Vec<_>>(),
    });
    if let Some(target) = target {
        payload["mutation"] = json!({"type": "append", "target_fragment_index": target});
    }
    let event = match phase {
        StreamPhase::Created => "message.created",
        StreamPhase::Add => "message.add",
        StreamPhase::Done => "message.done",
        StreamPhase::Failed => "message.failed",
    };
    json!({"version": "2", "event": event, "trace_id": "t-s", "emitted_at": 0,
           "chat_id": chat, "payload": payload})
    .to_string()
}

async fn refused(ws: &mut Ws) -> String {
    let frame = ws.next_frame().await;
    let Event::SendError(failure) = frame.event else {
        panic!("expected message.error, got {:?}", frame.event)
    };
    assert_eq!(failure.code, "bad_request");
    failure.reason.unwrap_or_default()
}

#[tokio::test]
async fn the_hub_refuses_stream_mutations_past_the_message_and_relays_good_ones() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let (mut a, mut b) = (emu.connect(&ann).await, emu.connect(&bob).await);
    let send = |phase, target, fragments| stream_frame(&chat, phase, "msg-s", target, fragments);

    a.send_raw(&send(StreamPhase::Created, None, 1)).await;
    a.send_raw(&send(StreamPhase::Add, Some(0), 1)).await;
    a.send_raw(&send(StreamPhase::Add, Some(1), 1)).await;
    for _ in 0..3 {
        assert!(matches!(b.next_frame().await.event, Event::Stream(..)));
    }
    for target in [3, 5_000_000, 4_294_967_295] {
        a.send_raw(&send(StreamPhase::Add, Some(target), 1)).await;
        assert!(refused(&mut a).await.contains("target_fragment_index"));
    }
    a.send_raw(&stream_frame(
        &chat,
        StreamPhase::Add,
        "msg-unknown",
        Some(300),
        1,
    ))
    .await;
    refused(&mut a).await;
    a.send_raw(&stream_frame(
        &chat,
        StreamPhase::Created,
        "msg-big",
        None,
        257,
    ))
    .await;
    assert!(refused(&mut a).await.contains("fragments"));
    b.expect_silence(300).await;
    assert!(emu.stats().await["bad_frames"].as_u64().unwrap() >= 5);
}

#[tokio::test]
async fn the_hub_refuses_long_ids_and_oversized_messages_without_echoing_them() {
    let emu = Emu::start().await;
    let (ann, bob, chat) = emu.direct_pair().await;
    let (mut a, mut b) = (emu.connect(&ann).await, emu.connect(&bob).await);
    let long = "x".repeat(257);

    let mut frame = Frame::new(Event::Send(text_message(&long, "hi")), "t1", 0).in_chat(&chat);
    a.send(&frame).await;
    let error = a.next_frame().await;
    assert_eq!(error.trace_id, "t1");
    let Event::SendError(failure) = error.event else {
        panic!()
    };
    assert_eq!(
        (failure.code.as_str(), failure.message_id),
        ("bad_request", None)
    );

    frame = Frame::new(Event::Send(text_message(&mint_id(), "hi")), "t2", 0).in_chat(long.as_str());
    a.send(&frame).await;
    let error = a.next_frame().await;
    assert_eq!(error.chat_id, None, "a long chat id is not echoed");
    assert!(matches!(error.event, Event::SendError(ref f) if f.code == "bad_request"));

    frame = Frame::new(
        Event::Send(text_message(&mint_id(), "hi")),
        long.as_str(),
        0,
    )
    .in_chat(&chat);
    a.send(&frame).await;
    assert_eq!(
        a.next_frame().await.trace_id,
        "",
        "a long trace id is not echoed"
    );

    let mut many = text_message(&mint_id(), "x");
    many.message.body.fragments = vec![Fragment::text("x"); 257];
    a.send(&Frame::new(Event::Send(many), "t4", 0).in_chat(&chat))
        .await;
    assert!(refused(&mut a).await.contains("fragments"));

    let typing: StreamPayload =
        clawchat_wasm::json::from_str(r#"{"message_id": "", "fragments": []}"#).unwrap();
    a.send(&Frame::new(Event::Stream(StreamPhase::Created, typing), "t5", 0).in_chat(&chat))
        .await;
    assert_eq!(refused(&mut a).await, "missing message_id");

    b.expect_silence(300).await;
    let id = a.send_text(&chat, "still fine").await;
    assert_eq!(a.ack().await.0, id);
    assert_eq!(b.receive_texts(1).await, ["still fine"]);
    assert!(
        !send_codes::is_terminal("bad_request"),
        "bad_request only fails that send"
    );
}
