//! Stateful fuzzing of the whole inbound path: random and mutated frame sequences, built
//! from the wire types, driven through `Connection` (outbox, inbound filter, dedupe,
//! stream assembly) with sends, ticks and reconnects in between. After every step: no
//! panic, memory held below a fixed bound, no message delivered twice, no own echo
//! delivered, no stream past its bounds, every uplink decodable, every send settled once.
//!
//! `cargo test --test fuzz_inbound` runs a short pass and replays the corpus in
//! `tests/fuzz-corpus/` (cases found so far, one frame per line). `bench/fuzz` runs
//! millions of frames in release mode: `CLAWCHAT_FUZZ_FRAMES` and `CLAWCHAT_FUZZ_SEED`
//! set the length and the seed; a failure prints the seed and step to replay.
//!
//! Native only: it counts the native heap with an allocator of its own (in wasm32 the
//! SDK sets the heap's allocator) and reads its corpus from disk.
#![cfg(not(target_arch = "wasm32"))]

mod seeded;

use seeded::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clawchat_wasm::protocol::{decode, MAX_FRAME_BYTES};
use clawchat_wasm::session::dedupe::DedupeWindow;
use clawchat_wasm::session::{
    Action, Backoff, Connection, Delivery, Entropy, Now, OutboxLimits, Outgoing, SessionConfig,
    Timings,
};

/// Counts live heap bytes, so the test can bound what the machines hold.
struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// What the machines may hold at most, over the harness's own small bookkeeping (**ours**:
/// the stream bounds — 16 streams × 256 KiB, held as fragments, text and a snapshot —
/// plus the dedupe and closed-chat windows, with room to spare).
const MEMORY_BOUND: usize = 32 * 1024 * 1024;

/// Frames in the default (debug-build) pass.
const DEFAULT_FRAMES: u64 = 20_000;

const OWN_USER: &str = "me";
const PEERS: [&str; 4] = ["peer-1", "peer-2", "agent-1", "agent-2"];
const CHATS: [&str; 3] = ["c-1", "c-2", "c-3"];
const CODES: [&str; 9] = [
    "chat_not_found",
    "not_member",
    "bad_request",
    "capability_missing",
    "unsupported_version",
    "message_too_large",
    "message_id_too_long",
    "rate_limited",
    "500",
];
const HOSTILE_INDEXES: [u64; 6] = [255, 256, 5_000_000, 4_294_967_295, 1 << 53, u64::MAX];

struct FixedEntropy(u128);

impl Entropy for FixedEntropy {
    fn next_u128(&mut self) -> u128 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.0
    }
}

/// Builds frames a server or a hostile peer could send.
struct FrameGen {
    rng: Rng,
    next_message: u64,
    next_stream: u64,
    next_chat: u64,
}

impl FrameGen {
    fn new(seed: u64) -> Self {
        FrameGen {
            rng: Rng::new(seed),
            next_message: 0,
            next_stream: 0,
            next_chat: 0,
        }
    }

    fn sender(&mut self) -> String {
        match self.rng.below(20) {
            0 | 1 => OWN_USER.to_owned(),
            2 => "x".repeat(300),
            3 => String::new(),
            _ => self.rng.pick(&PEERS).to_owned(),
        }
    }

    fn chat(&mut self) -> String {
        if self.rng.chance(10) {
            self.next_chat += 1;
            format!("unique-{}", self.next_chat)
        } else {
            self.rng.pick(&CHATS).to_owned()
        }
    }

    /// A message id from a window of recent ones, so repeats happen (replays).
    fn message_id(&mut self) -> String {
        if self.rng.chance(60) {
            self.next_message += 1;
        }
        let back = self.rng.below(64).min(self.next_message);
        format!("msg-{}", self.next_message - back)
    }

    fn number(&mut self) -> String {
        match self.rng.below(10) {
            0 => "9007199254740993".into(),
            1 => "18446744073709551615".into(),
            2 => "-9007199254740993".into(),
            3 => "1e400".into(),
            4 => "-1".into(),
            5 => "0.5".into(),
            _ => self.rng.below(100_000).to_string(),
        }
    }

    /// JSON string content of about `len` bytes: ASCII, `é` and escaped quotes, cut from
    /// a fixed pattern in 8-byte units (each unit is valid on its own).
    fn text(&mut self, len: usize) -> String {
        const UNIT: [&str; 2] = ["ab cd ef", "abé\\\"de"];
        let units = len / 8;
        let start = self.rng.below(2) as usize;
        (0..units).map(|i| UNIT[(start + i) % 2]).collect()
    }

    fn fragment(&mut self) -> String {
        match self.rng.below(8) {
            0 => format!(
                r#"{{"kind":"mention","user_id":"{}","display":"@x"}}"#,
                self.rng.pick(&["all", "peer-1", OWN_USER])
            ),
            1 => format!(
                r#"{{"kind":"image","url":"{}","size":{},"width":{},"height":3}}"#,
                self.rng
                    .pick(&["/m/1.png", "javascript:alert(1)", "data:text/html,x"]),
                self.number(),
                self.number()
            ),
            2 => format!(r#"{{"kind":"sticker","n":{}}}"#, self.number()),
            3 => r#"{"kind":"text"}"#.into(),
            _ => {
                let len = self.rng.below(40) as usize;
                format!(r#"{{"kind":"text","text":"{}"}}"#, self.text(len))
            }
        }
    }

    fn fragments(&mut self) -> String {
        let n = if self.rng.chance(2) {
            300
        } else {
            1 + self.rng.below(3) as usize
        };
        let list: Vec<String> = (0..n).map(|_| self.fragment()).collect();
        format!("[{}]", list.join(","))
    }

    fn envelope(&mut self, event: &str, payload: &str) -> String {
        let sender = self.sender();
        let chat = self.chat();
        let chat_type = self.rng.pick(&["direct", "group", "other"]);
        format!(
            r#"{{"version":"2","event":"{event}","trace_id":"t-{}","emitted_at":{},"chat_id":"{chat}","chat_type":"{chat_type}","sender":{{"id":"{sender}","type":"direct","nick_name":"N"}},"payload":{payload}}}"#,
            self.rng.below(1000),
            self.number(),
        )
    }

    fn message(&mut self) -> String {
        let id = self.message_id();
        let mode = self.rng.pick(&["normal", "", "thinking"]);
        let fragments = self.fragments();
        let mentions = format!(r#"[{{"user_id":"all","n":{}}}]"#, self.number());
        let reply = if self.rng.chance(30) {
            format!(
                r#"{{"reply_to_msg_id":"msg-1","reply_preview":{{"id":"msg-1","nick_name":"B","fragments":{}}}}}"#,
                self.fragments()
            )
        } else {
            "null".into()
        };
        let event = self.rng.pick(&["message.send", "message.reply"]);
        let payload = format!(
            r#"{{"message_id":"{id}","message_mode":"{mode}","message":{{"body":{{"fragments":{fragments}}},"context":{{"mentions":{mentions},"reply":{reply}}}}}}}"#
        );
        self.envelope(event, &payload)
    }

    fn stream(&mut self) -> String {
        if self.rng.chance(20) {
            self.next_stream += 1;
        }
        let id = format!("s-{}", self.next_stream.saturating_sub(self.rng.below(24)));
        let phase = self.rng.pick(&[
            "message.created",
            "message.add",
            "message.add",
            "message.add",
            "message.done",
            "message.failed",
        ]);
        let index = if self.rng.chance(10) {
            HOSTILE_INDEXES[self.rng.below(HOSTILE_INDEXES.len() as u64) as usize]
        } else {
            self.rng.below(4)
        };
        let len = if self.rng.chance(1) {
            200_000
        } else {
            self.rng.below(200) as usize
        };
        let text = self.text(len);
        let payload = format!(
            r#"{{"message_id":"{id}","sequence":{},"mutation":{{"type":"append","target_fragment_index":{index}}},"fragments":[{{"kind":"text","text":"{text}","delta":"a"}}]}}"#,
            self.rng.below(40)
        );
        self.envelope(phase, &payload)
    }

    fn control(&mut self, pending: &[String]) -> String {
        let id = match pending.first() {
            Some(id) if self.rng.chance(70) => id.clone(),
            _ => self.message_id(),
        };
        let number = self.number();
        match self.rng.below(9) {
            0 | 1 => self.envelope(
                "message.ack",
                &format!(r#"{{"message_id":"{id}","accepted_at":{number}}}"#),
            ),
            2 | 3 => {
                let code = self.rng.pick(&CODES);
                self.envelope(
                    "message.error",
                    &format!(r#"{{"code":"{code}","reason":"no","message_id":"{id}"}}"#),
                )
            }
            4 => self.envelope("typing.update", r#"{"is_typing":true}"#),
            5 => self.envelope("ping", &format!(r#"{{"n":{number}}}"#)),
            6 => self.envelope(
                "hello-ok",
                r#"{"device_id":"d","delivery_mode":"device_replay"}"#,
            ),
            7 => self.envelope("chat.meta", r#"{"anything":[1,2,{"x":null}]}"#),
            _ => self.envelope("connect.challenge", r#"{"nonce":"n"}"#),
        }
    }

    /// Byte flips, truncation, duplication and junk inside an otherwise valid frame.
    fn mutate(&mut self, frame: String) -> String {
        let mut bytes = frame.into_bytes();
        match self.rng.below(4) {
            0 if !bytes.is_empty() => {
                let cut = self.rng.below(bytes.len() as u64) as usize;
                bytes.truncate(cut);
            }
            1 => {
                for _ in 0..1 + self.rng.below(4) {
                    if let Some(len) = std::num::NonZeroUsize::new(bytes.len()) {
                        let at = self.rng.below(len.get() as u64) as usize;
                        bytes[at] = self.rng.next() as u8;
                    }
                }
            }
            2 => {
                let copy = bytes.clone();
                bytes.extend_from_slice(&copy);
            }
            _ => {
                let junk = self
                    .rng
                    .pick(&["null", "[]", "{}", "\"x\"", "1e999", "{\"a\":"]);
                return junk.to_owned();
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn frame(&mut self, pending: &[String]) -> String {
        let frame = match self.rng.below(10) {
            0..=3 => self.message(),
            4..=6 => self.stream(),
            _ => self.control(pending),
        };
        if self.rng.chance(10) {
            self.mutate(frame)
        } else {
            frame
        }
    }
}

/// The machine under test and what the invariants need to remember.
struct Harness {
    machine: Connection<FixedEntropy>,
    now: Now,
    /// Rows the machine asked to persist, saved (acknowledged) on the next event.
    unsaved: Vec<String>,
    delivered: HashSet<String>,
    delivered_order: VecDeque<String>,
    pending: Vec<String>,
    /// Recently settled sends (ids are minted fresh, so a repeat is recent).
    settled: DedupeWindow,
    peak_bytes: usize,
    baseline: usize,
    /// What runs (a seed or a corpus file) and the step, for a replayable failure.
    label: String,
    step: u64,
    /// The last frames fed, newest last.
    recent: VecDeque<String>,
}

impl Harness {
    fn new() -> Self {
        let config = SessionConfig {
            ws_url: "ws://hub/ws".into(),
            device_id: "dev-1".into(),
            user_id: OWN_USER.into(),
            timings: Timings::default(),
            limits: OutboxLimits::default(),
            backoff: Backoff::default(),
        };
        let baseline = LIVE_BYTES.load(Ordering::Relaxed);
        let mut h = Harness {
            machine: Connection::new(config, "access".into(), FixedEntropy(7)),
            now: Now::new(1_000, 1_700_000_000_000),
            unsaved: Vec::new(),
            delivered: HashSet::new(),
            delivered_order: VecDeque::new(),
            pending: Vec::new(),
            settled: DedupeWindow::new(4096),
            peak_bytes: 0,
            baseline,
            label: String::new(),
            step: 0,
            recent: VecDeque::new(),
        };
        let actions = h.machine.connect();
        h.check(actions);
        h.handshake();
        h
    }

    fn handshake(&mut self) {
        let actions = self.machine.on_open(self.now);
        self.check(actions);
        for text in [
            r#"{"version":"2","event":"connect.challenge","trace_id":"s","emitted_at":1,"payload":{"nonce":"n-1"}}"#,
            r#"{"version":"2","event":"hello-ok","trace_id":"s","emitted_at":1,"payload":{"device_id":"dev-1","delivery_mode":"device_replay"}}"#,
        ] {
            let actions = self.machine.on_text(text, self.now);
            self.check(actions);
        }
    }

    fn fail(&self, why: String) -> ! {
        let tail: Vec<String> = self
            .recent
            .iter()
            .map(|f| f.chars().take(300).collect())
            .collect();
        panic!(
            "{why} at {}\nframes before it (oldest first): {tail:#?}",
            self.step
        );
    }

    fn remember(&mut self, frame: String) {
        if self.recent.len() == 4 {
            self.recent.pop_front();
        }
        self.recent.push_back(frame);
    }

    fn check(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Deliver(Delivery::Message(m)) => {
                    if m.origin.sender_id == OWN_USER {
                        self.fail(format!("own echo delivered: {}", m.message_id));
                    }
                    if !self.delivered.insert(m.message_id.clone()) {
                        self.fail(format!("delivered twice: {}", m.message_id));
                    }
                    self.delivered_order.push_back(m.message_id);
                    // Repeats come from the last 64 ids; remember far more than that.
                    if self.delivered_order.len() > 1024 {
                        if let Some(old) = self.delivered_order.pop_front() {
                            self.delivered.remove(&old);
                        }
                    }
                }
                Action::Deliver(Delivery::Stream(v)) => {
                    if v.origin.sender_id == OWN_USER {
                        self.fail(format!("own stream delivered: {}", v.message_id));
                    }
                    let bytes: usize = v.fragments.iter().map(|f| f.approx_bytes()).sum();
                    if v.fragments.len() > 256 || bytes > 256 * 1024 + MAX_FRAME_BYTES {
                        self.fail(format!("stream past its bounds: {bytes} bytes"));
                    }
                }
                Action::SendText(text) => {
                    if let Err(err) = decode(&text) {
                        self.fail(format!("undecodable uplink: {err}"));
                    }
                }
                Action::PersistRow(row) => self.unsaved.push(row.message_id),
                Action::Completed(done) => {
                    if !self.settled.first_sighting(&done.message_id) {
                        self.fail(format!("send settled twice: {}", done.message_id));
                    }
                    self.pending.retain(|id| *id != done.message_id);
                }
                _ => {}
            }
        }
        let live = LIVE_BYTES
            .load(Ordering::Relaxed)
            .saturating_sub(self.baseline);
        self.peak_bytes = self.peak_bytes.max(live);
        if live > MEMORY_BOUND {
            self.fail(format!("{live} bytes held, bound {MEMORY_BOUND}"));
        }
    }

    fn frame(&mut self, text: &str) {
        let actions = self.machine.on_text(text, self.now);
        self.check(actions);
    }

    /// Something other than a frame: time passes, the app sends, the socket drops.
    fn event(&mut self, rng: &mut Rng) {
        match rng.below(10) {
            0..=4 => {
                let span = if rng.chance(5) { 120_000 } else { 2_000 };
                self.now = self.now.after(rng.below(span) as i64);
                if rng.chance(5) {
                    // The wall clock steps an hour either way; durations must not care.
                    self.now.wall += if rng.chance(50) {
                        3_600_000
                    } else {
                        -3_600_000
                    };
                }
                for id in std::mem::take(&mut self.unsaved) {
                    let actions = self.machine.on_row_saved(&id, self.now);
                    self.check(actions);
                }
                let actions = self.machine.on_tick(self.now);
                self.check(actions);
            }
            5..=8 => {
                let outgoing = Outgoing {
                    fragments: vec![clawchat_wasm::protocol::Fragment::text("hi")],
                    reply: None,
                    message_id: None,
                };
                let chat = rng.pick(&CHATS);
                let (id, actions) = self.machine.send(chat, outgoing, self.now);
                self.pending.push(id);
                self.check(actions);
            }
            _ => {
                let code = if rng.chance(20) { 4001 } else { 1006 };
                let actions = self.machine.on_close(code, self.now);
                self.check(actions);
                let actions = self.machine.on_reconnect_timer();
                self.check(actions);
                self.handshake();
            }
        }
    }
}

fn frames_from_env() -> u64 {
    std::env::var("CLAWCHAT_FUZZ_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_FRAMES)
}

fn seed_from_env() -> u64 {
    std::env::var("CLAWCHAT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_c1a5)
}

#[test]
fn random_frame_sequences_hold_every_invariant() {
    let frames = frames_from_env();
    let seed = seed_from_env();
    let mut gen = FrameGen::new(seed);
    let mut events = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut harness = Harness::new();
    harness.label = format!("seed {seed}");
    let started = Instant::now();
    for step in 0..frames {
        if events.chance(20) {
            harness.event(&mut events);
        }
        let frame = gen.frame(&harness.pending);
        harness.step = step;
        harness.frame(&frame);
        harness.remember(frame);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {frames} frames, seed {seed}, {:.0} frames/s, peak {:.1} MiB held (bound {} MiB), {} delivered ids in window",
        frames as f64 / secs,
        harness.peak_bytes as f64 / (1024.0 * 1024.0),
        MEMORY_BOUND / (1024 * 1024),
        harness.delivered.len(),
    );
}

#[test]
fn the_corpus_of_found_cases_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-corpus exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "the corpus has cases");
    for case in cases {
        let mut harness = Harness::new();
        let text = std::fs::read_to_string(&case).expect("readable case");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            harness.label = case.display().to_string();
            harness.frame(line);
            harness.remember(line.to_owned());
        }
    }
}
