//! The connection machine: handshake, reconnect with backoff, liveness, replay, typing,
//! and routing of frames to the outbox and the inbound filter. Pure: every input carries
//! [`Now`] (monotonic and wall clock), outputs are [`Action`]s for the platform shell.

use crate::json::{RawJson, ToJson, Writer};

use crate::protocol::{
    decode, ids, Capabilities, Connect, Event, Fragment, Frame, HandshakeFailure, MessageBody,
    MessageContent, MessageContext, MessagePayload, ReplyContext, Typing, CLOSE_SESSION_TAKEN_OVER,
};

use super::backoff::Backoff;
use super::clock::Now;
use super::inbound::{Delivery, InboundFilter, Skip};
use super::liveness::{Liveness, LivenessTimings, Verdict};
use super::outbox::{
    Completion, Outbox, OutboxLimits, OutboxRow, Outcome, QueuedSend, RowError, SendError,
    SendErrorKind, SendStatus, Unconfirmed,
};
use super::typing::{TypingBoard, TypingSender, TypingTimings};
use super::Entropy;

/// Timings of the connection, all monotonic ms (PROTOCOL.md §3 reference timings and §4
/// client defaults; **ours** where noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// `hello-ok` must arrive within this after the socket opens.
    pub handshake_timeout_ms: i64,
    /// A connection ready this long resets the backoff.
    pub stable_after_ms: i64,
    /// A JSON `ping` goes out after this much quiet.
    pub ping_interval_ms: i64,
    /// A `ping` unanswered this long means the socket is dead.
    pub pong_window_ms: i64,
    /// Ticks further apart than this mean timers were throttled (**ours**).
    pub tick_gap_ms: i64,
    /// A stream silent this long without `done` fails (**ours**).
    pub stream_stall_ms: i64,
    /// Without `replay.done` this long after `hello-ok`, the replay is taken as over.
    pub replay_fallback_ms: i64,
    /// After close 4001 (session taken over), reconnect no sooner than this.
    pub takeover_floor_ms: i64,
    /// Typing refresh and expiry.
    pub typing: TypingTimings,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            handshake_timeout_ms: 10_000,
            stable_after_ms: 5_000,
            ping_interval_ms: 20_000,
            pong_window_ms: 10_000,
            tick_gap_ms: 5_000,
            stream_stall_ms: 60_000,
            replay_fallback_ms: 5_000,
            takeover_floor_ms: 5_000,
            typing: TypingTimings::default(),
        }
    }
}

impl Timings {
    fn liveness(&self) -> LivenessTimings {
        LivenessTimings {
            interval_ms: self.ping_interval_ms,
            window_ms: self.pong_window_ms,
            tick_gap_ms: self.tick_gap_ms,
        }
    }
}

/// Everything the machine is configured with.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `ws://` or `wss://` URL of the hub.
    pub ws_url: String,
    /// The device id sent in `connect`.
    pub device_id: String,
    /// Our user id (for the self-echo guard and mentions).
    pub user_id: String,
    /// Timings.
    pub timings: Timings,
    /// Outbox bounds.
    pub limits: OutboxLimits,
    /// Reconnect delays.
    pub backoff: Backoff,
}

/// The connection state the app sees: `{"state":"reconnecting","attempt":1,"delayMs":500}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Never connected.
    Idle,
    /// Opening a socket.
    Connecting {
        /// 0 for the first connect, then the reconnect attempt.
        attempt: u32,
    },
    /// Socket open, handshake under way.
    Handshaking,
    /// `hello-ok` received: sends flow.
    Ready,
    /// Waiting to reconnect.
    Reconnecting {
        /// The upcoming attempt.
        attempt: u32,
        /// How long until it starts.
        delay_ms: u32,
    },
    /// Closed by the app; no reconnect.
    Closed,
    /// Logged out; no reconnect.
    LoggedOut,
}

/// Something the machine reports to the app as an `error` event. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// A stable machine-readable kind.
    pub kind: &'static str,
    /// Human-readable detail.
    pub message: String,
}

impl ConnState {
    /// Its name, the object's `state`.
    pub fn name(&self) -> &'static str {
        match self {
            ConnState::Idle => "idle",
            ConnState::Connecting { .. } => "connecting",
            ConnState::Handshaking => "handshaking",
            ConnState::Ready => "ready",
            ConnState::Reconnecting { .. } => "reconnecting",
            ConnState::Closed => "closed",
            ConnState::LoggedOut => "logged_out",
        }
    }
}

impl ToJson for ConnState {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("state", self.name());
        match self {
            ConnState::Connecting { attempt } => {
                o.field("attempt", attempt);
            }
            ConnState::Reconnecting { attempt, delay_ms } => {
                o.field("attempt", attempt).field("delayMs", delay_ms);
            }
            _ => {}
        }
        o.end();
    }
}

/// The `error` event.
impl ToJson for ClientError {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("kind", self.kind).field("message", &self.message);
        o.end();
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a WebSocket to this URL (closing any previous one).
    OpenSocket(String),
    /// Open a WebSocket to this URL but keep reading the previous one until the server
    /// closes it: the hub's takeover of the old session comes after every envelope it
    /// wrote there, so nothing in flight is lost (make before break).
    ReplaceSocket(String),
    /// Write this text frame to the open socket.
    SendText(String),
    /// Close the socket and ignore its further events.
    CloseSocket,
    /// Call [`Connection::on_reconnect_timer`] after this many ms.
    ArmReconnect(u32),
    /// The state changed.
    State(ConnState),
    /// Store (insert or replace) this outbox row, then call
    /// [`Connection::on_row_saved`] with its message id. A new send is not written to
    /// a socket before that call.
    PersistRow(OutboxRow),
    /// Delete the outbox row of this message id (acked or ended), after any earlier
    /// store of the same row.
    RemoveRow(String),
    /// A send finished.
    Completed(Completion),
    /// A send may or may not have been delivered; it stays queued and goes again, same
    /// id, on the next connection.
    Unconfirmed(Unconfirmed),
    /// The replay of missed envelopes after `hello-ok` ended: what follows is live.
    ReplayDone {
        /// No `replay.done` came within the fallback time.
        timed_out: bool,
    },
    /// Deliver an inbound event.
    Deliver(Delivery),
    /// Report an error.
    Error(ClientError),
    /// The hub rejected the access token: refresh it, then call
    /// [`Connection::reconnect_with_token`].
    TokenRejected,
}

/// What woke the page up: each makes the machine re-check the socket at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// `visibilitychange` to visible.
    Visible,
    /// `pageshow` (also back from the back-forward cache).
    PageShow,
    /// `focus`.
    Focus,
    /// `online`: also cuts a reconnect backoff short (never a takeover's floor).
    Online,
}

/// Why the socket went away (decides the reconnect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Network,
    HandshakeTimeout,
    Dead,
    Refused(HandshakeFailure),
    NewToken,
    TakenOver,
}

/// What to send: fragments, and the message replied to.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The body.
    pub fragments: Vec<Fragment>,
    /// Set for `message.reply`.
    pub reply: Option<ReplyContext>,
    /// Reuse this id (a retry); otherwise one is minted.
    pub message_id: Option<String>,
}

/// The connection machine.
pub struct Connection<E: Entropy> {
    config: SessionConfig,
    token: String,
    state: ConnState,
    attempt: u32,
    /// When the socket opened (monotonic).
    opened_at: i64,
    /// When the connection became ready (monotonic), while ready.
    ready_since: Option<i64>,
    /// When the replay started (monotonic), until `replay.done` or the fallback.
    replay_since: Option<i64>,
    /// When the pending reconnect is due (monotonic), while reconnecting.
    reconnect_at: i64,
    /// No reconnect before this (monotonic): set by a takeover.
    not_before: i64,
    liveness: Option<Liveness>,
    outbox: Outbox,
    inbound: InboundFilter,
    typing_out: TypingSender,
    typing_in: TypingBoard,
    entropy: E,
}

/// A finished send: its row goes, then the app hears of it.
fn finished(completion: Completion, out: &mut Vec<Action>) {
    out.push(Action::RemoveRow(completion.message_id.clone()));
    out.push(Action::Completed(completion));
}

fn outcomes(outcomes: Vec<Outcome>, out: &mut Vec<Action>) {
    for outcome in outcomes {
        match outcome {
            Outcome::Finished(completion) => finished(completion, out),
            Outcome::Unconfirmed(note, row) => {
                out.push(Action::PersistRow(row));
                out.push(Action::Unconfirmed(note));
            }
        }
    }
}

impl<E: Entropy> Connection<E> {
    /// A machine in `Idle` for `config`, connecting with `token`.
    pub fn new(config: SessionConfig, token: String, entropy: E) -> Self {
        let timings = config.timings;
        let inbound = InboundFilter::new(&config.user_id, timings.stream_stall_ms);
        let outbox = Outbox::new(config.limits);
        Connection {
            config,
            token,
            state: ConnState::Idle,
            attempt: 0,
            opened_at: 0,
            ready_since: None,
            replay_since: None,
            reconnect_at: 0,
            not_before: i64::MIN,
            liveness: None,
            outbox,
            inbound,
            typing_out: TypingSender::new(timings.typing),
            typing_in: TypingBoard::new(timings.typing),
            entropy,
        }
    }

    /// Sets who we are: user id (opens the self-echo guard), device id and token. Used
    /// when the session is loaded from storage after construction.
    pub fn set_identity(&mut self, user_id: &str, device_id: &str, token: String) {
        self.config.user_id = user_id.to_owned();
        self.config.device_id = device_id.to_owned();
        self.inbound.set_own_user_id(user_id);
        self.token = token;
    }

    /// The current state.
    pub fn state(&self) -> &ConnState {
        &self.state
    }

    /// True from `hello-ok` until `replay.done` (or its fallback): inbound messages are
    /// missed ones being replayed, not live ones.
    pub fn replaying(&self) -> bool {
        self.replay_since.is_some()
    }

    /// Another tab delivered the message `message_id` (relayed by its leader): false
    /// when this connection has seen it. Remembered, so that a replay after this tab takes
    /// the lead does not deliver it again.
    pub fn delivered_elsewhere(&mut self, message_id: &str) -> bool {
        self.inbound.first_sighting(message_id)
    }

    /// Sends waiting for an ack, oldest first.
    pub fn pending(&self) -> &[QueuedSend] {
        self.outbox.pending()
    }

    /// The device id used for `connect`.
    pub fn device_id(&self) -> &str {
        &self.config.device_id
    }

    fn set_state(&mut self, state: ConnState, out: &mut Vec<Action>) {
        if self.state != state {
            self.state = state.clone();
            out.push(Action::State(state));
        }
    }

    fn trace_id(&mut self, now: Now) -> String {
        ids::trace_id(now.wall_u64(), self.entropy.next_u128())
    }

    fn frame(&mut self, event: Event, now: Now) -> Frame {
        let trace = self.trace_id(now);
        Frame::new(event, trace, now.wall)
    }

    fn stopped(&self) -> bool {
        matches!(self.state, ConnState::Closed | ConnState::LoggedOut)
    }

    fn open(&mut self, out: &mut Vec<Action>) {
        self.set_state(
            ConnState::Connecting {
                attempt: self.attempt,
            },
            out,
        );
        out.push(Action::OpenSocket(self.config.ws_url.clone()));
    }

    fn flush(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.state == ConnState::Ready {
            let frames = self.outbox.take_unsent(now.mono);
            out.extend(frames.into_iter().map(Action::SendText));
        }
    }

    /// The app asked to connect (also after [`Connection::disconnect`]).
    pub fn connect(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            ConnState::Idle | ConnState::Closed | ConnState::Reconnecting { .. } => {
                self.open(&mut out)
            }
            ConnState::LoggedOut => out.push(Action::Error(ClientError {
                kind: "logged_out",
                message: "cannot connect after logout".into(),
            })),
            _ => {}
        }
        out
    }

    /// The socket opened.
    pub fn on_open(&mut self, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.state, ConnState::Connecting { .. }) {
            self.opened_at = now.mono;
            self.set_state(ConnState::Handshaking, &mut out);
        }
        out
    }

    /// A text frame arrived.
    pub fn on_text(&mut self, text: &str, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped() {
            return out;
        }
        if let Some(liveness) = &mut self.liveness {
            liveness.heard(now.mono);
        }
        let frame = match decode(text) {
            Ok(frame) => frame,
            Err(err) => {
                out.push(Action::Error(ClientError {
                    kind: "malformed_frame",
                    message: err.to_string(),
                }));
                return out;
            }
        };
        match frame.event {
            Event::Challenge(challenge) if self.state == ConnState::Handshaking => {
                let connect = Connect {
                    token: self.token.clone(),
                    nonce: challenge.nonce,
                    device_id: Some(self.config.device_id.clone()),
                    capabilities: Some(Capabilities::client_default()),
                };
                let frame = self.frame(Event::Connect(connect), now);
                out.push(Action::SendText(frame.encode_uplink()));
            }
            Event::HelloOk(_) if self.state == ConnState::Handshaking => {
                self.ready_since = Some(now.mono);
                self.replay_since = Some(now.mono);
                let timings = self.config.timings.liveness();
                self.liveness = Some(Liveness::new(timings, now.mono));
                self.set_state(ConnState::Ready, &mut out);
                self.flush(now, &mut out);
            }
            Event::ReplayDone(_) if self.replay_since.take().is_some() => {
                out.push(Action::ReplayDone { timed_out: false });
            }
            Event::HelloFail(fail) => {
                let failure = HandshakeFailure::classify(&fail.reason);
                match failure {
                    HandshakeFailure::TokenRejected => out.push(Action::TokenRejected),
                    HandshakeFailure::AuthUnavailable => {}
                    HandshakeFailure::Protocol => out.push(Action::Error(ClientError {
                        kind: "handshake_failed",
                        message: format!("hello-fail: {}", fail.reason),
                    })),
                }
                self.drop_socket(Cause::Refused(failure), now, &mut out);
            }
            Event::Ack(ack) => {
                if let Some(completion) = self.outbox.on_ack(&frame.trace_id, &ack) {
                    finished(completion, &mut out);
                }
            }
            Event::SendError(failure) => {
                let done =
                    self.outbox
                        .on_send_error(&frame.trace_id, frame.chat_id.as_deref(), &failure);
                if done.is_empty() {
                    out.push(Action::Error(ClientError {
                        kind: "send_rejected",
                        message: format!("{}: {}", failure.code, failure.hint()),
                    }));
                }
                outcomes(done, &mut out);
            }
            Event::Ping(payload) => {
                let pong = Frame::new(Event::Pong(payload), frame.trace_id, now.wall);
                out.push(Action::SendText(pong.encode_uplink()));
            }
            Event::Send(_) | Event::Reply(_) | Event::Stream(..) | Event::Typing(_) => {
                match self.inbound.accept(frame, now.mono) {
                    Ok(Delivery::Typing(update)) => {
                        if let Some(change) = self.typing_in.update(update, now.mono) {
                            out.push(Action::Deliver(Delivery::Typing(change)));
                        }
                    }
                    Ok(delivery) => out.push(Action::Deliver(delivery)),
                    Err(Skip::GuardClosed) => out.push(Action::Error(ClientError {
                        kind: "self_echo_guard",
                        message: "own user id unknown: message frames refused".into(),
                    })),
                    Err(Skip::Refused(why)) => out.push(Action::Error(ClientError {
                        kind: "bad_frame",
                        message: why.into(),
                    })),
                    Err(_) => {}
                }
            }
            _ => {}
        }
        out
    }

    /// A frame arrived that the shell did not copy (binary, or longer than
    /// [`crate::protocol::MAX_FRAME_BYTES`]): the socket is alive, the frame is dropped.
    pub fn on_refused_frame(&mut self, now: Now) -> Vec<Action> {
        if self.stopped() {
            return Vec::new();
        }
        if let Some(liveness) = &mut self.liveness {
            liveness.heard(now.mono);
        }
        vec![Action::Error(ClientError {
            kind: "malformed_frame",
            message: "binary or oversized frame dropped".into(),
        })]
    }

    /// The socket closed (or errored) on its own, with this close code.
    pub fn on_close(&mut self, code: u16, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        if !matches!(
            self.state,
            ConnState::Connecting { .. } | ConnState::Handshaking | ConnState::Ready
        ) {
            return out;
        }
        if code == CLOSE_SESSION_TAKEN_OVER {
            out.push(Action::Error(ClientError {
                kind: "session_taken_over",
                message: format!(
                    "another connection of this device took the session over; reconnecting in {} s at the earliest",
                    self.config.timings.takeover_floor_ms / 1000
                ),
            }));
            self.after_socket(Cause::TakenOver, now, &mut out);
        } else {
            self.after_socket(Cause::Network, now, &mut out);
        }
        out
    }

    /// Writing a frame threw `thrown` (e.g. workerd refuses a socket opened by another
    /// request): the error is reported, the socket dropped and a new one opened after the
    /// backoff; sends in flight go again on it (none fails for this).
    pub fn on_send_failed(&mut self, thrown: &str, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.state, ConnState::Handshaking | ConnState::Ready) {
            out.push(Action::Error(super::send_failure::send_failure(thrown)));
            self.drop_socket(Cause::Network, now, &mut out);
        }
        out
    }

    fn drop_socket(&mut self, cause: Cause, now: Now, out: &mut Vec<Action>) {
        out.push(Action::CloseSocket);
        self.after_socket(cause, now, out);
    }

    /// Forgets the socket's state: in-flight sends go again on the next one.
    fn lose_socket(&mut self) {
        self.outbox.on_disconnect();
        self.typing_out.clear();
        self.liveness = None;
        self.replay_since = None;
    }

    fn after_socket(&mut self, cause: Cause, now: Now, out: &mut Vec<Action>) {
        // What came on the socket is delivered before the state says it is gone.
        out.extend(self.deliver_held());
        self.lose_socket();
        let timings = self.config.timings;
        let stable = self
            .ready_since
            .take()
            .is_some_and(|since| now.mono - since >= timings.stable_after_ms);
        if stable || cause == Cause::NewToken {
            self.attempt = 0;
        }
        self.attempt = self.attempt.saturating_add(1);
        let mut delay_ms = if cause == Cause::NewToken {
            0
        } else {
            self.config
                .backoff
                .delay_ms(self.attempt, self.entropy.fraction())
        };
        if cause == Cause::TakenOver {
            let floor = timings.takeover_floor_ms.clamp(0, i64::from(u32::MAX)) as u32;
            delay_ms = delay_ms.max(floor);
            self.not_before = now.mono.saturating_add(i64::from(floor));
        }
        self.reconnect_at = now.mono.saturating_add(i64::from(delay_ms));
        self.set_state(
            ConnState::Reconnecting {
                attempt: self.attempt,
                delay_ms,
            },
            out,
        );
        out.push(Action::ArmReconnect(delay_ms));
    }

    /// The reconnect delay passed.
    pub fn on_reconnect_timer(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.state, ConnState::Reconnecting { .. }) {
            self.open(&mut out);
        }
        out
    }

    /// The page woke up (visible, shown, focused, online): a ready socket is re-checked
    /// with a ping at once; a reconnect whose time has come (its timer may have been
    /// throttled) starts, and `online` starts it even before its backoff ends (never
    /// before a takeover's floor).
    pub fn on_wake(&mut self, wake: Wake, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            ConnState::Ready => {
                let verdict = self.liveness.as_mut().map(|l| l.on_wake(now.mono));
                self.judge(verdict, now, &mut out);
            }
            ConnState::Reconnecting { .. } => {
                let due = now.mono >= self.reconnect_at
                    || (wake == Wake::Online && now.mono >= self.not_before);
                if due {
                    self.open(&mut out);
                }
            }
            _ => {}
        }
        out
    }

    fn judge(&mut self, verdict: Option<Verdict>, now: Now, out: &mut Vec<Action>) {
        match verdict {
            Some(Verdict::Ping) => {
                let ping = self.frame(Event::Ping(RawJson::empty_object()), now);
                out.push(Action::SendText(ping.encode_uplink()));
            }
            Some(Verdict::Dead) => {
                out.push(Action::Error(ClientError {
                    kind: "socket_dead",
                    message: format!(
                        "no answer to a ping within {} s",
                        self.config.timings.pong_window_ms / 1000
                    ),
                }));
                self.drop_socket(Cause::Dead, now, out);
            }
            Some(Verdict::Fine) | None => {}
        }
    }

    /// When held stream updates are due as events ([`Connection::on_timeout`]), on the
    /// monotonic clock.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.inbound.poll_timeout()
    }

    /// A deadline of [`Connection::poll_timeout`] passed: the held stream updates due.
    pub fn on_timeout(&mut self, now: Now) -> Vec<Action> {
        self.held_streams(Some(now.mono))
    }

    /// Every held stream update, due or not: the connection is about to stop (a leader
    /// sends them before it hands over, so that its followers get them too).
    pub fn deliver_held(&mut self) -> Vec<Action> {
        self.held_streams(None)
    }

    /// The held stream updates due by `now` (all of them with `None`), as deliveries.
    fn held_streams(&mut self, now: Option<i64>) -> Vec<Action> {
        let held = self.inbound.flush(now);
        held.into_iter().map(Action::Deliver).collect()
    }

    /// The periodic tick (about once a second, far less in a hidden tab): timeouts,
    /// liveness, replay fallback, typing, stalled streams, queue age.
    pub fn on_tick(&mut self, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        outcomes(self.outbox.on_tick(now.mono), &mut out);
        out.extend(
            self.inbound
                .on_tick(now.mono)
                .into_iter()
                .map(Action::Deliver),
        );
        out.extend(
            self.typing_in
                .on_tick(now.mono)
                .into_iter()
                .map(|t| Action::Deliver(Delivery::Typing(t))),
        );
        let timings = self.config.timings;
        match self.state {
            ConnState::Handshaking if now.mono - self.opened_at >= timings.handshake_timeout_ms => {
                out.push(Action::Error(ClientError {
                    kind: "handshake_timeout",
                    message: format!(
                        "no hello-ok within {} s",
                        timings.handshake_timeout_ms / 1000
                    ),
                }));
                self.drop_socket(Cause::HandshakeTimeout, now, &mut out);
            }
            ConnState::Ready => {
                if self
                    .replay_since
                    .is_some_and(|since| now.mono - since >= timings.replay_fallback_ms)
                {
                    self.replay_since = None;
                    out.push(Action::ReplayDone { timed_out: true });
                }
                for (chat, typing) in self.typing_out.on_tick(now.mono) {
                    out.push(self.typing_frame(&chat, typing, now));
                }
                let verdict = self.liveness.as_mut().map(|l| l.on_tick(now.mono));
                self.judge(verdict, now, &mut out);
            }
            ConnState::Reconnecting { .. } if now.mono >= self.reconnect_at => {
                self.open(&mut out);
            }
            _ => {}
        }
        out
    }

    /// Queues a message. Its row is to be stored first ([`Action::PersistRow`]); it is
    /// written once [`Connection::on_row_saved`] says so and the connection is ready,
    /// and again on every new connection until it ends. Returns the message id and the
    /// actions (a refusal is a `Completed` action).
    pub fn send(&mut self, chat_id: &str, outgoing: Outgoing, now: Now) -> (String, Vec<Action>) {
        let mut out = Vec::new();
        let message_id = outgoing
            .message_id
            .filter(|id| ids::is_message_id(id))
            .unwrap_or_else(|| ids::message_id(now.wall_u64(), self.entropy.next_u128()));
        let trace_id = self.trace_id(now);
        let refusal = if chat_id.trim().is_empty() {
            Some((SendErrorKind::Invalid, "chat id must not be blank"))
        } else if outgoing.fragments.is_empty() {
            Some((
                SendErrorKind::Invalid,
                "a message needs at least one fragment",
            ))
        } else if self.state == ConnState::LoggedOut {
            Some((SendErrorKind::Closed, "logged out"))
        } else if self.state == ConnState::Closed {
            Some((SendErrorKind::Closed, "client closed; call connect() first"))
        } else {
            None
        };
        if let Some((kind, reason)) = refusal {
            out.push(Action::Completed(Completion {
                message_id: message_id.clone(),
                outcome: Err(SendError {
                    kind,
                    code: None,
                    reason: reason.to_owned(),
                    message_id: message_id.clone(),
                    chat_id: chat_id.to_owned(),
                    trace_id,
                }),
            }));
            return (message_id, out);
        }
        let payload = MessagePayload {
            message_id: message_id.clone(),
            message_mode: "normal".into(),
            message: MessageContent {
                body: MessageBody {
                    fragments: outgoing.fragments,
                },
                context: MessageContext {
                    mentions: Vec::new(),
                    reply: outgoing.reply.clone(),
                },
            },
            streaming: None,
        };
        let event = if outgoing.reply.is_some() {
            Event::Reply(payload)
        } else {
            Event::Send(payload)
        };
        let frame = Frame::new(event, trace_id.clone(), now.wall).in_chat(chat_id);
        let queued = QueuedSend {
            message_id: message_id.clone(),
            chat_id: chat_id.to_owned(),
            trace_id,
            frame: frame.encode_uplink(),
            created_at: now.wall,
            created_mono: now.mono,
            attempts: 0,
            in_flight_since: None,
            status: SendStatus::Saving,
        };
        let row = queued.row();
        match self.outbox.enqueue(queued) {
            Ok(()) => out.push(Action::PersistRow(row)),
            Err(failed) => out.push(Action::Completed(*failed)),
        }
        (message_id, out)
    }

    /// The row of `message_id` is stored (or the shell has no durable store): the send
    /// may now be written.
    pub fn on_row_saved(&mut self, message_id: &str, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        if self.outbox.saved(message_id) {
            self.flush(now, &mut out);
        }
        out
    }

    /// Loads sends stored by an earlier page or another tab (validated with
    /// [`OutboxRow::parse`]); they go out with their original ids and frames. Returns the
    /// rows not loaded (already pending, queue full) with their message ids.
    pub fn restore(
        &mut self,
        rows: impl IntoIterator<Item = OutboxRow>,
        now: Now,
    ) -> (Vec<(String, RowError)>, Vec<Action>) {
        let mut skipped = Vec::new();
        let mut out = Vec::new();
        for row in rows {
            let message_id = row.message_id.clone();
            match self.outbox.restore(row, now) {
                Ok(None) => {}
                Ok(Some(completion)) => finished(completion, &mut out),
                Err(err) => skipped.push((message_id, err)),
            }
        }
        self.flush(now, &mut out);
        (skipped, out)
    }

    fn typing_frame(&mut self, chat_id: &str, is_typing: bool, now: Now) -> Action {
        let frame = self
            .frame(Event::Typing(Typing { is_typing }), now)
            .in_chat(chat_id);
        Action::SendText(frame.encode_uplink())
    }

    /// The user typed (`true`, on every input is fine) or stopped (`false`) in a chat.
    /// `true` goes out at once, then every 3–4 s while input continues; 5 s without
    /// input sends `false`. Dropped when not ready (typing is ephemeral).
    pub fn set_typing(&mut self, chat_id: &str, is_typing: bool, now: Now) -> Vec<Action> {
        if self.state != ConnState::Ready || chat_id.trim().is_empty() {
            return Vec::new();
        }
        match self.typing_out.input(chat_id, is_typing, now.mono) {
            Some(typing) => vec![self.typing_frame(chat_id, typing, now)],
            None => Vec::new(),
        }
    }

    /// Uses a new access token: the current socket (which authenticated with the old
    /// one) is closed and a new one opened at once.
    pub fn reconnect_with_token(&mut self, token: String, now: Now) -> Vec<Action> {
        self.token = token;
        let mut out = Vec::new();
        match self.state {
            ConnState::Ready => {
                // Sends in flight on the old socket go again on the new one (same frames,
                // coalesced by the server); its acks may still arrive on the old one.
                self.lose_socket();
                self.ready_since = None;
                self.attempt = 0;
                self.set_state(ConnState::Connecting { attempt: 0 }, &mut out);
                out.push(Action::ReplaceSocket(self.config.ws_url.clone()));
            }
            ConnState::Connecting { .. } | ConnState::Handshaking => {
                self.drop_socket(Cause::NewToken, now, &mut out);
            }
            ConnState::Reconnecting { .. } if now.mono >= self.not_before => {
                self.attempt = 0;
                self.open(&mut out);
            }
            _ => {}
        }
        out
    }

    fn stop(&mut self, state: ConnState, reason: &str) -> Vec<Action> {
        // What came before the stop is delivered before it.
        let mut out = self.deliver_held();
        if matches!(
            self.state,
            ConnState::Connecting { .. } | ConnState::Handshaking | ConnState::Ready
        ) {
            out.push(Action::CloseSocket);
        }
        self.lose_socket();
        self.ready_since = None;
        self.attempt = 0;
        for completion in self.outbox.fail_all(reason) {
            finished(completion, &mut out);
        }
        self.set_state(state, &mut out);
        out
    }

    /// Closes the connection for good (until [`Connection::connect`]); pending sends fail
    /// and their rows go.
    pub fn disconnect(&mut self) -> Vec<Action> {
        if self.stopped() {
            return Vec::new();
        }
        self.stop(ConnState::Closed, "disconnected by the app")
    }

    /// Logged out: close, fail pending sends (their rows go), never reconnect.
    pub fn logout(&mut self, reason: &str) -> Vec<Action> {
        if self.state == ConnState::LoggedOut {
            return Vec::new();
        }
        self.stop(ConnState::LoggedOut, &format!("logged out: {reason}"))
    }
}
