//! `ClawChatClient`: the JavaScript facade. It converts options and arguments, builds
//! the machines and the driver, and forwards every call to the driver.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

use crate::api::{create_chat_body, BaseUrl, Method};
use crate::auth::{decode_claims, Rotation, RotationConfig, Trigger};
use crate::json::{self, FromJson, JsonError, Reader, Reparsed};
use crate::platform::json::write_js_camel;
use crate::platform::log::Level;
use crate::platform::now_ms;
use crate::platform::token_store::TokenStore;
use crate::protocol::{ids, redact_quoted, Fragment, ReplyContext, ReplyPreview};
use crate::session::{
    Backoff, Connection, Entropy, OutboxLimits, Outgoing, SessionConfig, SystemEntropy, Timings,
    Wake,
};
use crate::store::memory::{default_storage, StorageKind};
use crate::store::message_cache::{DEFAULT_CAPACITY, MAX_CAPACITY};
use crate::store::StoredSession;
use crate::tabs::{Coordinator, CoordinatorConfig};

use super::convert::{api_error, error, fragments_from_js};
use super::driver::{self, Driver, Shared};
use super::events::EVENTS;
use super::future_to_promise;
use super::keys::{check_keys, field, number, read_options, OptionKeys};
use super::{history, rest};

/// Longest quoted text in a reply preview (**ours**).
const REPLY_PREVIEW_CHARS: usize = 200;

/// A session as `dev.signIn` / `activate` return it (`nickname` and `websocketUrl` are
/// accepted and not used: the options' `websocketUrl` decides).
struct SessionInput {
    user_id: String,
    access_token: String,
    refresh_token: Option<String>,
    device_id: Option<String>,
    activated_at: Option<f64>,
}

impl OptionKeys for SessionInput {
    const KEYS: &'static [&'static str] = &[
        "userId",
        "accessToken",
        "refreshToken",
        "deviceId",
        "activatedAt",
        "nickname",
        "websocketUrl",
    ];
}

impl FromJson<'_> for SessionInput {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut user_id, mut access_token) = (None, None);
        let (mut refresh_token, mut device_id, mut activated_at) = (None, None, None);
        r.object(|r, key| {
            match key {
                "userId" => user_id = Some(r.read()?),
                "accessToken" => access_token = Some(r.read()?),
                "refreshToken" => refresh_token = r.read()?,
                "deviceId" => device_id = r.read()?,
                "activatedAt" => activated_at = number(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(SessionInput {
            user_id: json::required(user_id, "session.userId")?,
            access_token: json::required(access_token, "session.accessToken")?,
            refresh_token,
            device_id,
            activated_at,
        })
    }
}

#[derive(Default)]
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

impl OptionKeys for TimingInput {
    const KEYS: &'static [&'static str] = &[
        "handshakeTimeoutMs",
        "ackTimeoutMs",
        "pingIntervalMs",
        "deadAfterMs",
        "streamStallMs",
        "maxQueueAgeMs",
        "backoffInitialMs",
        "backoffCapMs",
        "refreshFloorMs",
    ];
}

impl FromJson<'_> for TimingInput {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut t = TimingInput::default();
        r.object(|r, key| {
            match key {
                "handshakeTimeoutMs" => t.handshake_timeout_ms = r.read()?,
                "ackTimeoutMs" => t.ack_timeout_ms = r.read()?,
                "pingIntervalMs" => t.ping_interval_ms = r.read()?,
                "deadAfterMs" => t.dead_after_ms = r.read()?,
                "streamStallMs" => t.stream_stall_ms = r.read()?,
                "maxQueueAgeMs" => t.max_queue_age_ms = r.read()?,
                "backoffInitialMs" => t.backoff_initial_ms = r.read()?,
                "backoffCapMs" => t.backoff_cap_ms = r.read()?,
                "refreshFloorMs" => t.refresh_floor_ms = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(t)
    }
}

struct Options {
    base_url: String,
    websocket_url: Option<String>,
    device_id: Option<String>,
    account_key: Option<String>,
    log_level: Option<Level>,
    session: Option<SessionInput>,
    timings: TimingInput,
    /// Messages kept per chat in the local message cache.
    cache_size: Option<f64>,
}

impl OptionKeys for Options {
    /// `storage` (it may be an object with methods) is read by [`storage_choice`] and
    /// `transport` (a class) before the rest: both are taken out of the options read
    /// as JSON ([`without_app_objects`]).
    const KEYS: &'static [&'static str] = &[
        "baseUrl",
        "websocketUrl",
        "deviceId",
        "accountKey",
        "logLevel",
        "session",
        "timings",
        "cacheSize",
        "storage",
        "transport",
    ];
}

impl FromJson<'_> for Options {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut base_url = None;
        let mut options = Options {
            base_url: String::new(),
            websocket_url: None,
            device_id: None,
            account_key: None,
            log_level: None,
            session: None,
            timings: TimingInput::default(),
            cache_size: None,
        };
        r.object(|r, key| {
            match key {
                "baseUrl" => base_url = Some(r.read()?),
                "websocketUrl" => options.websocket_url = r.read()?,
                "deviceId" => options.device_id = r.read()?,
                "accountKey" => options.account_key = r.read()?,
                "logLevel" => options.log_level = r.read()?,
                "session" => options.session = r.read()?,
                // `null` is the defaults too.
                "timings" => options.timings = r.read::<Option<_>>()?.unwrap_or_default(),
                "cacheSize" => options.cache_size = number(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        options.base_url = json::required(base_url, "baseUrl")?;
        Ok(options)
    }
}

/// The message a send replies to; its `fragments` (for the quote) are read on their own
/// with [`fragments_from_js`], as a send's are.
struct ReplyTarget {
    message_id: String,
    nick_name: String,
}

impl OptionKeys for ReplyTarget {
    const KEYS: &'static [&'static str] = &["messageId", "nickName", "fragments"];
}

impl FromJson<'_> for ReplyTarget {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut message_id, mut nick_name) = (None, String::new());
        r.object(|r, key| {
            match key {
                "messageId" => message_id = Some(r.read()?),
                "nickName" => nick_name = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(ReplyTarget {
            message_id: json::required(message_id, "replyTo.messageId")?,
            nick_name,
        })
    }
}

#[derive(Default)]
struct SendOptions {
    reply_to: Option<ReplyTarget>,
    message_id: Option<String>,
}

impl OptionKeys for SendOptions {
    const KEYS: &'static [&'static str] = &["replyTo", "messageId"];
}

impl FromJson<'_> for SendOptions {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let mut options = SendOptions::default();
        r.object(|r, key| {
            match key {
                "replyTo" => options.reply_to = r.read()?,
                "messageId" => options.message_id = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(options)
    }
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
            // `deadAfterMs` sets how long a ping may go unanswered.
            pong_window_ms: t.dead_after_ms.unwrap_or(defaults.pong_window_ms),
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
            ..backoff
        },
    }
}

/// The options without `storage` and `transport`: the app's own objects (a store with
/// methods, a class), read on their own and possibly no JSON at all (a cycle).
fn without_app_objects(options: &JsValue) -> JsValue {
    let plain = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
    for key in ["storage", "transport"] {
        let _ = Reflect::delete_property(&plain, &key.into());
    }
    plain.into()
}

/// The store the options name; by default IndexedDB where it exists, else memory with a
/// warning said at `connect()`.
fn storage_choice(options: &JsValue) -> Result<(TokenStore, Option<String>), JsValue> {
    let storage = Reflect::get(options, &"storage".into()).unwrap_or(JsValue::UNDEFINED);
    if storage.is_undefined() || storage.is_null() {
        return Ok(match default_storage(TokenStore::has_indexed_db()) {
            (StorageKind::IndexedDb, _) => (TokenStore::indexed_db(), None),
            (StorageKind::Memory, warning) => (TokenStore::Memory, warning.map(str::to_owned)),
        });
    }
    match storage.as_string().as_deref() {
        Some("indexeddb") => Ok((TokenStore::indexed_db(), None)),
        Some("memory") => Ok((TokenStore::Memory, None)),
        Some(_) => Err(error(
            "validation",
            "storage must be \"indexeddb\", \"memory\" or an object",
        )),
        None if storage.is_object() => Ok((TokenStore::Js(storage), None)),
        None => Err(error(
            "validation",
            "storage must be \"indexeddb\", \"memory\" or an object",
        )),
    }
}

/// `cacheSize`: an integer from 1 to [`MAX_CAPACITY`] (default [`DEFAULT_CAPACITY`]).
fn cache_capacity(size: Option<f64>) -> Result<usize, JsValue> {
    match size {
        None => Ok(DEFAULT_CAPACITY),
        Some(n) if n.fract() == 0.0 && (1.0..=MAX_CAPACITY as f64).contains(&n) => Ok(n as usize),
        Some(_) => Err(error(
            "validation",
            &format!("cacheSize must be an integer from 1 to {MAX_CAPACITY}"),
        )),
    }
}

/// The reply preview: the quoted text only (of the target's `fragments`), trimmed.
fn reply_context(target: ReplyTarget, fragments: &[Fragment]) -> ReplyContext {
    let quote: String = crate::session::inbound::plain_text(fragments)
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

/// The `fragments` of a reply target (none when absent), read as a send's are.
fn reply_fragments(target: &JsValue) -> Result<Vec<Fragment>, JsValue> {
    let fragments = field(target, "fragments");
    if fragments.is_undefined() || fragments.is_null() {
        return Ok(Vec::new());
    }
    fragments_from_js(&fragments).map_err(|e| {
        error(
            "validation",
            &format!(
                "invalid send options: `replyTo.fragments`: {}",
                redact_quoted(&e)
            ),
        )
    })
}

/// A ClawChat client: one account's connection, sends, inbound events and tokens.
#[wasm_bindgen]
pub struct ClawChatClient {
    shared: Shared,
}

impl Drop for ClawChatClient {
    /// `free()`: the app hears nothing more, also while a refresh under way keeps the
    /// driver until its pair is saved.
    fn drop(&mut self) {
        driver::freed(&self.shared);
    }
}

#[wasm_bindgen]
impl ClawChatClient {
    /// Creates a client from options; nothing connects until `connect()`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ClawChatOptions")] options: JsValue,
    ) -> Result<ClawChatClient, JsValue> {
        let (store, warning) = storage_choice(&options)?;
        let transport = field(&options, "transport");
        let transport = match transport.dyn_into::<Function>() {
            Ok(class) => Some(class),
            Err(other) if other.is_undefined() || other.is_null() => None,
            Err(_) => {
                return Err(error(
                    "validation",
                    "transport must be a WebSocket class (constructor)",
                ))
            }
        };
        check_keys::<Options>(&options, "")?;
        check_keys::<TimingInput>(&field(&options, "timings"), "timings")?;
        check_keys::<SessionInput>(&field(&options, "session"), "session")?;
        let options: Options = read_options(&without_app_objects(&options), "options")?;
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
        let mut rotation_config = RotationConfig::default();
        if let Some(floor) = options.timings.refresh_floor_ms {
            rotation_config.floor_ms = floor.max(0);
        }
        let config = session_config(&options.timings, ws_url);
        let tab_id = format!(
            "tab-{}",
            ids::trace_id(now_ms().max(0) as u64, SystemEntropy.next_u128())
        );
        let mut driver = Driver::new(
            Connection::new(config, String::new(), SystemEntropy),
            Rotation::new(rotation_config, SystemEntropy.fraction()),
            Coordinator::new(tab_id, CoordinatorConfig::default()),
            store,
            base,
            options.log_level.unwrap_or_default(),
            account_key.clone(),
            options.session.map(|s| offered_session(s, &account_key)),
            options
                .device_id
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            warning,
        );
        driver.transport = transport;
        driver.cache_capacity = cache_capacity(options.cache_size)?;
        Ok(ClawChatClient {
            shared: Rc::new(RefCell::new(driver)),
        })
    }

    /// Loads the session, then connects (a still-valid token at once; an expired one
    /// after a refresh) and keeps reconnecting until `disconnect()` or logout. Resolves
    /// once connecting started.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn connect(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            driver::connect(&shared)
                .await
                .map_err(|message| error("auth", &message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the connection (a leader tab hands the connection to another tab); pending
    /// sends fail with a clear reason. `connect()` again to resume.
    pub fn disconnect(&self) {
        driver::disconnect(&self.shared);
        // Nobody refreshes for a disconnected client (a leader's hand-over already said
        // so; a tab alone has no one to hand over to): no proactive refresh timer stays
        // armed. `connect()` puts this tab in charge again.
        driver::drive_rotation(&self.shared, |r, now| r.set_in_charge(false, now));
    }

    /// Cuts a reconnect wait short: while reconnecting, the next attempt starts at once
    /// (a takeover's minimum wait still holds). Does nothing in any other state, nor in
    /// a follower tab: the leader tab owns the socket and retries on its own schedule.
    #[wasm_bindgen(js_name = reconnectNow)]
    pub fn reconnect_now(&self) {
        driver::drive_connection(&self.shared, |m, now| m.on_wake(Wake::Online, now));
    }

    /// Refreshes the token pair now (single-flight, across tabs). Resolves with the outcome.
    #[wasm_bindgen(js_name = refreshNow, unchecked_return_type = "Promise<RefreshReport>")]
    pub fn refresh_now(&self) -> Promise {
        driver::refresh_promise(&self.shared, Trigger::Manual)
    }

    /// Logs out this account in every tab: stored credentials cleared, pending sends failed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            driver::logout(&shared);
            let (store, key) = {
                let d = shared.borrow();
                (d.store.clone(), d.account_key.clone())
            };
            // The driver's clear runs too; this one is awaited so the promise means "gone".
            store
                .clear(&key)
                .await
                .map_err(|e| error("storage", &e.to_string()))?;
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
        #[wasm_bindgen(unchecked_optional_param_type = "SendOptions")] options: JsValue,
    ) -> Promise {
        self.send(chat_id, vec![Fragment::text(text)], options)
    }

    /// Sends fragments (text, mentions, media) to a chat; settles like `sendText`.
    #[wasm_bindgen(js_name = sendFragments, unchecked_return_type = "Promise<SendReceipt>")]
    pub fn send_fragments(
        &self,
        #[wasm_bindgen(js_name = chatId)] chat_id: &str,
        #[wasm_bindgen(unchecked_param_type = "Fragment[]")] fragments: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SendOptions")] options: JsValue,
    ) -> Promise {
        match fragments_from_js(&fragments) {
            Ok(fragments) => self.send(chat_id, fragments, options),
            Err(e) => Promise::reject(&error(
                "invalid",
                &format!("invalid fragments: {}", redact_quoted(&e.to_string())),
            )),
        }
    }

    /// Tells a chat that we started or stopped typing (ignored while not connected).
    #[wasm_bindgen(js_name = setTyping)]
    pub fn set_typing(
        &self,
        #[wasm_bindgen(js_name = chatId)] chat_id: &str,
        #[wasm_bindgen(js_name = isTyping)] is_typing: bool,
    ) {
        driver::drive_tabs(&self.shared, |t, _| t.typing(chat_id, is_typing));
    }

    /// This tab's part: `leader` owns the socket, a `follower` relays through the leader.
    #[wasm_bindgen(getter, unchecked_return_type = "TabRole")]
    pub fn role(&self) -> JsValue {
        self.shared.borrow().tabs.role().as_str().into()
    }

    /// Registers a handler; returns a function that unregisters it (calling it again
    /// does nothing). An unknown event name or a handler that is not a function throws
    /// a `ClawChatError` of kind `validation`.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, handler: JsValue) -> Result<JsValue, JsValue> {
        if !EVENTS.contains(&event) {
            return Err(error(
                "validation",
                &format!("unknown event; expected one of {}", EVENTS.join(", ")),
            ));
        }
        let Some(handler) = handler.dyn_ref::<Function>() else {
            return Err(error("validation", "the handler must be a function"));
        };
        let id = self.shared.borrow_mut().on(event, handler.clone());
        let weak = Rc::downgrade(&self.shared);
        // A closure that stays callable: a second call finds nothing to remove.
        let unsubscribe = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.borrow_mut().off(id);
            }
        });
        Ok(unsubscribe.into_js_value())
    }

    /// The connection state.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionState")]
    pub fn state(&self) -> JsValue {
        driver::state(&self.shared)
    }

    /// Our user id ("" until a session is known).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        let d = self.shared.borrow();
        d.session().map(|s| s.user_id.clone()).unwrap_or_default()
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
        let d = self.shared.borrow();
        let session = d.rotation.session()?;
        crate::auth::schedule::expiry_ms(&session.access_token, Some(session.activated_at))
            .map(|ms| ms as f64)
    }

    /// Sends not yet acknowledged (queued or in flight).
    #[wasm_bindgen(getter, js_name = pendingSends)]
    pub fn pending_sends(&self) -> usize {
        self.shared.borrow().machine.pending().len()
    }

    /// The account's queued sends, oldest first, as stored (so any tab of the account,
    /// or a page rebuilt after a reload, lists them): each ends with a `sent` or
    /// `failed` event carrying its message id.
    #[wasm_bindgen(unchecked_return_type = "Promise<PendingSend[]>")]
    pub fn pending(&self) -> Promise {
        driver::pending(&self.shared)
    }

    /// A page of a chat's messages, oldest first (each shaped like the `message` event),
    /// going back from the newest or from the message `before`: from the local cache
    /// at once, and from the server (then cached) once the cache has nothing older. An
    /// empty page means there is nothing older anywhere.
    #[wasm_bindgen(unchecked_return_type = "Promise<InboundMessage[]>")]
    pub fn history(
        &self,
        #[wasm_bindgen(js_name = chatId)] chat_id: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "HistoryOptions")] options: JsValue,
    ) -> Promise {
        let (before, limit) = match history::options(options) {
            Ok(checked) => checked,
            Err(err) => return Promise::reject(&err),
        };
        if chat_id.trim().is_empty() {
            return Promise::reject(&error("validation", "chat id must not be blank"));
        }
        let (shared, chat_id) = (self.shared.clone(), chat_id.trim().to_owned());
        future_to_promise(async move { history::page(&shared, chat_id, before, limit).await })
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
        let body = create_chat_body(kind, &member_ids, &name.unwrap_or_default());
        self.rest_promise(Method::Post, "/v1/chats".into(), Some(body))
    }

    /// Uploads a file (`POST /media/upload`) and resolves with a media fragment ready
    /// to send with `sendFragments`.
    #[wasm_bindgen(js_name = uploadMedia, unchecked_return_type = "Promise<MediaFragment>")]
    pub fn upload_media(&self, file: web_sys::Blob, name: Option<String>) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move { rest::upload(&shared, file, name).await })
    }
}

impl ClawChatClient {
    fn send(&self, chat_id: &str, fragments: Vec<Fragment>, options: JsValue) -> Promise {
        let checked = check_keys::<SendOptions>(&options, "")
            .and_then(|()| check_keys::<ReplyTarget>(&field(&options, "replyTo"), "replyTo"));
        if let Err(err) = checked {
            return Promise::reject(&err);
        }
        let read: SendOptions = if options.is_undefined() || options.is_null() {
            SendOptions::default()
        } else {
            match read_options(&options, "send options") {
                Ok(read) => read,
                Err(err) => return Promise::reject(&err),
            }
        };
        let reply = match read.reply_to {
            None => None,
            Some(target) => match reply_fragments(&field(&options, "replyTo")) {
                Ok(fragments) => Some(reply_context(target, &fragments)),
                Err(err) => return Promise::reject(&err),
            },
        };
        let outgoing = Outgoing {
            fragments,
            reply,
            message_id: read.message_id,
        };
        let mut slots = None;
        let promise = Promise::new(&mut |resolve, reject| slots = Some((resolve, reject)));
        if let Some(slots) = slots {
            driver::send(&self.shared, chat_id, outgoing, slots);
        }
        promise
    }

    fn rest_promise(&self, method: Method, path: String, body: Option<String>) -> Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            rest::call(&shared, method, &path, body)
                .await
                .map(|data| write_js_camel(&Reparsed(&data)))
                .map_err(|e| api_error(&e))
        })
    }
}
