//! WebSocket protocol v2 on `/ws`: handshake, sends with acks, durable replay, relays.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use clawchat_wasm::protocol::{
    decode, send_codes, Ack, ChatType, Event, Frame, HelloFail, HelloOk, ProtocolError,
    SendFailure, Sender,
};
use futures_util::{FutureExt, SinkExt};
use tokio::time::{timeout, Instant, Interval};

use crate::db::{CursorUpdate, NewMessage};
use crate::faults::AckPlan;
use crate::hub::{Control, Delivery, Kick, Mailbox, SessionHandle};
use crate::state::{device_belongs, random_token, AppState, Counters};
use crate::validate::{self, StreamTracker};

/// Close code sent to a session taken over by a newer socket with the same user and
/// device (PROTOCOL.md §4); clients wait at least 5 s before reconnecting.
pub const CLOSE_REPLACED: u16 = 4001;
/// The close reason sent with [`CLOSE_REPLACED`].
pub const CLOSE_REPLACED_REASON: &str = "session taken over";
/// The event sent once the replay after `hello-ok` is complete, `{count}` envelopes.
pub const REPLAY_DONE: &str = "replay.done";
/// Envelopes read from the inbox per query.
const REPLAY_BATCH: usize = 256;
/// How often a session persists its delivery cursor while envelopes flow (it also does
/// at the end of the session). A crash in between re-delivers, which clients dedupe.
const CURSOR_PERSIST_INTERVAL: Duration = Duration::from_secs(1);

/// Who is on the other end of an authenticated socket.
struct Peer {
    user_id: String,
    device_id: String,
    nick_name: String,
    token_id: String,
}

/// Runs one socket from accept to close.
pub async fn run(mut socket: WebSocket, state: Arc<AppState>) {
    let Some(peer) = handshake(&mut socket, &state).await else {
        return;
    };
    let (handle, mailbox) = state.hub.new_handle(&peer.token_id);
    state
        .hub
        .register(&peer.user_id, &peer.device_id, handle.clone());
    tracing::info!(user = %peer.user_id, device = %peer.device_id, "session ready");
    let cursor = state.db.cursor(&peer.user_id, &peer.device_id).unwrap_or(0);
    let session = Session {
        socket,
        state: state.clone(),
        peer,
        handle,
        streams: StreamTracker::default(),
        unflushed: false,
        cursor: DeliveryCursor {
            written: cursor,
            delivered: cursor,
            persisted: cursor,
            persisted_at: Instant::now(),
        },
    };
    session.run(mailbox).await;
}

fn frame_now(state: &AppState, event: Event, trace_id: &str) -> Frame {
    Frame::new(event, trace_id, state.now_ms())
}

async fn send_frame(socket: &mut WebSocket, frame: &Frame) -> bool {
    socket
        .send(Message::Text(frame.encode_downlink().into()))
        .await
        .is_ok()
}

/// Challenge → connect → `hello-ok` (returns the peer) or `hello-fail` + close (None).
async fn handshake(socket: &mut WebSocket, state: &AppState) -> Option<Peer> {
    let nonce = random_token(16);
    let challenge = Event::Challenge(clawchat_wasm::protocol::Challenge {
        nonce: nonce.clone(),
    });
    if !send_frame(socket, &frame_now(state, challenge, &random_token(9))).await {
        return None;
    }
    let limit = Duration::from_millis(state.config.handshake_timeout_ms);
    let (trace_id, connect) = match timeout(limit, read_connect(socket)).await {
        Err(_) => {
            tracing::info!("handshake timed out; closing without a frame");
            return None;
        }
        Ok(None) => return None,
        Ok(Some((trace_id, Err(reason)))) => return refuse(socket, state, &trace_id, reason).await,
        Ok(Some((trace_id, Ok(connect)))) => (trace_id, connect),
    };
    if let Some(reason) = state.faults.take_handshake() {
        return refuse(socket, state, &trace_id, &reason).await;
    }
    if connect.nonce != nonce {
        return refuse(socket, state, &trace_id, "nonce mismatch").await;
    }
    let Ok(claims) = state.signer.verify(&connect.token, state.now_secs()) else {
        return refuse(socket, state, &trace_id, "authentication failed").await;
    };
    let device_id = connect
        .device_id
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| claims.did.clone());
    if !device_belongs(&device_id, &claims.did) {
        return refuse(socket, state, &trace_id, "invalid connect payload").await;
    }
    let nick_name = match state.db.user(&claims.sub) {
        Ok(Some(user)) => user.nickname,
        _ => return refuse(socket, state, &trace_id, "authentication failed").await,
    };
    let hello = HelloOk {
        device_id: device_id.clone(),
        delivery_mode: "device_replay".into(),
    };
    if !send_frame(socket, &frame_now(state, Event::HelloOk(hello), &trace_id)).await {
        return None;
    }
    Counters::bump(&state.counters.hello_ok);
    Some(Peer {
        user_id: claims.sub,
        device_id,
        nick_name,
        token_id: claims.jti,
    })
}

/// Reads until a text frame arrives: its trace id and the connect payload, or the
/// `hello-fail` reason. `None` when the socket closed first.
async fn read_connect(
    socket: &mut WebSocket,
) -> Option<(
    String,
    Result<clawchat_wasm::protocol::Connect, &'static str>,
)> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => {
                return Some(match decode(&text) {
                    Ok(Frame {
                        trace_id,
                        event: Event::Connect(connect),
                        ..
                    }) => (trace_id, Ok(connect)),
                    Ok(frame) => (frame.trace_id, Err("invalid connect event")),
                    Err(_) => (String::new(), Err("invalid connect payload")),
                });
            }
            Ok(Message::Binary(_)) => return Some((String::new(), Err("invalid connect event"))),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

async fn refuse(
    socket: &mut WebSocket,
    state: &AppState,
    trace_id: &str,
    reason: &str,
) -> Option<Peer> {
    Counters::bump(&state.counters.hello_fail);
    tracing::info!(reason, "handshake refused");
    let fail = Event::HelloFail(HelloFail {
        reason: reason.to_owned(),
    });
    if send_frame(socket, &frame_now(state, fail, trace_id)).await {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 1008,
                reason: reason.to_owned().into(),
            })))
            .await;
    }
    None
}

struct Session {
    socket: WebSocket,
    state: Arc<AppState>,
    peer: Peer,
    handle: SessionHandle,
    streams: StreamTracker,
    /// Frames were queued on the socket since its last flush.
    unflushed: bool,
    cursor: DeliveryCursor,
}

/// The last inbox sequence queued on this socket, the last flushed to it, and what of
/// it is on disk.
struct DeliveryCursor {
    written: i64,
    delivered: i64,
    persisted: i64,
    persisted_at: Instant,
}

/// Why the session loop ended.
enum End {
    Closed,
    Kicked(Kick),
}

/// What woke a session up.
enum Input {
    Control(Option<Control>),
    Socket(Option<Result<Message, axum::Error>>),
    Delivery(Delivery),
    Tick,
}

/// The session's next input. Order matters: kicks first, then what the client sent (a
/// close frame must be seen before more envelopes are written and the cursor moves past
/// them). Every branch is cancel-safe, so a poll that finds nothing ready loses nothing.
async fn next_input(socket: &mut WebSocket, mailbox: &mut Mailbox, ping: &mut Interval) -> Input {
    tokio::select! {
        biased;
        command = mailbox.control.recv() => Input::Control(command),
        message = socket.recv() => Input::Socket(message),
        Some(delivery) = mailbox.deliveries.recv() => Input::Delivery(delivery),
        _ = ping.tick() => Input::Tick,
    }
}

impl Session {
    async fn run(mut self, mut mailbox: Mailbox) {
        let interval = Duration::from_millis(self.state.config.ping_interval_ms.max(10));
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        let mut last_heard = Instant::now();
        // Replay what this device missed, then say so (PROTOCOL.md §4), even when
        // there was nothing to replay; live envelopes follow in the loop.
        let Some(replayed) = self.deliver_inbox().await else {
            return self.finish(End::Closed).await;
        };
        let done = Event::Unknown {
            name: REPLAY_DONE.into(),
            payload: clawchat_wasm::json::from_str(&format!(r#"{{"count":{replayed}}}"#))
                .expect("a count is one JSON object"),
        };
        if !send_frame(
            &mut self.socket,
            &frame_now(&self.state, done, &random_token(9)),
        )
        .await
        {
            return self.finish(End::Closed).await;
        }
        let end = loop {
            // Frames are queued as inputs produce them and flushed together once no
            // input is ready: a send's ack and a message that arrived with the same
            // commit leave in one write.
            let ready = next_input(&mut self.socket, &mut mailbox, &mut ping).now_or_never();
            let input = match ready {
                Some(input) => input,
                None => {
                    if !self.flush().await {
                        break End::Closed;
                    }
                    next_input(&mut self.socket, &mut mailbox, &mut ping).await
                }
            };
            match input {
                Input::Control(Some(Control::Send(text))) => {
                    if !self.queue(Message::Text(text.into())).await {
                        break End::Closed;
                    }
                }
                Input::Control(Some(Control::Kick(kick))) => break End::Kicked(kick),
                Input::Control(None) => break End::Closed,
                Input::Socket(message) => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => self.on_text(&text).await,
                        Some(Ok(Message::Binary(_))) => {
                            self.reply_error(
                                "",
                                None,
                                send_codes::INVALID_PAYLOAD,
                                "binary frames are not supported",
                            )
                            .await
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Closed,
                    }
                }
                Input::Delivery((seq, envelope)) => {
                    if !self.deliver_live(seq, &envelope).await {
                        break End::Closed;
                    }
                }
                Input::Tick => {
                    if last_heard.elapsed() > interval * 3 {
                        tracing::info!(device = %self.peer.device_id, "no traffic for three ping intervals; closing");
                        break End::Closed;
                    }
                    if !self.queue(Message::Ping(Vec::new().into())).await {
                        break End::Closed;
                    }
                }
            }
        };
        self.finish(end).await;
    }

    /// Unregisters the session, saves its cursor and closes the socket as `end` says.
    async fn finish(mut self, end: End) {
        // What was queued goes out (a dropped socket too: those frames were due before
        // the drop), and the cursor counts only what did.
        let _ = self.flush().await;
        self.state
            .hub
            .unregister(&self.peer.user_id, &self.peer.device_id, self.handle.id);
        if let Some(update) = self.cursor_update() {
            // Saved before the socket closes, so a reconnect starts after it.
            if self.state.writer.advance_cursor_now(update).await.is_err() {
                tracing::error!("cursor write failed");
            }
        }
        if let End::Kicked(Kick::Replaced) = end {
            let frame = CloseFrame {
                code: CLOSE_REPLACED,
                reason: CLOSE_REPLACED_REASON.into(),
            };
            let _ = self.socket.send(Message::Close(Some(frame))).await;
        }
        // `Kick::Dropped` and closed sockets: dropping the socket ends the TCP connection.
        tracing::info!(device = %self.peer.device_id, "session ended");
    }

    /// Queues a frame to go out with the next flush. False when the socket failed.
    async fn queue(&mut self, message: Message) -> bool {
        self.unflushed = true;
        self.socket.feed(message).await.is_ok()
    }

    /// Queues a protocol frame (see [`Session::queue`]).
    async fn queue_frame(&mut self, frame: &Frame) -> bool {
        self.queue(Message::Text(frame.encode_downlink().into()))
            .await
    }

    /// Writes out the queued frames; the cursor then moves past the envelopes among
    /// them. False when the socket failed.
    async fn flush(&mut self) -> bool {
        if !self.unflushed {
            return true;
        }
        if self.socket.flush().await.is_err() {
            return false;
        }
        self.unflushed = false;
        self.cursor.delivered = self.cursor.written;
        if self.cursor.persisted_at.elapsed() >= CURSOR_PERSIST_INTERVAL {
            self.persist_cursor();
        }
        true
    }

    /// Queues an envelope the writer just stored for this user, unless the replay has
    /// already sent it (the writer hands rows over in commit order, and every row
    /// committed after this session registered is handed over, so none is skipped).
    /// False when the socket failed.
    async fn deliver_live(&mut self, seq: i64, envelope: &str) -> bool {
        if seq <= self.cursor.written {
            return true;
        }
        if !self.queue(Message::Text(envelope.to_owned().into())).await {
            return false;
        }
        self.cursor.written = seq;
        true
    }

    /// Sends every stored envelope after the cursor, in order; the cursor advances only
    /// past envelopes written to the socket. How many were sent, or `None` when the
    /// socket failed.
    async fn deliver_inbox(&mut self) -> Option<u64> {
        let mut sent = 0u64;
        loop {
            let rows = match self.state.db.inbox_after(
                &self.peer.user_id,
                self.cursor.delivered,
                REPLAY_BATCH,
            ) {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::error!(%err, "inbox read failed");
                    return Some(sent);
                }
            };
            let full = rows.len() == REPLAY_BATCH;
            for (seq, envelope) in rows {
                let copies = if self.state.faults.take_duplicate_replay() {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    if self
                        .socket
                        .send(Message::Text(envelope.clone().into()))
                        .await
                        .is_err()
                    {
                        return None;
                    }
                }
                self.cursor.written = seq;
                self.cursor.delivered = seq;
                sent += 1;
            }
            if self.cursor.persisted_at.elapsed() >= CURSOR_PERSIST_INTERVAL {
                self.persist_cursor();
            }
            if !full {
                return Some(sent);
            }
        }
    }

    /// The cursor as a write, if it moved since it was last saved.
    fn cursor_update(&mut self) -> Option<CursorUpdate> {
        if self.cursor.delivered == self.cursor.persisted {
            return None;
        }
        self.cursor.persisted = self.cursor.delivered;
        self.cursor.persisted_at = Instant::now();
        Some(CursorUpdate {
            user_id: self.peer.user_id.clone(),
            device_id: self.peer.device_id.clone(),
            seq: self.cursor.delivered,
        })
    }

    /// Saves the cursor with the writer's next commit, without waiting.
    fn persist_cursor(&mut self) {
        if let Some(update) = self.cursor_update() {
            self.state.writer.advance_cursor(update);
        }
    }

    async fn on_text(&mut self, text: &str) {
        let frame = match decode(text) {
            Ok(frame) => frame,
            Err(err) => {
                Counters::bump(&self.state.counters.bad_frames);
                tracing::warn!(%err, "undecodable frame");
                // Answer on the frame's trace and chat where they can be read, so the
                // sender can match the refusal to its send.
                let routing = validate::routing_of(text);
                let code = match err {
                    ProtocolError::OutOfBounds { .. } => validate::BAD_REQUEST,
                    _ => send_codes::INVALID_PAYLOAD,
                };
                return self
                    .reply_error_for(
                        validate::echoable(&routing.trace_id),
                        validate::echoable(routing.chat_id.as_deref().unwrap_or_default()),
                        None,
                        code,
                        &err.to_string(),
                    )
                    .await;
            }
        };
        if let Err(reason) = self.admit(&frame) {
            Counters::bump(&self.state.counters.bad_frames);
            let chat = frame.chat_id.as_deref().map(validate::echoable);
            let id = match &frame.event {
                Event::Send(p) | Event::Reply(p) => Some(validate::echoable(&p.message_id)),
                Event::Stream(_, p) => Some(validate::echoable(&p.message_id)),
                _ => None,
            };
            return self
                .reply_error_for(
                    validate::echoable(&frame.trace_id),
                    chat.unwrap_or_default(),
                    id.filter(|id| !id.is_empty()),
                    validate::BAD_REQUEST,
                    reason,
                )
                .await;
        }
        match frame.event {
            Event::Send(ref payload) | Event::Reply(ref payload) => {
                let id = payload.message_id.clone();
                self.on_message(frame, id).await
            }
            Event::Stream(..) | Event::Typing(_) => self.relay(frame).await,
            Event::Ping(payload) => {
                Counters::bump(&self.state.counters.pings);
                let pong = frame_now(&self.state, Event::Pong(payload), &frame.trace_id);
                self.queue_frame(&pong).await;
            }
            Event::LegacyOffline(_) => {}
            other => tracing::debug!(event = other.name(), "ignored event"),
        }
    }

    /// The hub's checks of a decoded frame (see [`validate`]); a stream frame that
    /// passes is recorded.
    fn admit(&mut self, frame: &Frame) -> Result<(), validate::Refusal> {
        validate::check_ids(frame)?;
        match &frame.event {
            Event::Send(p) | Event::Reply(p) => {
                validate::check_fragment_count(p.message.body.fragments.len())
            }
            Event::Stream(phase, p) => self.streams.admit(*phase, p),
            _ => Ok(()),
        }
    }

    /// The chat a business frame addresses, if the peer may write to it; otherwise the
    /// `message.error` has been sent and `None` returned.
    async fn writable_chat(
        &mut self,
        frame: &Frame,
        message_id: Option<&str>,
    ) -> Option<(String, ChatType, Vec<String>)> {
        let Some(chat_id) = frame.chat_id.clone().filter(|c| !c.is_empty()) else {
            self.reply_error(
                &frame.trace_id,
                None,
                send_codes::INVALID_PAYLOAD,
                "missing chat_id",
            )
            .await;
            return None;
        };
        let chat = match self.state.db.chat(&chat_id) {
            Ok(Some(chat)) => chat,
            Ok(None) => {
                self.reply_error_for(
                    &frame.trace_id,
                    &chat_id,
                    message_id,
                    send_codes::CHAT_NOT_FOUND,
                    "chat not found",
                )
                .await;
                return None;
            }
            Err(err) => {
                tracing::error!(%err, "chat read failed");
                self.reply_error_for(
                    &frame.trace_id,
                    &chat_id,
                    message_id,
                    send_codes::INTERNAL,
                    "storage error",
                )
                .await;
                return None;
            }
        };
        if !chat.member_ids.contains(&self.peer.user_id) {
            self.reply_error_for(
                &frame.trace_id,
                &chat_id,
                message_id,
                send_codes::NOT_A_MEMBER,
                "you are not a member of this chat",
            )
            .await;
            return None;
        }
        let chat_type = if chat.kind == "group" {
            ChatType::Group
        } else {
            ChatType::Direct
        };
        let others = chat
            .member_ids
            .iter()
            .filter(|m| **m != self.peer.user_id)
            .cloned()
            .collect();
        Some((chat_id, chat_type, others))
    }

    fn stamp(&self, mut frame: Frame, chat_type: ChatType) -> Frame {
        frame.chat_type = Some(chat_type);
        frame.sender = Some(Sender {
            id: self.peer.user_id.clone(),
            kind: "direct".into(),
            nick_name: self.peer.nick_name.clone(),
        });
        frame.emitted_at = self.state.now_ms();
        frame
    }

    /// Stores a sent message (`id` is its message id) and acks it once it is committed.
    async fn on_message(&mut self, frame: Frame, id: String) {
        let Some((chat_id, chat_type, recipients)) = self.writable_chat(&frame, Some(&id)).await
        else {
            return;
        };
        let trace_id = frame.trace_id.clone();
        let envelope = self.stamp(frame, chat_type).encode_downlink();
        let now = self.state.now_ms();
        let message = NewMessage {
            chat_id: chat_id.clone(),
            sender_id: self.peer.user_id.clone(),
            message_id: id.clone(),
            recipients,
            envelope,
            now,
        };
        let Ok(accepted_at) = self.state.writer.accept(message).await else {
            return self
                .reply_error_for(
                    &trace_id,
                    &chat_id,
                    Some(&id),
                    send_codes::INTERNAL,
                    "storage error",
                )
                .await;
        };
        Counters::bump(&self.state.counters.sends_accepted);
        let ack = frame_now(
            &self.state,
            Event::Ack(Ack {
                message_id: id,
                accepted_at,
            }),
            &trace_id,
        )
        .in_chat(chat_id);
        match self.state.faults.take_ack_plan() {
            AckPlan::Now => {
                self.queue_frame(&ack).await;
            }
            AckPlan::Delay(ms) => {
                let control = self.handle.control.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let _ = control.send(Control::Send(ack.encode_downlink()));
                });
            }
            AckPlan::Withhold => tracing::info!("ack withheld (fault)"),
            AckPlan::Drop => {
                tracing::info!("socket dropped instead of the ack (fault)");
                // The loop takes control messages first: nothing more is read or written.
                let _ = self.handle.control.send(Control::Kick(Kick::Dropped));
            }
        }
    }

    /// Streaming and typing: stamped and relayed live to the other members, no ack.
    async fn relay(&mut self, frame: Frame) {
        let Some((_, chat_type, recipients)) = self.writable_chat(&frame, None).await else {
            return;
        };
        let text = self.stamp(frame, chat_type).encode_downlink();
        recipients
            .iter()
            .for_each(|r| self.state.hub.send_live(r, &text));
    }

    async fn reply_error(
        &mut self,
        trace_id: &str,
        message_id: Option<&str>,
        code: &str,
        reason: &str,
    ) {
        self.reply_error_for(trace_id, "", message_id, code, reason)
            .await;
    }

    async fn reply_error_for(
        &mut self,
        trace_id: &str,
        chat_id: &str,
        message_id: Option<&str>,
        code: &str,
        reason: &str,
    ) {
        let failure = SendFailure {
            code: code.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(reason.to_owned()),
            message_id: message_id.map(str::to_owned),
        };
        let mut frame = frame_now(&self.state, Event::SendError(failure), trace_id);
        if !chat_id.is_empty() {
            frame = frame.in_chat(chat_id);
        }
        self.queue_frame(&frame).await;
    }
}
