//! Load benchmark (not a test): 1,000 sockets in 500 direct-chat pairs against an
//! in-process emulator. Each socket runs a closed loop — send, wait for the ack, repeat —
//! while reading its partner's messages. A baseline phase does the same with app-level
//! `ping`/`pong` (same sockets, no storage), so the send path is reported as a ratio.
//!
//! `bench/emulator-load [SOCKETS] [SECONDS]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clawchat_emulator::{start, Config};
use clawchat_wasm::protocol::{
    decode, ids, Capabilities, Connect, Event, Fragment, Frame, MessageBody, MessageContent,
    MessagePayload,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

struct Account {
    token: String,
    device: String,
    user_id: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Ping,
    Send,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn sign_in(http: &reqwest::Client, base: &str, name: &str) -> Account {
    let body: Value = http
        .post(format!("{base}/v1/dev/sign-in"))
        .json(&json!({"nickname": name, "device_id": format!("dev-{name}"), "ttl_secs": 3600}))
        .send()
        .await
        .expect("sign-in")
        .json()
        .await
        .expect("sign-in json");
    let data = &body["data"];
    Account {
        token: data["access_token"].as_str().unwrap().into(),
        device: data["device_id"].as_str().unwrap().into(),
        user_id: data["user_id"].as_str().unwrap().into(),
    }
}

/// CPU seconds this process (emulator, writer thread and load generator) has used, from
/// `/proc/self/stat` (user + system, in the kernel's fixed 100 Hz `USER_HZ` ticks). Unlike
/// a rate, CPU per round trip barely moves with what else the machine is running.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank] as f64 / 1000.0
}

/// One socket's closed loop for `duration`; returns its round-trip latencies in µs.
async fn drive(
    url: String,
    account: Account,
    chat_id: String,
    phase: Phase,
    duration: Duration,
    delivered: Arc<AtomicU64>,
) -> Vec<u64> {
    // A small read buffer, as the emulator's: the library zeroes it before every read,
    // and at its 128 KiB default that load-generator work dwarfed the hub's own.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
        .await
        .expect("socket");
    let nonce = loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            if let Ok(Frame {
                event: Event::Challenge(c),
                ..
            }) = decode(&t)
            {
                break c.nonce;
            }
        }
    };
    let connect = Connect {
        token: account.token,
        nonce,
        device_id: Some(account.device),
        capabilities: Some(Capabilities::client_default()),
    };
    let hello = Frame::new(Event::Connect(connect), "c", 0).encode_uplink();
    ws.send(Message::Text(hello.into())).await.expect("connect");
    let (mut sink, mut stream) = ws.split();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            match decode(&text).map(|f| f.event) {
                Ok(Event::Ack(_) | Event::Pong(_)) => {
                    let _ = done_tx.send(());
                }
                Ok(Event::Send(_)) => {
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await; // let every peer finish its handshake
    let mut latencies = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let event = match phase {
            Phase::Ping => Event::Ping(clawchat_wasm::json::RawJson::empty_object()),
            Phase::Send => Event::Send(MessagePayload {
                message_id: ids::message_id(now_ms(), ids::random_u128().unwrap()),
                message_mode: "normal".into(),
                message: MessageContent {
                    body: MessageBody {
                        fragments: vec![Fragment::text("load test message")],
                    },
                    context: Default::default(),
                },
                streaming: None,
            }),
        };
        let frame = Frame::new(event, "t", now_ms() as i64)
            .in_chat(&chat_id)
            .encode_uplink();
        let sent = Instant::now();
        if sink.send(Message::Text(frame.into())).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(10), done_rx.recv()).await {
            Ok(Some(())) => latencies.push(sent.elapsed().as_micros() as u64),
            _ => break,
        }
    }
    let _ = sink.close().await;
    reader.abort();
    latencies
}

async fn run_phase(
    url: &str,
    pairs: &[(Arc<Account>, Arc<Account>, String)],
    phase: Phase,
    secs: u64,
) -> (f64, Vec<u64>, u64, f64) {
    let delivered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let cpu_before = cpu_secs();
    let mut tasks = Vec::new();
    for (a, b, chat) in pairs {
        for account in [a, b] {
            let account = Account {
                token: account.token.clone(),
                device: account.device.clone(),
                user_id: account.user_id.clone(),
            };
            tasks.push(tokio::spawn(drive(
                url.to_owned(),
                account,
                chat.clone(),
                phase,
                Duration::from_secs(secs),
                delivered.clone(),
            )));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64() - 0.2;
    let cpu_per_trip_us = (cpu_secs() - cpu_before) * 1e6 / all.len().max(1) as f64;
    all.sort_unstable();
    (
        all.len() as f64 / elapsed,
        all,
        delivered.load(Ordering::Relaxed),
        cpu_per_trip_us,
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sockets: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("clawchat-load-{}", std::process::id()));
    let mut config = Config::for_tests();
    config.db = dir.join("db.sqlite3").to_string_lossy().into_owned();
    let running = start(config).await.expect("emulator starts");
    let (base, url) = (running.base_url(), running.ws_url());
    let http = reqwest::Client::new();

    let mut pairs = Vec::new();
    for i in 0..sockets / 2 {
        let a = sign_in(&http, &base, &format!("load-a{i}")).await;
        let b = sign_in(&http, &base, &format!("load-b{i}")).await;
        let chat: Value = http
            .post(format!("{base}/v1/chats"))
            .bearer_auth(&a.token)
            .json(&json!({"type": "direct", "member_ids": [b.user_id]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pairs.push((
            Arc::new(a),
            Arc::new(b),
            chat["data"]["id"].as_str().unwrap().to_owned(),
        ));
    }
    println!(
        "{} sockets, {secs} s per phase, SQLite file store (WAL), 2-core machine",
        pairs.len() * 2
    );
    let (ping_rate, ping_lat, _, ping_cpu) = run_phase(&url, &pairs, Phase::Ping, secs).await;
    let before = running.writer_stats();
    let send_started = Instant::now();
    let (send_rate, send_lat, delivered, send_cpu) =
        run_phase(&url, &pairs, Phase::Send, secs).await;
    let wall_us = send_started.elapsed().as_micros().max(1) as f64;
    let after = running.writer_stats();
    let commits = (after.commits - before.commits).max(1) as f64;
    println!(
        "baseline ping->pong : {ping_rate:>9.0} round trips/s  p50 {:>6.2} ms  p99 {:>6.2} ms  cpu {ping_cpu:.0} us",
        percentile(&ping_lat, 50.0),
        percentile(&ping_lat, 99.0)
    );
    println!("send->ack (stored)  : {send_rate:>9.0} msgs/s         p50 {:>6.2} ms  p99 {:>6.2} ms  cpu {send_cpu:.0} us  ({delivered} delivered)", percentile(&send_lat, 50.0), percentile(&send_lat, 99.0));
    println!(
        "writer (send phase) : {commits:.0} commits, {:.1} writes ({:.1} messages) a commit, busy {:.0} % of the phase",
        (after.writes - before.writes) as f64 / commits,
        (after.messages - before.messages) as f64 / commits,
        (after.busy_us - before.busy_us) as f64 * 100.0 / wall_us
    );
    println!(
        "send/baseline ratio : {:.2}x throughput, {:.2}x p99, {:.2}x cpu per round trip",
        send_rate / ping_rate.max(1.0),
        percentile(&send_lat, 99.0) / percentile(&ping_lat, 99.0).max(0.001),
        send_cpu / ping_cpu.max(0.001)
    );
    running.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
