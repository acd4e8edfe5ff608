//! A test client for the emulator: reqwest for REST, tokio-tungstenite for `/ws`, and the
//! SDK's own protocol core for frames.
#![allow(dead_code)]

use std::time::Duration;

use clawchat_emulator::{start, Config, Running};
use clawchat_wasm::protocol::{
    decode, ids, Capabilities, Connect, Event, Fragment, Frame, MessageBody, MessageContent,
    MessagePayload,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected frame.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running emulator with an HTTP client.
pub struct Emu {
    pub running: Running,
    pub http: reqwest::Client,
}

/// A signed-in account.
#[derive(Clone, Debug)]
pub struct Account {
    pub user_id: String,
    pub device_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Emu {
    pub async fn start() -> Emu {
        Emu::start_with(Config::for_tests()).await
    }

    pub async fn start_with(config: Config) -> Emu {
        let running = start(config).await.expect("emulator starts");
        Emu {
            running,
            http: reqwest::Client::new(),
        }
    }

    /// POST a JSON body; returns (HTTP status, parsed body or Null).
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.running.base_url()))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.running.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `request` (a whole HTTP/1.1 request head, `Connection: close`) to `addr`
    /// over a plain TCP socket, so any `Host` can be sent; returns the response head.
    pub async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream.write_all(request.as_bytes()).await.expect("written");
        let mut response = Vec::new();
        let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
        let text = String::from_utf8_lossy(&response).into_owned();
        text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
    }

    pub async fn admin(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.running.admin_url()))
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert!(
            response.status().is_success(),
            "admin {path}: {}",
            response.status()
        );
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/admin/stats", self.running.admin_url()))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    pub async fn sign_in(&self, nickname: &str, device_id: &str) -> Account {
        self.sign_in_ttl(nickname, device_id, 600).await
    }

    pub async fn sign_in_ttl(&self, nickname: &str, device_id: &str, ttl_secs: u64) -> Account {
        let (status, body) = self
            .post(
                "/v1/dev/sign-in",
                None,
                &[],
                json!({"nickname": nickname, "device_id": device_id, "ttl_secs": ttl_secs}),
            )
            .await;
        assert_eq!((status, body["code"].as_i64()), (200, Some(0)), "{body}");
        let data = &body["data"];
        Account {
            user_id: data["user_id"].as_str().unwrap().to_owned(),
            device_id: data["device_id"].as_str().unwrap().to_owned(),
            access_token: data["access_token"].as_str().unwrap().to_owned(),
            refresh_token: data["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn chat(&self, owner: &Account, kind: &str, others: &[&Account]) -> String {
        let ids: Vec<&str> = others.iter().map(|a| a.user_id.as_str()).collect();
        let (status, body) = self
            .post(
                "/v1/chats",
                Some(&owner.access_token),
                &[],
                json!({"type": kind, "member_ids": ids, "name": "t"}),
            )
            .await;
        assert_eq!((status, body["code"].as_i64()), (200, Some(0)), "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// ann and bob, signed in on devices d1 and d2, with a direct chat between them.
    pub async fn direct_pair(&self) -> (Account, Account, String) {
        let ann = self.sign_in("ann", "d1").await;
        let bob = self.sign_in("bob", "d2").await;
        let chat = self.chat(&ann, "direct", &[&bob]).await;
        (ann, bob, chat)
    }

    /// A socket through the handshake as `account`.
    pub async fn connect(&self, account: &Account) -> Ws {
        Ws::handshake(
            &self.running.ws_url(),
            &account.access_token,
            Some(&account.device_id),
        )
        .await
        .expect("hello-ok")
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn mint_id() -> String {
    ids::message_id(now_ms(), ids::random_u128().unwrap())
}

pub fn text_message(message_id: &str, text: &str) -> MessagePayload {
    MessagePayload {
        message_id: message_id.to_owned(),
        message_mode: "normal".into(),
        message: MessageContent {
            body: MessageBody {
                fragments: vec![Fragment::text(text)],
            },
            context: Default::default(),
        },
        streaming: None,
    }
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// A close frame with this code.
    Code(u16),
    /// The connection ended without a close frame.
    Abrupt,
}

/// One WebSocket client.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn open(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("socket opens");
        Ws { stream }
    }

    /// Challenge → connect → hello-ok, or `Err(reason)` on hello-fail.
    pub async fn handshake(url: &str, token: &str, device_id: Option<&str>) -> Result<Ws, String> {
        let mut ws = Ws::open(url).await;
        let Event::Challenge(challenge) = ws.next_frame().await.event else {
            panic!("expected a challenge")
        };
        ws.send_connect(token, &challenge.nonce, device_id).await;
        match ws.next_frame().await.event {
            Event::HelloOk(_) => Ok(ws),
            Event::HelloFail(fail) => Err(fail.reason),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn send_connect(&mut self, token: &str, nonce: &str, device_id: Option<&str>) {
        let connect = Connect {
            token: token.to_owned(),
            nonce: nonce.to_owned(),
            device_id: device_id.map(str::to_owned),
            capabilities: Some(Capabilities::client_default()),
        };
        self.send(&Frame::new(
            Event::Connect(connect),
            "t-connect",
            now_ms() as i64,
        ))
        .await;
    }

    pub async fn send(&mut self, frame: &Frame) {
        self.send_raw(&frame.encode_uplink()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("frame sent");
    }

    /// Sends a text message; returns its id.
    pub async fn send_text(&mut self, chat_id: &str, text: &str) -> String {
        let id = mint_id();
        self.send_message(chat_id, &id, text).await;
        id
    }

    pub async fn send_message(&mut self, chat_id: &str, message_id: &str, text: &str) {
        let frame = Frame::new(
            Event::Send(text_message(message_id, text)),
            format!("t-{message_id}"),
            now_ms() as i64,
        )
        .in_chat(chat_id);
        self.send(&frame).await;
    }

    /// The next text frame, decoded. Panics after [`WAIT`].
    pub async fn next_frame(&mut self) -> Frame {
        match self.next_frame_within(WAIT).await {
            Some(frame) => frame,
            None => panic!("no frame within {WAIT:?}"),
        }
    }

    /// The next text frame within `wait`, or `None` (silence or close). `replay.done`
    /// frames are passed over (see [`Ws::until_replay_done`] for the tests of them).
    pub async fn next_frame_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let frame = self.any_frame_within(wait).await?;
            if frame.event.name() != "replay.done" {
                return Some(frame);
            }
        }
    }

    /// The next text frame within `wait`, whatever it is.
    pub async fn any_frame_within(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match message {
                Ok(Message::Text(text)) => {
                    return Some(decode(&text).expect("server frames decode"))
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The frames before the next `replay.done`, and its payload.
    pub async fn until_replay_done(&mut self) -> (Vec<Frame>, Value) {
        let mut before = Vec::new();
        loop {
            let frame = self
                .any_frame_within(WAIT)
                .await
                .expect("replay.done arrives");
            if frame.event.name() == "replay.done" {
                let wire: Value = serde_json::from_str(&frame.encode_downlink()).unwrap();
                return (before, wire["payload"].clone());
            }
            before.push(frame);
        }
    }

    /// Asserts nothing arrives for `ms`.
    pub async fn expect_silence(&mut self, ms: u64) {
        if let Some(frame) = self.next_frame_within(Duration::from_millis(ms)).await {
            panic!("expected silence, got {:?}", frame.event);
        }
    }

    /// Waits for the socket to end and says how.
    pub async fn closed(&mut self) -> Closed {
        match self.close_frame().await {
            Some((code, _)) => Closed::Code(code),
            None => Closed::Abrupt,
        }
    }

    /// Waits for the socket to end: the close code and reason, or `None` when it ended
    /// without a close frame.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("socket ends in time")
            {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Some((frame.code.into(), frame.reason.to_string()))
                }
                Some(Ok(Message::Close(None))) => return Some((1005, String::new())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next ack's (message id, accepted_at).
    pub async fn ack(&mut self) -> (String, i64) {
        match self.next_frame().await.event {
            Event::Ack(ack) => (ack.message_id, ack.accepted_at),
            other => panic!("expected an ack, got {other:?}"),
        }
    }

    /// The texts of the next `n` messages delivered.
    pub async fn receive_texts(&mut self, n: usize) -> Vec<String> {
        let mut texts = Vec::new();
        while texts.len() < n {
            let frame = self.next_frame().await;
            if let Event::Send(payload) | Event::Reply(payload) = frame.event {
                texts.push(
                    payload
                        .message
                        .body
                        .fragments
                        .iter()
                        .filter_map(Fragment::plain_text)
                        .collect(),
                );
            }
        }
        texts
    }
}
