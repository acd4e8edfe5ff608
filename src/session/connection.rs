//! The connection machine: handshake, reconnect with backoff, liveness, and routing of
//! frames to the outbox and the inbound filter. Pure: inputs carry `now`, outputs are
//! [`Action`]s for the platform shell to carry out.

use serde::Serialize;
use serde_json::json;

use crate::protocol::{
    decode, ids, Capabilities, Connect, Event, Fragment, Frame, HandshakeFailure, MessageBody,
    MessageContent, MessageContext, MessagePayload, ReplyContext, Typing,
};

use super::backoff::Backoff;
use super::inbound::{Delivery, InboundFilter, Skip};
use super::outbox::{Completion, Outbox, OutboxLimits, QueuedSend, SendError, SendErrorKind};
use super::Entropy;

/// Timings of the connection (PROTOCOL.md reference timings, **ours** where noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// `hello-ok` must arrive within this after the socket opens.
    pub handshake_timeout_ms: i64,
    /// A connection ready this long resets the backoff.
    pub stable_after_ms: i64,
    /// An app-level `ping` goes out after this much quiet (**ours**).
    pub ping_interval_ms: i64,
    /// A socket silent this long is dead (**ours**).
    pub dead_after_ms: i64,
    /// A stream silent this long without `done` fails (**ours**).
    pub stream_stall_ms: i64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            handshake_timeout_ms: 10_000,
            stable_after_ms: 5_000,
            ping_interval_ms: 20_000,
            dead_after_ms: 45_000,
            stream_stall_ms: 60_000,
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
    /// Our user id (for the self-echo guard).
    pub user_id: String,
    /// Timings.
    pub timings: Timings,
    /// Outbox bounds.
    pub limits: OutboxLimits,
    /// Reconnect delays.
    pub backoff: Backoff,
}

/// The connection state the app sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "state",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientError {
    /// A stable machine-readable kind.
    pub kind: &'static str,
    /// Human-readable detail.
    pub message: String,
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
    /// A send finished.
    Completed(Completion),
    /// Deliver an inbound event.
    Deliver(Delivery),
    /// Report an error.
    Error(ClientError),
    /// The hub rejected the access token: refresh it, then call
    /// [`Connection::reconnect_with_token`].
    TokenRejected,
}

/// Why the socket went away (decides the reconnect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Network,
    HandshakeTimeout,
    Dead,
    Refused(HandshakeFailure),
    NewToken,
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
    opened_at: i64,
    ready_since: Option<i64>,
    last_heard: i64,
    last_ping: i64,
    cause: Cause,
    outbox: Outbox,
    inbound: InboundFilter,
    entropy: E,
}

impl<E: Entropy> Connection<E> {
    /// A machine in `Idle` for `config`, connecting with `token`.
    pub fn new(config: SessionConfig, token: String, entropy: E) -> Self {
        let inbound = InboundFilter::new(&config.user_id, config.timings.stream_stall_ms);
        let outbox = Outbox::new(config.limits);
        Connection {
            config,
            token,
            state: ConnState::Idle,
            attempt: 0,
            opened_at: 0,
            ready_since: None,
            last_heard: 0,
            last_ping: 0,
            cause: Cause::Network,
            outbox,
            inbound,
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

    /// Sends waiting for an ack (plain data; a later step persists them).
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

    fn trace_id(&mut self, now: i64) -> String {
        ids::trace_id(now.max(0) as u64, self.entropy.next_u128())
    }

    fn frame(&mut self, event: Event, now: i64) -> Frame {
        let trace = self.trace_id(now);
        Frame::new(event, trace, now)
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
    pub fn on_open(&mut self, now: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.state, ConnState::Connecting { .. }) {
            self.opened_at = now;
            self.last_heard = now;
            self.set_state(ConnState::Handshaking, &mut out);
        }
        out
    }

    /// A text frame arrived.
    pub fn on_text(&mut self, text: &str, now: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped() {
            return out;
        }
        self.last_heard = now;
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
                self.ready_since = Some(now);
                self.last_ping = now;
                self.set_state(ConnState::Ready, &mut out);
                out.extend(
                    self.outbox
                        .take_unsent(now)
                        .into_iter()
                        .map(Action::SendText),
                );
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
            Event::Ack(ack) => out.extend(
                self.outbox
                    .on_ack(&frame.trace_id, &ack)
                    .map(Action::Completed),
            ),
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
                out.extend(done.into_iter().map(Action::Completed));
            }
            Event::Ping(payload) => {
                let pong = Frame::new(Event::Pong(payload), frame.trace_id, now);
                out.push(Action::SendText(pong.encode_uplink()));
            }
            Event::Send(_) | Event::Reply(_) | Event::Stream(..) | Event::Typing(_) => {
                match self.inbound.accept(frame, now) {
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
    pub fn on_refused_frame(&mut self, now: i64) -> Vec<Action> {
        if self.stopped() {
            return Vec::new();
        }
        self.last_heard = now;
        vec![Action::Error(ClientError {
            kind: "malformed_frame",
            message: "binary or oversized frame dropped".into(),
        })]
    }

    /// The socket closed (or errored) on its own.
    pub fn on_close(&mut self, now: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if !matches!(
            self.state,
            ConnState::Connecting { .. } | ConnState::Handshaking | ConnState::Ready
        ) {
            return out;
        }
        self.after_socket(Cause::Network, now, &mut out);
        out
    }

    fn drop_socket(&mut self, cause: Cause, now: i64, out: &mut Vec<Action>) {
        out.push(Action::CloseSocket);
        self.after_socket(cause, now, out);
    }

    fn after_socket(&mut self, cause: Cause, now: i64, out: &mut Vec<Action>) {
        self.cause = cause;
        out.extend(
            self.outbox
                .on_disconnect()
                .into_iter()
                .map(Action::Completed),
        );
        let stable = self
            .ready_since
            .take()
            .is_some_and(|since| now - since >= self.config.timings.stable_after_ms);
        if stable || cause == Cause::NewToken {
            self.attempt = 0;
        }
        self.attempt = self.attempt.saturating_add(1);
        let delay_ms = if cause == Cause::NewToken {
            0
        } else {
            self.config
                .backoff
                .delay_ms(self.attempt, self.entropy.fraction())
        };
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

    /// The browser went back online: retry at once.
    pub fn on_online(&mut self) -> Vec<Action> {
        self.on_reconnect_timer()
    }

    /// The periodic tick (about once a second): timeouts, liveness, stalled streams.
    pub fn on_tick(&mut self, now: i64) -> Vec<Action> {
        let mut out = Vec::new();
        out.extend(self.outbox.on_tick(now).into_iter().map(Action::Completed));
        out.extend(self.inbound.on_tick(now).into_iter().map(Action::Deliver));
        let timings = self.config.timings;
        match self.state {
            ConnState::Handshaking if now - self.opened_at >= timings.handshake_timeout_ms => {
                out.push(Action::Error(ClientError {
                    kind: "handshake_timeout",
                    message: format!(
                        "no hello-ok within {} s",
                        timings.handshake_timeout_ms / 1000
                    ),
                }));
                self.drop_socket(Cause::HandshakeTimeout, now, &mut out);
            }
            ConnState::Ready if now - self.last_heard >= timings.dead_after_ms => {
                self.drop_socket(Cause::Dead, now, &mut out);
            }
            ConnState::Ready
                if now - self.last_ping.max(self.last_heard) >= timings.ping_interval_ms =>
            {
                self.last_ping = now;
                let ping = self.frame(Event::Ping(json!({})), now);
                out.push(Action::SendText(ping.encode_uplink()));
            }
            _ => {}
        }
        out
    }

    /// Queues a message; it goes out now when ready, else after the next `hello-ok`.
    /// Returns the message id and the actions (a failure is a `Completed` action).
    pub fn send(&mut self, chat_id: &str, outgoing: Outgoing, now: i64) -> (String, Vec<Action>) {
        let mut out = Vec::new();
        let message_id = outgoing
            .message_id
            .filter(|id| ids::is_message_id(id))
            .unwrap_or_else(|| ids::message_id(now.max(0) as u64, self.entropy.next_u128()));
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
        let frame = Frame::new(event, trace_id.clone(), now).in_chat(chat_id);
        let queued = QueuedSend {
            message_id: message_id.clone(),
            chat_id: chat_id.to_owned(),
            trace_id,
            frame: frame.encode_uplink(),
            created_at: now,
            attempts: 0,
            in_flight_since: None,
        };
        match self.outbox.enqueue(queued) {
            Ok(()) if self.state == ConnState::Ready => {
                out.extend(
                    self.outbox
                        .take_unsent(now)
                        .into_iter()
                        .map(Action::SendText),
                );
            }
            Ok(()) => {}
            Err(failed) => out.push(Action::Completed(*failed)),
        }
        (message_id, out)
    }

    /// Tells the chat we started or stopped typing (dropped when not ready: ephemeral).
    pub fn set_typing(&mut self, chat_id: &str, is_typing: bool, now: i64) -> Vec<Action> {
        if self.state != ConnState::Ready || chat_id.trim().is_empty() {
            return Vec::new();
        }
        let frame = self
            .frame(Event::Typing(Typing { is_typing }), now)
            .in_chat(chat_id);
        vec![Action::SendText(frame.encode_uplink())]
    }

    /// Uses a new access token: the current socket (which authenticated with the old
    /// one) is closed and a new one opened at once.
    pub fn reconnect_with_token(&mut self, token: String, now: i64) -> Vec<Action> {
        self.token = token;
        let mut out = Vec::new();
        match self.state {
            ConnState::Ready => {
                // Sends in flight on the old socket go again on the new one (same frames,
                // coalesced by the server); its acks may still arrive on the old one.
                out.extend(
                    self.outbox
                        .on_disconnect()
                        .into_iter()
                        .map(Action::Completed),
                );
                self.ready_since = None;
                self.attempt = 0;
                self.set_state(ConnState::Connecting { attempt: 0 }, &mut out);
                out.push(Action::ReplaceSocket(self.config.ws_url.clone()));
            }
            ConnState::Connecting { .. } | ConnState::Handshaking => {
                self.drop_socket(Cause::NewToken, now, &mut out);
            }
            ConnState::Reconnecting { .. } => {
                self.attempt = 0;
                self.open(&mut out);
            }
            _ => {}
        }
        out
    }

    fn stop(&mut self, state: ConnState, reason: &str) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(
            self.state,
            ConnState::Connecting { .. } | ConnState::Handshaking | ConnState::Ready
        ) {
            out.push(Action::CloseSocket);
        }
        self.ready_since = None;
        self.attempt = 0;
        out.extend(
            self.outbox
                .fail_all(reason)
                .into_iter()
                .map(Action::Completed),
        );
        self.set_state(state, &mut out);
        out
    }

    /// Closes the connection for good (until [`Connection::connect`]); pending sends fail.
    pub fn disconnect(&mut self) -> Vec<Action> {
        if self.stopped() {
            return Vec::new();
        }
        self.stop(ConnState::Closed, "disconnected by the app")
    }

    /// Logged out: close, fail pending sends, never reconnect.
    pub fn logout(&mut self, reason: &str) -> Vec<Action> {
        if self.state == ConnState::LoggedOut {
            return Vec::new();
        }
        self.stop(ConnState::LoggedOut, &format!("logged out: {reason}"))
    }
}
