//! `ClawChatClient`: the connection machine driven by browser sockets and timers, with
//! the session loaded from and persisted to a token store.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use js_sys::{Function, Promise, Reflect};
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use crate::api::{decode_response, ApiError, BaseUrl, Credentials, HttpRequest, Method};
use crate::auth::{decode_claims, RefreshManager, Trigger};
use crate::platform::coordination::{LockHold, TabChannel, TabMessage};
use crate::platform::fetch::{self, Body};
use crate::platform::log::{log, Level};
use crate::platform::socket::{Socket, SocketEvent};
use crate::platform::token_store::TokenStore;
use crate::platform::{now_ms, Listener};
use crate::protocol::{ids, Fragment, Media, MediaKind, ReplyContext, ReplyPreview};
use crate::session::{
    Action, Backoff, Completion, Connection, Delivery, Entropy, OutboxLimits, Outgoing,
    SessionConfig, SystemEntropy, Timings,
};
use crate::store::StoredSession;

use super::auth;
use super::convert::{api_error, error, send_error, to_js};
use super::events::Emitter;
use super::leadership::{self, Relay, RelayedSend, Role};

/// How often the machine's tick runs.
const TICK_MS: u32 = 1_000;
/// Longest quoted text in a reply preview (**ours**).
const REPLY_PREVIEW_CHARS: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionInput {
    user_id: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    activated_at: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TimingInput {
    handshake_timeout_ms: Option<i64>,
    ack_timeout_ms: Option<i64>,
    ping_interval_ms: Option<i64>,
    dead_after_ms: Option<i64>,
    stream_stall_ms: Option<i64>,
    max_queue_age_ms: Option<i64>,
    backoff_initial_ms: Option<u32>,
    backoff_cap_ms: Option<u32>,
    refresh_floor_ms: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Options {
    base_url: String,
    #[serde(default)]
    websocket_url: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    account_key: Option<String>,
    #[serde(default)]
    log_level: Option<Level>,
    #[serde(default)]
    session: Option<SessionInput>,
    #[serde(default)]
    timings: TimingInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplyTarget {
    message_id: String,
    #[serde(default)]
    nick_name: String,
    #[serde(default)]
    fragments: Vec<Fragment>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SendOptions {
    #[serde(default)]
    reply_to: Option<ReplyTarget>,
    #[serde(default)]
    message_id: Option<String>,
}

/// Work for JS, done after the client is unborrowed (a handler may call the client).
pub(super) enum Effect {
    Emit(&'static str, JsValue),
    Settle(Function, JsValue),
    Relay(Relay),
}

pub(super) struct Inner {
    pub machine: Connection<SystemEntropy>,
    socket: Option<Socket>,
    generation: u64,
    /// A replaced socket still being read until the server closes it, and its generation.
    draining: Option<(u64, Socket)>,
    reconnect: Option<Timeout>,
    tick: Option<Interval>,
    online: Option<Listener>,
    pending: HashMap<String, (Function, Function)>,
    emitter: Emitter,
    pub base: BaseUrl,
    pub level: Level,
    /// The refresh guards.
    pub auth: RefreshManager,
    /// Where the session is persisted.
    pub store: TokenStore,
    /// The store key and channel name of this account.
    pub account_key: String,
    /// The live session (`None` until `connect()` loaded it).
    pub session: Option<StoredSession>,
    /// The session given in the options, reconciled with the store at `connect()`.
    pub offered: Option<StoredSession>,
    /// A device id override for the socket and REST.
    pub device_override: Option<String>,
    /// Other tabs of this account.
    pub channel: Option<TabChannel<TabMessage>>,
    /// The proactive refresh timer.
    pub proactive: Option<Timeout>,
    /// Callers waiting on the refresh in flight.
    pub joiners: Vec<Function>,
    /// visibilitychange / focus / online listeners for refresh-if-due.
    pub wake: Vec<Listener>,
    /// This tab's part in the account's connection.
    pub role: Role,
    /// This tab's id in relay messages.
    pub tab_id: String,
    /// The relay channel between the tabs of this account.
    pub relay: Option<TabChannel<Relay>>,
    /// The leader lock, held (leader) or requested (follower).
    pub leader_lock: Option<LockHold>,
    /// Follower: sends relayed to the leader and not yet settled.
    pub relayed: HashMap<String, RelayedSend>,
    /// Leader: which follower tab each relayed send came from.
    pub remote: HashMap<String, String>,
    /// Follower: the leader's last connection state.
    pub leader_state: Option<Value>,
}

pub(super) type Shared = Rc<RefCell<Inner>>;

impl Inner {
    /// The device id used for the socket and REST: the override, else the session's.
    pub fn device_id(&self) -> String {
        self.device_override
            .clone()
            .or_else(|| self.session.as_ref().map(|s| s.device_id.clone()))
            .or_else(|| self.offered.as_ref().map(|s| s.device_id.clone()))
            .unwrap_or_default()
    }

    /// The current access token ("" before a session is loaded).
    pub fn access_token(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.access_token.clone())
            .unwrap_or_default()
    }
}

/// Drops `value` after the current JS task, so a socket or timer is never freed while
/// its own callback is running.
pub(super) fn drop_later<T: 'static>(value: T) {
    wasm_bindgen_futures::spawn_local(async move { drop(value) });
}

fn websocket_url_for(base: &BaseUrl) -> String {
    let url = base.as_str();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let scheme = if url.to_ascii_lowercase().starts_with("https") {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{rest}/ws")
}

/// The session given in the options, its device id resolved: the session's, else the
/// token's `did` claim, else a generated one.
fn offered_session(input: SessionInput, account_key: &str) -> StoredSession {
    let device_id = input
        .device_id
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .or_else(|| decode_claims(&input.access_token).and_then(|c| c.did))
        .unwrap_or_else(|| {
            format!(
                "web-{}",
                ids::trace_id(now_ms().max(0) as u64, SystemEntropy.next_u128())
            )
        });
    StoredSession {
        account_key: account_key.to_owned(),
        user_id: input.user_id.trim().to_owned(),
        access_token: input.access_token,
        refresh_token: input.refresh_token.unwrap_or_default(),
        device_id,
        activated_at: input.activated_at.map_or_else(now_ms, |at| at as i64),
        refreshed_at: 0,
    }
}

fn session_config(t: &TimingInput, ws_url: String) -> SessionConfig {
    let defaults = Timings::default();
    let limits = OutboxLimits::default();
    let backoff = Backoff::default();
    SessionConfig {
        ws_url,
        device_id: String::new(),
        user_id: String::new(),
        timings: Timings {
            handshake_timeout_ms: t
                .handshake_timeout_ms
                .unwrap_or(defaults.handshake_timeout_ms),
            ping_interval_ms: t.ping_interval_ms.unwrap_or(defaults.ping_interval_ms),
            dead_after_ms: t.dead_after_ms.unwrap_or(defaults.dead_after_ms),
            stream_stall_ms: t.stream_stall_ms.unwrap_or(defaults.stream_stall_ms),
            ..defaults
        },
        limits: OutboxLimits {
            ack_timeout_ms: t.ack_timeout_ms.unwrap_or(limits.ack_timeout_ms),
            max_age_ms: t.max_queue_age_ms.unwrap_or(limits.max_age_ms),
            ..limits
        },
        backoff: Backoff {
            initial_ms: t.backoff_initial_ms.unwrap_or(backoff.initial_ms),
            cap_ms: t.backoff_cap_ms.unwrap_or(backoff.cap_ms),
            floor_ms: backoff
                .floor_ms
                .min(t.backoff_initial_ms.unwrap_or(u32::MAX)),
        },
    }
}

fn storage_choice(options: &JsValue) -> Result<TokenStore, JsValue> {
    let storage = Reflect::get(options, &"storage".into()).unwrap_or(JsValue::UNDEFINED);
    if storage.is_undefined() || storage.is_null() {
        return Ok(TokenStore::indexed_db());
    }
    match storage.as_string().as_deref() {
        Some("indexeddb") => Ok(TokenStore::indexed_db()),
        Some("memory") => Ok(TokenStore::memory()),
        Some(other) => Err(error("validation", &format!("unknown storage {other:?}"))),
        None if storage.is_object() => Ok(TokenStore::Js(storage)),
        None => Err(error(
            "validation",
            "storage must be \"indexeddb\", \"memory\" or an object",
        )),
    }
}

fn media_kind(mime: &str) -> MediaKind {
    match mime.split('/').next().unwrap_or_default() {
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "video" => MediaKind::Video,
        _ => MediaKind::File,
    }
}

/// The reply preview: the quoted text only, trimmed.
fn reply_context(target: ReplyTarget) -> ReplyContext {
    let quote: String = crate::session::inbound::plain_text(&target.fragments)
        .chars()
        .take(REPLY_PREVIEW_CHARS)
        .collect();
    ReplyContext {
        reply_to_msg_id: target.message_id.clone(),
        reply_preview: ReplyPreview {
            id: target.message_id,
            nick_name: target.nick_name,
            fragments: vec![Fragment::text(quote)],
        },
    }
}

pub(super) fn emit(event: &'static str, payload: JsValue, effects: &mut Vec<Effect>) {
    effects.push(Effect::Emit(event, payload));
}

impl Inner {
    fn execute(&mut self, shared: &Shared, actions: Vec<Action>, effects: &mut Vec<Effect>) {
        for action in actions {
            match action {
                Action::OpenSocket(url) => self.open_socket(shared, &url, effects),
                Action::ReplaceSocket(url) => {
                    if let Some(old) = self.socket.take() {
                        if let Some((_, older)) = self.draining.replace((self.generation, old)) {
                            drop_later(older);
                        }
                    }
                    self.open_socket(shared, &url, effects);
                }
                Action::SendText(text) => {
                    if !self.socket.as_ref().is_some_and(|s| s.send(&text)) {
                        log(
                            self.level,
                            Level::Debug,
                            "frame not written: socket not open",
                        );
                    }
                }
                Action::CloseSocket => self.retire_socket(),
                Action::ArmReconnect(delay) => {
                    let weak = Rc::downgrade(shared);
                    let timer = Timeout::new(delay, move || {
                        on_timer(&weak, |m, _| m.on_reconnect_timer())
                    });
                    if let Some(old) = self.reconnect.replace(timer) {
                        drop_later(old);
                    }
                }
                Action::State(state) => {
                    log(self.level, Level::Info, &format!("state {state:?}"));
                    emit("state", to_js(&state), effects);
                }
                Action::Completed(completion) => self.settle(completion, effects),
                Action::Deliver(delivery) => {
                    let (event, payload) = match &delivery {
                        Delivery::Message(m) => ("message", to_js(m)),
                        Delivery::Stream(s) => ("stream", to_js(s)),
                        Delivery::Typing(t) => ("typing", to_js(t)),
                    };
                    emit(event, payload, effects);
                }
                Action::Error(err) => {
                    log(
                        self.level,
                        Level::Warn,
                        &format!("{}: {}", err.kind, err.message),
                    );
                    emit("error", to_js(&err), effects);
                }
                Action::TokenRejected => {
                    log(
                        self.level,
                        Level::Warn,
                        "the hub rejected the access token; refreshing",
                    );
                    let shared = shared.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        auth::refresh(&shared, Trigger::HelloFail).await;
                    });
                }
            }
        }
    }

    fn settle(&mut self, completion: Completion, effects: &mut Vec<Effect>) {
        if let Some(to) = self.remote.remove(&completion.message_id) {
            let (accepted, error) = match completion.outcome {
                Ok(accepted) => (Some(accepted), None),
                Err(error) => (None, Some(error)),
            };
            let message_id = completion.message_id;
            effects.push(Effect::Relay(Relay::Settled {
                to,
                message_id,
                accepted,
                error,
            }));
            return;
        }
        self.settle_outcome(&completion.message_id, completion.outcome, effects);
    }

    /// Resolves or rejects the app's promise for `message_id`.
    pub fn settle_outcome(
        &mut self,
        message_id: &str,
        outcome: Result<crate::session::Accepted, crate::session::SendError>,
        effects: &mut Vec<Effect>,
    ) {
        let Some((resolve, reject)) = self.pending.remove(message_id) else {
            return;
        };
        match outcome {
            Ok(accepted) => effects.push(Effect::Settle(resolve, to_js(&accepted))),
            Err(failure) => {
                let note = format!("send {} failed: {}", failure.message_id, failure.reason);
                log(self.level, Level::Info, &note);
                effects.push(Effect::Settle(reject, send_error(&failure)));
            }
        }
    }

    fn retire_socket(&mut self) {
        self.generation += 1;
        if let Some(socket) = self.socket.take() {
            drop_later(socket);
        }
    }

    fn open_socket(&mut self, shared: &Shared, url: &str, effects: &mut Vec<Effect>) {
        self.retire_socket();
        let generation = self.generation;
        let weak = Rc::downgrade(shared);
        match Socket::open(url, move |event| on_socket(&weak, generation, event)) {
            Ok(socket) => self.socket = Some(socket),
            Err(message) => {
                emit("error", error("socket", &message), effects);
                let weak = Rc::downgrade(shared);
                // Treat it as a closed socket, after this task: the machine backs off.
                wasm_bindgen_futures::spawn_local(async move {
                    on_timer(&weak, |m, now| m.on_close(now));
                });
            }
        }
    }
}

pub(super) fn run_effects(shared: &Shared, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Relay(message) => {
                if let Some(relay) = shared.borrow().relay.as_ref() {
                    relay.post(&message);
                }
            }
            Effect::Emit(event, payload) => {
                leadership::forward(shared, event, &payload);
                let handlers = shared.borrow().emitter.handlers(event);
                for handler in handlers {
                    if handler.call1(&JsValue::NULL, &payload).is_err() {
                        log(
                            shared.borrow().level,
                            Level::Warn,
                            &format!("a {event} handler threw"),
                        );
                    }
                }
            }
            Effect::Settle(settle, value) => {
                let _ = settle.call1(&JsValue::NULL, &value);
            }
        }
    }
}

/// Runs `step` on the machine and carries out its actions.
pub(super) fn drive(
    shared: &Shared,
    step: impl FnOnce(&mut Connection<SystemEntropy>, i64) -> Vec<Action>,
) {
    let mut effects = Vec::new();
    {
        let mut inner = shared.borrow_mut();
        let actions = step(&mut inner.machine, now_ms());
        inner.execute(shared, actions, &mut effects);
    }
    run_effects(shared, effects);
}

fn on_timer(
    weak: &Weak<RefCell<Inner>>,
    step: impl FnOnce(&mut Connection<SystemEntropy>, i64) -> Vec<Action>,
) {
    if let Some(shared) = weak.upgrade() {
        drive(&shared, step);
    }
}

fn on_socket(weak: &Weak<RefCell<Inner>>, generation: u64, event: SocketEvent) {
    let Some(shared) = weak.upgrade() else { return };
    let draining = shared
        .borrow()
        .draining
        .as_ref()
        .is_some_and(|(g, _)| *g == generation);
    if draining {
        // The replaced socket: deliver what it still carries; its close is expected.
        match event {
            SocketEvent::Text(text) => drive(&shared, |machine, now| machine.on_text(&text, now)),
            SocketEvent::Closed(_) => {
                if let Some((_, socket)) = shared.borrow_mut().draining.take() {
                    drop_later(socket);
                }
            }
            SocketEvent::Open => {}
        }
        return;
    }
    if shared.borrow().generation != generation {
        return;
    }
    drive(&shared, |machine, now| match event {
        SocketEvent::Open => machine.on_open(now),
        SocketEvent::Text(text) => machine.on_text(&text, now),
        SocketEvent::Closed(_) => machine.on_close(now),
    });
}

/// Starts this tab's connection: the tick, the online listener, then the machine.
pub(super) fn start_connection(shared: &Shared) {
    {
        let mut inner = shared.borrow_mut();
        if inner.tick.is_none() {
            let weak = Rc::downgrade(shared);
            inner.tick = Some(Interval::new(TICK_MS, move || {
                on_timer(&weak, |m, now| m.on_tick(now))
            }));
        }
        if inner.online.is_none() {
            let weak = Rc::downgrade(shared);
            inner.online =
                Listener::global("online", move || on_timer(&weak, |m, _| m.on_online()));
        }
    }
    drive(shared, |m, _| m.connect());
}

/// A ClawChat client: one account's connection, sends, inbound events and tokens.
#[wasm_bindgen]
pub struct ClawChatClient {
    shared: Shared,
}

#[wasm_bindgen]
impl ClawChatClient {
    /// Creates a client from options; nothing connects until `connect()`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ClawChatOptions")] options: JsValue,
    ) -> Result<ClawChatClient, JsValue> {
        let store = storage_choice(&options)?;
        let options: Options = serde_wasm_bindgen::from_value(options)
            .map_err(|e| error("validation", &format!("invalid options: {e}")))?;
        let base = BaseUrl::parse(&options.base_url).map_err(|e| api_error(&e))?;
        let ws_url = options
            .websocket_url
            .clone()
            .unwrap_or_else(|| websocket_url_for(&base));
        let lower = ws_url.to_ascii_lowercase();
        if !(lower.starts_with("ws://") || lower.starts_with("wss://")) {
            return Err(error(
                "validation",
                "websocketUrl must start with ws:// or wss://",
            ));
        }
        let account_key = options
            .account_key
            .clone()
            .or_else(|| options.session.as_ref().map(|s| s.user_id.clone()))
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| error("validation", "give accountKey or session"))?;
        if options
            .session
            .as_ref()
            .is_some_and(|s| s.access_token.trim().is_empty())
        {
            return Err(error("validation", "session.accessToken must not be blank"));
        }
        let floor = options.timings.refresh_floor_ms;
        let config = session_config(&options.timings, ws_url);
        let inner = Inner {
            machine: Connection::new(config, String::new(), SystemEntropy),
            socket: None,
            generation: 0,
            draining: None,
            reconnect: None,
            tick: None,
            online: None,
            pending: HashMap::new(),
            emitter: Emitter::default(),
            base,
            level: options.log_level.unwrap_or_default(),
            auth: floor.map_or_else(RefreshManager::new, RefreshManager::with_floor),
            store,
            offered: options.session.map(|s| offered_session(s, &account_key)),
            account_key,
            session: None,
            device_override: options
                .device_id
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            channel: None,
            proactive: None,
            joiners: Vec::new(),
            wake: Vec::new(),
            role: Role::Idle,
            tab_id: leadership::new_tab_id(),
            relay: None,
            leader_lock: None,
            relayed: HashMap::new(),
            remote: HashMap::new(),
            leader_state: None,
        };
        Ok(ClawChatClient {
            shared: Rc::new(RefCell::new(inner)),
        })
    }

    /// Loads the session (refreshing first if its token is due), then connects and keeps
    /// reconnecting until `disconnect()` or logout. Resolves once connecting started.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn connect(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            auth::start(&shared).await?;
            leadership::start(&shared);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the connection (a leader tab hands the connection to another tab); pending
    /// sends fail with a clear reason. `connect()` again to resume.
    pub fn disconnect(&self) {
        drive(&self.shared, |m, _| m.disconnect());
        leadership::stop(&self.shared);
        let mut inner = self.shared.borrow_mut();
        if let Some(tick) = inner.tick.take() {
            drop_later(tick);
        }
        if let Some(timer) = inner.reconnect.take() {
            drop_later(timer);
        }
        if let Some((_, socket)) = inner.draining.take() {
            drop_later(socket);
        }
        inner.online = None;
    }

    /// Refreshes the token pair now (single-flight, across tabs). Resolves with the outcome.
    #[wasm_bindgen(js_name = refreshNow, unchecked_return_type = "Promise<RefreshReport>")]
    pub fn refresh_now(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move { Ok(to_js(&auth::refresh(&shared, Trigger::Manual).await)) })
    }

    /// Logs out this account in every tab: stored credentials cleared, pending sends failed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            auth::logout(&shared, 0, "logged out by the app", true).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Sends text to a chat. Resolves with `{messageId, acceptedAt}` on the server's ack;
    /// rejects with a `SendError` carrying `kind`, `code`, `reason`, `traceId`, `chatId`.
    #[wasm_bindgen(js_name = sendText, unchecked_return_type = "Promise<SendReceipt>")]
    pub fn send_text(
        &self,
        #[wasm_bindgen(js_name = chatId)] chat_id: &str,
        text: &str,
        #[wasm_bindgen(unchecked_param_type = "SendOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.send(chat_id, vec![Fragment::text(text)], options)
    }

    /// Sends fragments (text, mentions, media) to a chat; settles like `sendText`.
    #[wasm_bindgen(js_name = sendFragments, unchecked_return_type = "Promise<SendReceipt>")]
    pub fn send_fragments(
        &self,
        #[wasm_bindgen(js_name = chatId)] chat_id: &str,
        #[wasm_bindgen(unchecked_param_type = "Fragment[]")] fragments: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SendOptions | undefined")] options: JsValue,
    ) -> Promise {
        match serde_wasm_bindgen::from_value::<Vec<Fragment>>(fragments) {
            Ok(fragments) => self.send(chat_id, fragments, options),
            Err(e) => Promise::reject(&error("invalid", &format!("invalid fragments: {e}"))),
        }
    }

    /// Tells a chat that we started or stopped typing (ignored while not connected).
    #[wasm_bindgen(js_name = setTyping)]
    pub fn set_typing(
        &self,
        #[wasm_bindgen(js_name = chatId)] chat_id: &str,
        #[wasm_bindgen(js_name = isTyping)] is_typing: bool,
    ) {
        if !leadership::relay_typing(&self.shared, chat_id, is_typing) {
            drive(&self.shared, |m, now| m.set_typing(chat_id, is_typing, now));
        }
    }

    /// This tab's part: `leader` owns the socket, a `follower` relays through the leader.
    #[wasm_bindgen(getter, unchecked_return_type = "TabRole")]
    pub fn role(&self) -> JsValue {
        to_js(&self.shared.borrow().role)
    }

    /// Registers a handler; returns a function that unregisters it.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, handler: Function) -> JsValue {
        let id = self.shared.borrow_mut().emitter.add(event, handler);
        let weak = Rc::downgrade(&self.shared);
        Closure::once_into_js(move || {
            if let Some(shared) = weak.upgrade() {
                shared.borrow_mut().emitter.remove(id);
            }
        })
    }

    /// The connection state.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionState")]
    pub fn state(&self) -> JsValue {
        let inner = self.shared.borrow();
        match (&inner.role, &inner.leader_state) {
            (Role::Follower, Some(state)) => to_js(state),
            (Role::Follower, None) => {
                to_js(&serde_json::json!({"state": "connecting", "attempt": 0}))
            }
            _ => to_js(inner.machine.state()),
        }
    }

    /// Our user id ("" until a session is known).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        let inner = self.shared.borrow();
        inner
            .session
            .as_ref()
            .or(inner.offered.as_ref())
            .map(|s| s.user_id.clone())
            .unwrap_or_default()
    }

    /// The device id this client connects with.
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.shared.borrow().device_id()
    }

    /// The current access token, for the app's own calls. It never appears in events.
    #[wasm_bindgen(getter, js_name = accessToken)]
    pub fn access_token(&self) -> String {
        self.shared.borrow().access_token()
    }

    /// When the current access token expires (epoch ms), if known.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<f64> {
        let inner = self.shared.borrow();
        let session = inner.session.as_ref()?;
        crate::auth::schedule::expiry_ms(&session.access_token, Some(session.activated_at))
            .map(|ms| ms as f64)
    }

    /// Sends not yet acknowledged (queued or in flight).
    #[wasm_bindgen(getter, js_name = pendingSends)]
    pub fn pending_sends(&self) -> usize {
        self.shared.borrow().machine.pending().len()
    }

    /// `GET /v1/users/me`.
    #[wasm_bindgen(unchecked_return_type = "Promise<UserProfile>")]
    pub fn me(&self) -> Promise {
        self.rest_promise(Method::Get, "/v1/users/me".into(), None)
    }

    /// `GET /v1/users/{id}`; a blank id is a validation error and no request is made.
    #[wasm_bindgen(unchecked_return_type = "Promise<UserProfile>")]
    pub fn user(&self, #[wasm_bindgen(js_name = userId)] user_id: &str) -> Promise {
        match crate::api::user_profile_path(user_id) {
            Ok(path) => self.rest_promise(Method::Get, path, None),
            Err(e) => Promise::reject(&api_error(&e)),
        }
    }

    /// `GET /v1/friendships`.
    #[wasm_bindgen(unchecked_return_type = "Promise<UserProfile[]>")]
    pub fn friends(&self) -> Promise {
        self.rest_promise(Method::Get, "/v1/friendships".into(), None)
    }

    /// `GET /v1/chats`: the chats we are a member of.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatInfo[]>")]
    pub fn chats(&self) -> Promise {
        self.rest_promise(Method::Get, "/v1/chats".into(), None)
    }

    /// `POST /v1/chats`: a direct chat (one other member) or a group.
    #[wasm_bindgen(js_name = createChat, unchecked_return_type = "Promise<ChatInfo>")]
    pub fn create_chat(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"direct\" | \"group\"")] kind: &str,
        #[wasm_bindgen(js_name = memberIds)] member_ids: Vec<String>,
        name: Option<String>,
    ) -> Promise {
        let body = serde_json::json!({"type": kind, "member_ids": member_ids, "name": name.unwrap_or_default()});
        self.rest_promise(Method::Post, "/v1/chats".into(), Some(body))
    }

    /// Uploads a file (`POST /media/upload`) and resolves with a media fragment ready
    /// to send with `sendFragments`.
    #[wasm_bindgen(js_name = uploadMedia, unchecked_return_type = "Promise<MediaFragment>")]
    pub fn upload_media(&self, file: web_sys::Blob, name: Option<String>) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move { upload(&shared, file, name).await })
    }
}

impl ClawChatClient {
    fn send(&self, chat_id: &str, fragments: Vec<Fragment>, options: JsValue) -> Promise {
        let options: SendOptions = if options.is_undefined() || options.is_null() {
            SendOptions::default()
        } else {
            match serde_wasm_bindgen::from_value(options) {
                Ok(options) => options,
                Err(e) => {
                    return Promise::reject(&error(
                        "invalid",
                        &format!("invalid send options: {e}"),
                    ))
                }
            }
        };
        let outgoing = Outgoing {
            fragments,
            reply: options.reply_to.map(reply_context),
            message_id: options.message_id,
        };
        let mut slots = None;
        let promise = Promise::new(&mut |resolve, reject| slots = Some((resolve, reject)));
        let Some(slots) = slots else { return promise };
        let logged_out =
            *self.shared.borrow().machine.state() == crate::session::ConnState::LoggedOut;
        if !logged_out {
            if let Some(message_id) = leadership::relay_send(&self.shared, chat_id, &outgoing) {
                self.shared.borrow_mut().pending.insert(message_id, slots);
                return promise;
            }
        }
        let mut effects = Vec::new();
        {
            let mut inner = self.shared.borrow_mut();
            let (message_id, actions) = inner.machine.send(chat_id, outgoing, now_ms());
            inner.pending.insert(message_id, slots);
            inner.execute(&self.shared, actions, &mut effects);
        }
        run_effects(&self.shared, effects);
        promise
    }

    fn rest_promise(&self, method: Method, path: String, body: Option<Value>) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            rest(&shared, method, &path, body.map(|b| b.to_string()))
                .await
                .map(|v| to_js(&v))
                .map_err(|e| api_error(&e))
        })
    }
}

/// The request as the current credentials make it.
fn authenticated(shared: &Shared, method: Method, path: &str, body: Option<String>) -> HttpRequest {
    let inner = shared.borrow();
    let (token, device) = (inner.access_token(), inner.device_id());
    let creds = Credentials {
        access_token: &token,
        device_id: &device,
    };
    HttpRequest::authenticated(&inner.base, method, path, &creds, body)
}

/// An authenticated REST call; on a 401/403 the token is refreshed and the call retried
/// once with the new one.
async fn rest(
    shared: &Shared,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Value, ApiError> {
    let mut retried = false;
    loop {
        let request = authenticated(shared, method, path, body.clone());
        let (status, text) = fetch::run(&request, Body::Json)
            .await
            .map_err(|message| ApiError::transport(message, None, path))?;
        match decode_response(status, &text, path) {
            Err(err) if err.is_auth() && !retried => {
                retried = true;
                if !auth::refresh(shared, Trigger::RestUnauthorized)
                    .await
                    .succeeded()
                {
                    return Err(err);
                }
            }
            result => return result,
        }
    }
}

async fn upload(
    shared: &Shared,
    file: web_sys::Blob,
    name: Option<String>,
) -> Result<JsValue, JsValue> {
    let path = "/media/upload";
    let name = name
        .or_else(|| file.dyn_ref::<web_sys::File>().map(|f| f.name()))
        .unwrap_or_else(|| "upload".into());
    let form = web_sys::FormData::new().map_err(|_| error("validation", "FormData unavailable"))?;
    form.append_with_blob_and_filename("file", &file, &name)
        .map_err(|_| error("validation", "cannot attach the file"))?;
    let request = authenticated(shared, Method::Post, path, None);
    let (status, text) = fetch::run(&request, Body::Form(&form))
        .await
        .map_err(|m| api_error(&ApiError::transport(m, None, path)))?;
    let data = decode_response(status, &text, path).map_err(|e| api_error(&e))?;
    let url = data.get("url").and_then(Value::as_str).unwrap_or_default();
    if url.is_empty() {
        return Err(api_error(&ApiError::transport(
            "upload answer has no url",
            Some(status),
            path,
        )));
    }
    let base = shared.borrow().base.clone();
    let mime = data
        .get("mime")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| Some(file.type_()).filter(|t| !t.is_empty()));
    let media = Media {
        kind: media_kind(mime.as_deref().unwrap_or_default()),
        url: if url.starts_with('/') {
            base.join(url)
        } else {
            url.to_owned()
        },
        name: Some(name),
        size: data
            .get("size")
            .and_then(Value::as_u64)
            .or(Some(file.size() as u64)),
        mime,
        width: None,
        height: None,
        duration: None,
    };
    Ok(to_js(&Fragment::Media(media)))
}
