//! The one driver: owns every browser handle (socket, timers, listeners, locks, tab
//! channel, token store, fetches) and the three machines — the connection, the rotation
//! flow and the tab coordinator. It feeds them inputs, runs their effects, and returns
//! the results of asynchronous effects to them as inputs. It decides nothing itself.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::AbortController;

use crate::api::{classify_refresh, refresh_request, BaseUrl, HttpOutcome};
use crate::auth::{News, Outcome, RefreshReport, Rotation, RotationEffect, StartError, Trigger};
use crate::platform::coordination::{
    has_broadcast_channel, has_web_locks, release_lease, renew_lease, take_lease, Lease, LockHold,
    TabChannel,
};
use crate::platform::fetch::{self, Body};
use crate::platform::json::{write_js, write_js_camel};
use crate::platform::log::{log, Level};
use crate::platform::message_event::message_js;
use crate::platform::message_store::{CacheWrite, Loaded, MessageStore};
use crate::platform::outbox_store::{OutboxStore, RowWrite};
use crate::platform::socket::{OpenError, Socket, SocketEvent};
use crate::platform::token_store::TokenStore;
use crate::platform::{monotonic_ms, now, now_ms, page_visible, Listener};
use crate::protocol::ids;
use crate::session::{
    stored_message_id, Action, Connection, Entropy, Now, OutboxRow, Outgoing, RowError, SendError,
    SendErrorKind, SystemEntropy, Wake,
};
use crate::small_map::SmallMap;
use crate::store::history_page::PageQuery;
use crate::store::message_cache::{self, Entry};
use crate::store::StoredSession;
use crate::tabs::{
    Coordinator, Effect as TabEffect, EventJson, RelayedSend, Role, TabWire, FORWARDED_EVENTS,
};

use super::convert::{parse_json, send_error};
use super::events::Emitter;
use super::jobs::{Job, JobQueue};

/// How often the connection's tick runs.
const TICK_MS: u32 = 1_000;

/// The clocks the connection machine runs on: monotonic for durations, wall for
/// timestamps.
fn connection_now() -> Now {
    now()
}

/// The refresh lock, held or requested.
enum RefreshLock {
    /// A Web Lock.
    Web(LockHold),
    /// The IndexedDB lease, with its owner id and a flag that stops waiting for it.
    Lease {
        owner: String,
        cancelled: Rc<Cell<bool>>,
    },
}

/// A job of the outbox store, run in order by one worker per driver.
enum RowJob {
    /// A row change (the machine's `PersistRow` / `RemoveRow`).
    Write(RowWrite),
    /// Load the stored rows into the machine (this tab leads the account).
    Restore,
    /// Resolve `pending()` with the stored rows.
    Report(Function),
}

/// A job of the message cache, run in order by one worker per driver.
enum CacheJob {
    /// Store or delete a message (a batch of them goes in one transaction).
    Write(CacheWrite),
    /// Resolve with a page of a chat's cached messages (`store::history_page`).
    Page {
        chat_id: String,
        before: Option<String>,
        limit: usize,
        resolve: Function,
    },
}

/// Everything the driver owns.
pub(super) struct Driver {
    /// The connection machine.
    pub machine: Connection<SystemEntropy>,
    /// The rotation flow machine.
    pub rotation: Rotation,
    /// The tab coordinator machine.
    pub tabs: Coordinator,
    socket: Option<Socket>,
    generation: u64,
    /// A replaced socket still being read until the server closes it, and its generation.
    draining: Option<(u64, Socket)>,
    reconnect: Option<Timeout>,
    /// The WebSocket class from the `transport` option (else the global one).
    pub transport: Option<Function>,
    tick: Option<Interval>,
    /// online / visibilitychange / pageshow / focus: the connection re-checks its socket;
    /// visibilitychange / freeze / pagehide: the store workers stop waiting.
    wakers: Vec<Listener>,
    wake: Vec<Listener>,
    timer: Option<(i64, Timeout)>,
    /// The timer of the connection's deadline (held stream updates).
    connection_timer: Option<(i64, Timeout)>,
    channel: Option<TabChannel>,
    leader_lock: Option<LockHold>,
    refresh_lock: Option<(u64, RefreshLock)>,
    requests: SmallMap<u64, AbortController>,
    /// Where the session is persisted.
    pub store: TokenStore,
    /// Where queued sends are persisted (beside the session).
    outbox: OutboxStore,
    /// Outbox jobs not yet run.
    row_jobs: JobQueue<RowJob>,
    /// Where messages are cached (beside the session), how many per chat, the jobs not
    /// yet run.
    messages: MessageStore,
    /// Messages kept per chat in the cache.
    pub cache_capacity: usize,
    cache_jobs: JobQueue<CacheJob>,
    /// The rows of sends not yet acked, by message id: an acked one is cached as ours.
    unacked: SmallMap<String, OutboxRow>,
    emitter: Emitter,
    /// Sends the app awaits, by message id: their chat, and the promise's settlers.
    pending: SmallMap<String, (String, Function, Function)>,
    /// Refreshes waited for: who waits, and what asked.
    waiters: SmallMap<u64, (Function, &'static str)>,
    next_ticket: u64,
    /// REST base URL.
    pub base: BaseUrl,
    /// Log threshold.
    pub level: Level,
    /// The store key and channel name of the account.
    pub account_key: String,
    /// The session from the options (until `connect()` reconciled it with the store).
    pub offered: Option<StoredSession>,
    /// A device id override for the socket and REST.
    pub device_override: Option<String>,
    /// Said once at `connect()` (the storage fallback).
    pub startup_warning: Option<String>,
    loaded: bool,
}

impl Job for RowJob {
    type Write = RowWrite;

    /// A row to store holds its send back, a read its answer; a removal waits (to share
    /// the transaction of the next send's row, when the app sends on each ack).
    fn urgent(&self) -> bool {
        !matches!(self, RowJob::Write(RowWrite::Remove(_)))
    }

    fn into_write(self) -> Option<RowWrite> {
        match self {
            RowJob::Write(write) => Some(write),
            RowJob::Restore | RowJob::Report(_) => None,
        }
    }
}

impl Job for CacheJob {
    type Write = CacheWrite;

    /// Reads and the logout's clear go at once; messages to cache wait for company.
    fn urgent(&self) -> bool {
        !matches!(
            self,
            CacheJob::Write(CacheWrite::Put(_) | CacheWrite::Remove(..))
        )
    }

    fn into_write(self) -> Option<CacheWrite> {
        match self {
            CacheJob::Write(write) => Some(write),
            CacheJob::Page { .. } => None,
        }
    }
}

/// How long outbox removals wait for the next send's row in IndexedDB: until the end of
/// this task (an app that sends on each ack sends within it). Memory stores do not wait:
/// their writes cost nothing to batch, and an edge runtime may cancel a timer with the
/// request that set it.
const ROW_PATIENCE_MS: u32 = 0;

/// How long messages to cache in IndexedDB wait for more (a burst of inbound or acked
/// messages goes in one transaction instead of one each, which a send's row would queue
/// behind). A hidden page does not wait; the page hiding, freezing or going away ends a
/// wait.
const CACHE_PATIENCE_MS: u32 = 50;

impl Drop for Driver {
    /// The client was freed: every promise the app awaits settles (a refresh waiting for
    /// its turn with a `skipped` report; a send, once what the store workers had not
    /// taken yet is written, with a `freed` `SendError`), and `pending()` is answered
    /// from the store.
    fn drop(&mut self) {
        // The fallback lease is given back, and a wait for it stops (a Web Lock's request
        // is aborted with its hold).
        if let Some((_, RefreshLock::Lease { owner, cancelled })) = &self.refresh_lock {
            cancelled.set(true);
            let (name, owner) = (lock_name(self), owner.clone());
            spawn_local(async move { release_lease(&name, &owner).await });
        }
        for (_, (resolve, trigger)) in self.waiters.drain() {
            let report = RefreshReport {
                outcome: Outcome::Skipped,
                trigger,
                reason: Some("the client was freed".into()),
            };
            let _ = resolve.call1(&JsValue::NULL, &write_js(&report));
        }
        let freed: Vec<(Function, JsValue)> = self
            .pending
            .drain()
            .map(|(message_id, (chat_id, _, reject))| {
                let failure = SendError {
                    kind: SendErrorKind::Freed,
                    code: None,
                    reason: FREED_SEND.into(),
                    message_id,
                    chat_id,
                    trace_id: String::new(),
                };
                (reject, send_error(&failure))
            })
            .collect();
        let rows = self.row_jobs.drain();
        // The cache has writes only: a read's `history()` holds the driver.
        let cached: Vec<CacheWrite> = self
            .cache_jobs
            .drain()
            .into_iter()
            .filter_map(Job::into_write)
            .collect();
        let (outbox, messages) = (self.outbox.clone(), self.messages.clone());
        let (key, capacity) = (std::mem::take(&mut self.account_key), self.cache_capacity);
        spawn_local(async move {
            rows_alone(&outbox, &key, rows).await;
            for (reject, failure) in freed {
                let _ = reject.call1(&JsValue::NULL, &failure);
            }
            if !cached.is_empty() {
                let _ = messages.write(&key, cached, capacity).await;
            }
        });
    }
}

/// The app freed its client: its handlers go (the driver itself goes with its last
/// holder, see `Drop for Driver`).
pub(super) fn freed(shared: &Shared) {
    if let Ok(mut d) = shared.try_borrow_mut() {
        d.emitter = Emitter::default();
    }
}

/// Why a send's promise rejects when its client is freed.
const FREED_SEND: &str = "the client was freed before the send ended: if it was stored (or taken by the tab that leads the account) it still goes, else it is lost";

/// The driver, shared by the facade and every callback.
pub(super) type Shared = Rc<RefCell<Driver>>;

/// One unit of work, run with the driver unborrowed (handlers may call the client).
enum Work {
    Conn(Action),
    Rot(RotationEffect),
    Tab(TabEffect),
    /// An event: relayed to the followers, then given to this tab's handlers.
    Emit(&'static str, JsValue),
    /// This tab's handlers of an event (a throw is logged).
    Notify(&'static str, Vec<Function>, JsValue),
    Call(Function, JsValue),
}

/// A plain JS object with these properties (the fixed small event shapes, built without
/// JSON text in between).
fn object(properties: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in properties {
        let _ = js_sys::Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// An event payload as JSON text, for a log line (no `Debug` formatting in the module)
/// or the followers.
fn json_text(value: &JsValue) -> String {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

/// Drops `value` after the current JS task, so a socket or timer is never freed while
/// its own callback is running.
fn drop_later<T: 'static>(value: T) {
    spawn_local(async move { drop(value) });
}

impl Driver {
    /// A driver around its machines, nothing started.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        machine: Connection<SystemEntropy>,
        rotation: Rotation,
        tabs: Coordinator,
        store: TokenStore,
        base: BaseUrl,
        level: Level,
        account_key: String,
        offered: Option<StoredSession>,
        device_override: Option<String>,
        startup_warning: Option<String>,
    ) -> Self {
        let durable = matches!(store, TokenStore::IndexedDb(_));
        Driver {
            machine,
            rotation,
            tabs,
            socket: None,
            generation: 0,
            draining: None,
            reconnect: None,
            transport: None,
            tick: None,
            wakers: Vec::new(),
            wake: Vec::new(),
            timer: None,
            connection_timer: None,
            channel: None,
            leader_lock: None,
            refresh_lock: None,
            requests: SmallMap::default(),
            outbox: OutboxStore::for_tokens(&store),
            row_jobs: JobQueue::new(durable.then_some(ROW_PATIENCE_MS)),
            messages: MessageStore::for_tokens(&store),
            cache_capacity: message_cache::DEFAULT_CAPACITY,
            cache_jobs: JobQueue::new(durable.then_some(CACHE_PATIENCE_MS)),
            unacked: SmallMap::default(),
            store,
            emitter: Emitter::default(),
            pending: SmallMap::default(),
            waiters: SmallMap::default(),
            next_ticket: 0,
            base,
            level,
            account_key,
            offered,
            device_override,
            startup_warning,
            loaded: false,
        }
    }

    /// The session in use, else the offered one.
    pub fn session(&self) -> Option<&StoredSession> {
        self.rotation.session().or(self.offered.as_ref())
    }

    /// The device id used for the socket and REST: the override, else the session's.
    pub fn device_id(&self) -> String {
        self.device_override
            .clone()
            .or_else(|| self.session().map(|s| s.device_id.clone()))
            .unwrap_or_default()
    }

    /// The current access token ("" before a session is loaded or after logout).
    pub fn access_token(&self) -> String {
        self.rotation
            .session()
            .map(|s| s.access_token.clone())
            .unwrap_or_default()
    }

    /// Registers an event handler.
    pub fn on(&mut self, event: &str, handler: Function) -> u32 {
        self.emitter.add(event, handler)
    }

    /// Removes an event handler.
    pub fn off(&mut self, id: u32) {
        self.emitter.remove(id);
    }

    fn retire_socket(&mut self) {
        self.generation += 1;
        if let Some(socket) = self.socket.take() {
            drop_later(socket);
        }
    }
}

/// Runs `step` on the driver (borrowed) and then every piece of work it leads to.
fn run(shared: &Shared, step: impl FnOnce(&mut Driver, i64) -> Vec<Work>) {
    let first = step(&mut shared.borrow_mut(), now_ms());
    run_work(shared, first);
}

/// The loop of [`run`], one copy for every caller (not inlined into each of them).
#[inline(never)]
fn run_work(shared: &Shared, first: Vec<Work>) {
    let mut queue: VecDeque<Work> = first.into();
    while let Some(work) = queue.pop_front() {
        // Depth first: what an effect leads to happens before the next effect.
        for next in perform(shared, work).into_iter().rev() {
            queue.push_front(next);
        }
    }
    rearm(shared);
}

fn conn(actions: Vec<Action>) -> Vec<Work> {
    actions.into_iter().map(Work::Conn).collect()
}

fn rot(effects: Vec<RotationEffect>) -> Vec<Work> {
    effects.into_iter().map(Work::Rot).collect()
}

fn tab(effects: Vec<TabEffect>) -> Vec<Work> {
    effects.into_iter().map(Work::Tab).collect()
}

/// Feeds the connection machine (its clock is [`connection_now`]).
pub(super) fn drive_connection(
    shared: &Shared,
    step: impl FnOnce(&mut Connection<SystemEntropy>, Now) -> Vec<Action>,
) {
    run(shared, |d, _| conn(step(&mut d.machine, connection_now())));
}

/// Feeds the rotation machine.
pub(super) fn drive_rotation(
    shared: &Shared,
    step: impl FnOnce(&mut Rotation, i64) -> Vec<RotationEffect>,
) {
    run(shared, |d, now| rot(step(&mut d.rotation, now)));
}

/// Feeds the tab coordinator.
pub(super) fn drive_tabs(
    shared: &Shared,
    step: impl FnOnce(&mut Coordinator, i64) -> Vec<TabEffect>,
) {
    run(shared, |d, now| tab(step(&mut d.tabs, now)));
}

fn perform(shared: &Shared, work: Work) -> Vec<Work> {
    match work {
        Work::Conn(action) => perform_connection(shared, action),
        Work::Rot(effect) => perform_rotation(shared, effect),
        Work::Tab(effect) => perform_tabs(shared, effect),
        Work::Emit(event, payload) => {
            let mut d = shared.borrow_mut();
            let forward = d
                .tabs
                .on_event(event, || EventJson::from_text(json_text(&payload)));
            // Relayed first: a handler may hand the lock over (`disconnect()`).
            let mut work = tab(forward);
            work.push(Work::Notify(event, d.emitter.handlers(event), payload));
            work
        }
        Work::Notify(event, handlers, payload) => {
            for handler in handlers {
                if handler.call1(&JsValue::NULL, &payload).is_err() {
                    log(
                        shared.borrow().level,
                        Level::Warn,
                        &format!("a {event} handler threw"),
                    );
                }
            }
            Vec::new()
        }
        Work::Call(function, value) => {
            let _ = function.call1(&JsValue::NULL, &value);
            Vec::new()
        }
    }
}

fn perform_connection(shared: &Shared, action: Action) -> Vec<Work> {
    let mut d = shared.borrow_mut();
    match action {
        Action::OpenSocket(url) => open_socket(shared, &mut d, &url),
        Action::ReplaceSocket(url) => {
            if let Some(old) = d.socket.take() {
                let generation = d.generation;
                if let Some((_, older)) = d.draining.replace((generation, old)) {
                    drop_later(older);
                }
            }
            open_socket(shared, &mut d, &url)
        }
        Action::SendText(text) => match d.socket.as_ref().map(|s| s.send(&text)) {
            Some(Ok(())) => Vec::new(),
            // The socket is unusable: the machine reports it and opens another.
            Some(Err(thrown)) => conn(d.machine.on_send_failed(&thrown, connection_now())),
            None => {
                log(d.level, Level::Debug, "frame not written: no socket");
                Vec::new()
            }
        },
        Action::CloseSocket => {
            d.retire_socket();
            Vec::new()
        }
        Action::ArmReconnect(delay) => {
            let weak = Rc::downgrade(shared);
            let timer = Timeout::new(delay, move || {
                with(&weak, |s| {
                    drive_connection(s, |m, _| m.on_reconnect_timer())
                })
            });
            if let Some(old) = d.reconnect.replace(timer) {
                drop_later(old);
            }
            Vec::new()
        }
        Action::State(state) => {
            let value = write_js(&state);
            log(
                d.level,
                Level::Info,
                &format!("state {}", json_text(&value)),
            );
            vec![Work::Emit("state", value)]
        }
        Action::PersistRow(row) => {
            d.unacked.insert(row.message_id.clone(), row.clone());
            queue_row_job(shared, &mut d, RowJob::Write(RowWrite::Put(row)));
            Vec::new()
        }
        Action::RemoveRow(message_id) => {
            queue_row_job(shared, &mut d, RowJob::Write(RowWrite::Remove(message_id)));
            Vec::new()
        }
        Action::Unconfirmed(note) => vec![Work::Emit("unconfirmed", write_js(&note))],
        Action::ReplayDone { timed_out } => {
            log(
                d.level,
                Level::Debug,
                &format!("replay done (timed out: {timed_out})"),
            );
            Vec::new()
        }
        Action::Completed(completion) => {
            let row = d.unacked.remove(&completion.message_id);
            if let (Some(row), Ok(accepted)) = (row, &completion.outcome) {
                cache_sent(shared, &mut d, &row, accepted.accepted_at);
            }
            // Every tab (and a page rebuilt after a reload) hears how each send ended.
            let told = match &completion.outcome {
                Ok(accepted) => Work::Emit("sent", write_js(accepted)),
                Err(failure) => Work::Emit("failed", write_js(failure)),
            };
            let mut work = tab(d
                .tabs
                .on_completed(&completion.message_id, completion.outcome));
            work.push(told);
            work
        }
        Action::Deliver(delivery) => {
            use crate::session::Delivery;
            let (event, payload) = match delivery {
                Delivery::Message(m) => {
                    let payload = message_js(&m);
                    // Only the tab that owns the socket sees this: the cache's one writer.
                    let put = CacheWrite::Put(Entry(m));
                    queue_cache_job(shared, &mut d, CacheJob::Write(put));
                    ("message", payload)
                }
                Delivery::Stream(s) => ("stream", write_js_camel(&s)),
                Delivery::Typing(t) => ("typing", write_js(&t)),
            };
            vec![Work::Emit(event, payload)]
        }
        Action::Error(err) => {
            log(
                d.level,
                Level::Warn,
                &format!("{}: {}", err.kind, err.message),
            );
            vec![Work::Emit("error", write_js(&err))]
        }
        Action::TokenRejected => {
            log(
                d.level,
                Level::Warn,
                "the hub rejected the access token; refreshing",
            );
            rot(d.rotation.request(Trigger::HelloFail, None, now_ms()))
        }
    }
}

/// The `error` event's message when the runtime cannot open a socket at all.
const NO_WEBSOCKET: &str =
    "this runtime has no WebSocket: pass the `transport` option (e.g. the `ws` package's WebSocket)";

fn open_socket(shared: &Shared, d: &mut Driver, url: &str) -> Vec<Work> {
    d.retire_socket();
    let generation = d.generation;
    let weak = Rc::downgrade(shared);
    let transport = d.transport.clone();
    match Socket::open(url, transport.as_ref(), move |event| {
        on_socket(&weak, generation, event)
    }) {
        Ok(socket) => {
            d.socket = Some(socket);
            Vec::new()
        }
        Err(OpenError::NoWebSocket) => {
            // Retrying cannot help: say so once and stay closed.
            let mut work = vec![Work::Emit(
                "error",
                object(&[("kind", "socket".into()), ("message", NO_WEBSOCKET.into())]),
            )];
            work.extend(conn(d.machine.disconnect()));
            work
        }
        Err(OpenError::Failed(message)) => {
            let weak = Rc::downgrade(shared);
            // Treated as a closed socket, after this task: the machine backs off.
            spawn_local(async move {
                with(&weak, |s| {
                    drive_connection(s, |m, now| m.on_close(1006, now))
                });
            });
            vec![Work::Emit(
                "error",
                object(&[("kind", "socket".into()), ("message", message.into())]),
            )]
        }
    }
}

fn with(weak: &Weak<RefCell<Driver>>, f: impl FnOnce(&Shared)) {
    if let Some(shared) = weak.upgrade() {
        f(&shared);
    }
}

fn on_socket(weak: &Weak<RefCell<Driver>>, generation: u64, event: SocketEvent) {
    let Some(shared) = weak.upgrade() else { return };
    let draining = shared
        .borrow()
        .draining
        .as_ref()
        .is_some_and(|(g, _)| *g == generation);
    if draining {
        // The replaced socket: deliver what it still carries; its close is expected.
        match event {
            SocketEvent::Text(text) => drive_connection(&shared, |m, now| m.on_text(&text, now)),
            SocketEvent::Refused => drive_connection(&shared, |m, now| m.on_refused_frame(now)),
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
    drive_connection(&shared, |m, now| match event {
        SocketEvent::Open => m.on_open(now),
        SocketEvent::Text(text) => m.on_text(&text, now),
        SocketEvent::Refused => m.on_refused_frame(now),
        SocketEvent::Closed(code) => m.on_close(code, now),
    });
}

/// Starts this tab's connection: the tick, the wake listeners, then the machine.
fn start_connection(shared: &Shared, d: &mut Driver) -> Vec<Work> {
    if d.tick.is_none() {
        let weak = Rc::downgrade(shared);
        d.tick = Some(Interval::new(TICK_MS, move || {
            with(&weak, |s| drive_connection(s, |m, now| m.on_tick(now)))
        }));
    }
    if d.wakers.is_empty() {
        let waker = |wake: Wake| {
            let weak = Rc::downgrade(shared);
            move || {
                // visibilitychange also fires on hiding: only coming back counts.
                if wake != Wake::Visible || page_visible() {
                    with(&weak, |s| {
                        drive_connection(s, |m, now| m.on_wake(wake, now))
                    })
                }
            }
        };
        let hurry = || {
            let weak = Rc::downgrade(shared);
            move || with(&weak, |s| hurry_stores(&mut s.borrow_mut()))
        };
        d.wakers = [
            Listener::global("online", waker(Wake::Online)),
            Listener::document("visibilitychange", waker(Wake::Visible)),
            Listener::global("pageshow", waker(Wake::PageShow)),
            Listener::global("focus", waker(Wake::Focus)),
            // The page may be going away: what waits for company is written now.
            Listener::document("visibilitychange", hurry()),
            Listener::document("freeze", hurry()),
            Listener::global("pagehide", hurry()),
        ]
        .into_iter()
        .flatten()
        .collect();
    }
    conn(d.machine.connect())
}

/// Queues an outbox job; starts the worker unless it runs.
fn queue_row_job(shared: &Shared, d: &mut Driver, job: RowJob) {
    if !d.row_jobs.push(job) {
        return;
    }
    let (weak, store, key) = (
        Rc::downgrade(shared),
        d.outbox.clone(),
        d.account_key.clone(),
    );
    spawn_local(async move { row_worker(weak, store, key).await });
}

/// The jobs of a store worker's next round, after any wait for company; `None` when the
/// driver is gone or nothing is queued (the worker stops).
async fn next_round<J: Job>(
    weak: &Weak<RefCell<Driver>>,
    queue: fn(&mut Driver) -> &mut JobQueue<J>,
) -> Option<Vec<J>> {
    let wait = weak
        .upgrade()
        .and_then(|s| queue(&mut s.borrow_mut()).wait());
    if let Some(wait) = wait {
        wait.done().await;
    }
    weak.upgrade()
        .and_then(|s| queue(&mut s.borrow_mut()).take())
}

/// Runs the outbox jobs in order: each round writes every queued change in one
/// transaction, then reads the rows if a job wants them. Writes of one message id thus
/// stay in order, and a read sees every earlier write of this tab.
async fn row_worker(weak: Weak<RefCell<Driver>>, store: OutboxStore, key: String) {
    loop {
        let Some(jobs) = next_round(&weak, |d| &mut d.row_jobs).await else {
            return;
        };
        let mut writes = Vec::new();
        let mut reads = Vec::new();
        for job in jobs {
            match job {
                RowJob::Write(write) => writes.push(write),
                read => reads.push(read),
            }
        }
        let written = match writes.is_empty() {
            true => Ok(()),
            false => store.write(&key, &writes).await,
        };
        if written.is_err() {
            // The removals a refused row took along (a full disk refuses new rows, not
            // deletions) go again alone.
            let removals: Vec<RowWrite> = writes
                .iter()
                .filter(|write| matches!(write, RowWrite::Remove(_)))
                .cloned()
                .collect();
            if !removals.is_empty() && removals.len() < writes.len() {
                let _ = store.write(&key, &removals).await;
            }
        }
        let loaded = match reads.is_empty() {
            true => Ok(Vec::new()),
            false => store.load(&key).await,
        };
        let Some(shared) = weak.upgrade() else {
            // Freed meanwhile: `pending()` still gets the stored sends.
            return answer_reports(reads, &stored_sends(loaded.unwrap_or_default()));
        };
        run(&shared, |d, _| {
            rows_done(d, &writes, written, reads, loaded)
        });
    }
}

/// The outbox store answered: saved rows let their sends go (a failed save too, after
/// a warning: the send is kept in memory, never lost or blocked), loaded rows are
/// restored or reported.
fn rows_done(
    d: &mut Driver,
    writes: &[RowWrite],
    written: Result<(), crate::store::StoreError>,
    reads: Vec<RowJob>,
    loaded: Result<Vec<String>, crate::store::StoreError>,
) -> Vec<Work> {
    let mut work = Vec::new();
    if let Err(err) = written {
        work.push(warn(format!(
            "outbox not stored ({err}): queued sends are kept in memory only"
        )));
    }
    for write in writes {
        if let RowWrite::Put(row) = write {
            work.extend(conn(
                d.machine.on_row_saved(&row.message_id, connection_now()),
            ));
        }
    }
    if reads.is_empty() {
        return work;
    }
    let loaded = loaded.unwrap_or_else(|err| {
        work.push(warn(format!("outbox not read: {err}")));
        Vec::new()
    });
    let mut rows = Vec::new();
    for text in loaded {
        match OutboxRow::parse(&text) {
            Ok(row) => rows.push(row),
            Err(err) => {
                work.push(warn(format!("{err}: row dropped")));
                if let Some(id) = stored_message_id(&text) {
                    // This runs inside the worker's round: its next round takes it.
                    d.row_jobs.push(RowJob::Write(RowWrite::Remove(id)));
                }
            }
        }
    }
    for read in reads {
        match read {
            RowJob::Restore => work.extend(restore(d, rows.clone())),
            RowJob::Report(resolve) => {
                let mut listed: Vec<OutboxRow> = rows.clone();
                // Sends kept in memory only (a failed save) are listed too.
                for send in d.machine.pending() {
                    if !listed.iter().any(|r| r.message_id == send.message_id) {
                        listed.push(send.row());
                    }
                }
                work.push(Work::Call(resolve, pending_list(&listed)));
            }
            RowJob::Write(_) => {}
        }
    }
    work
}

/// `pending()`'s answer: the queued sends of `rows`.
fn pending_list(rows: &[OutboxRow]) -> JsValue {
    let views: Vec<_> = rows.iter().map(OutboxRow::pending_send).collect();
    write_js_camel(&views)
}

/// The stored rows that parse (a freed driver's reads: the others are left for the
/// account's next client to drop).
fn stored_sends(loaded: Vec<String>) -> Vec<OutboxRow> {
    loaded
        .iter()
        .filter_map(|text| OutboxRow::parse(text).ok())
        .collect()
}

/// Answers the `pending()` calls among `reads` with `rows` (no driver left).
fn answer_reports(reads: Vec<RowJob>, rows: &[OutboxRow]) {
    for read in reads {
        if let RowJob::Report(resolve) = read {
            let _ = resolve.call1(&JsValue::NULL, &pending_list(rows));
        }
    }
}

/// The outbox jobs a freed driver left: the writes, then `pending()` answered from the
/// store.
async fn rows_alone(store: &OutboxStore, key: &str, jobs: Vec<RowJob>) {
    let (writes, reads): (Vec<RowJob>, Vec<RowJob>) = jobs
        .into_iter()
        .partition(|job| matches!(job, RowJob::Write(_)));
    let writes: Vec<RowWrite> = writes.into_iter().filter_map(Job::into_write).collect();
    if !writes.is_empty() {
        let _ = store.write(key, &writes).await;
    }
    if reads.iter().any(|read| matches!(read, RowJob::Report(_))) {
        let loaded = store.load(key).await.unwrap_or_default();
        answer_reports(reads, &stored_sends(loaded));
    }
}

/// Loads stored rows into the machine while this tab owns the account's connection.
fn restore(d: &mut Driver, rows: Vec<OutboxRow>) -> Vec<Work> {
    if !matches!(d.tabs.role(), Role::Leader | Role::Solo) || d.rotation.logged_out() {
        return Vec::new();
    }
    for row in &rows {
        d.unacked.insert(row.message_id.clone(), row.clone());
    }
    let (skipped, actions) = d.machine.restore(rows, connection_now());
    let mut work = conn(actions);
    let full = skipped
        .iter()
        .filter(|(_, err)| *err == RowError::QueueFull)
        .count();
    if full > 0 {
        work.push(warn(format!(
            "{full} stored sends not loaded: the send queue is full"
        )));
    }
    work
}

/// A `warn` event (and log line).
fn warn(message: String) -> Work {
    Work::Rot(RotationEffect::Warn(message))
}

/// A `warn` event (and log line) from outside the machines.
pub(super) fn warn_app(shared: &Shared, message: String) {
    run(shared, |_, _| vec![warn(message)]);
}

/// Resolves with the account's queued sends (stored, after this tab's pending writes).
pub(super) fn pending(shared: &Shared) -> Promise {
    Promise::new(&mut |resolve, _| {
        let mut d = shared.borrow_mut();
        queue_row_job(shared, &mut d, RowJob::Report(resolve));
    })
}

/// Caches our own send, acked at `accepted_at`, as a message from us. The uplink has no
/// chat type: stored as "direct" (read back as "group" in a group chat, see
/// `store::history_page`).
fn cache_sent(shared: &Shared, d: &mut Driver, row: &OutboxRow, accepted_at: i64) {
    let Some(user_id) = d.session().map(|s| s.user_id.clone()) else {
        return;
    };
    let origin = crate::session::Origin {
        chat_id: row.chat_id.clone(),
        chat_type: crate::protocol::ChatType::Direct,
        sender_name: user_id.clone(),
        sender_id: user_id,
    };
    match Entry::from_sent(&row.frame, origin, accepted_at) {
        Ok(entry) => queue_cache_job(shared, d, CacheJob::Write(CacheWrite::Put(entry))),
        Err(err) => log(
            d.level,
            Level::Debug,
            &format!("sent message not cached: {err}"),
        ),
    }
}

/// Queues a message cache job; starts the worker unless it runs. A write the store can
/// apply at once (the memory store) with nothing queued before it is applied now: a
/// round of its own would cost a task's worth of work a message where each frame comes
/// in a task of its own, as from a socket (`docs/benchmarks.md`, the tenth session).
fn queue_cache_job(shared: &Shared, d: &mut Driver, job: CacheJob) {
    let job = match job {
        CacheJob::Write(write) if d.cache_jobs.idle() => {
            let capacity = d.cache_capacity;
            match d.messages.write_now(&d.account_key, write, capacity) {
                None => return,
                Some(write) => CacheJob::Write(write),
            }
        }
        job => job,
    };
    if !d.cache_jobs.push(job) {
        return;
    }
    let (weak, store, key, capacity) = (
        Rc::downgrade(shared),
        d.messages.clone(),
        d.account_key.clone(),
        d.cache_capacity,
    );
    spawn_local(async move { cache_worker(weak, store, key, capacity).await });
}

/// Runs the message cache jobs in order: each round writes every queued change in one
/// transaction (messages that came in one task go together, off the inbound path),
/// then answers the reads, which thus see every earlier write of this tab.
async fn cache_worker(
    weak: Weak<RefCell<Driver>>,
    store: MessageStore,
    key: String,
    capacity: usize,
) {
    loop {
        let Some(jobs) = next_round(&weak, |d| &mut d.cache_jobs).await else {
            return;
        };
        let mut writes = Vec::new();
        let mut pages = Vec::new();
        for job in jobs {
            match job {
                CacheJob::Write(write) => writes.push(write),
                CacheJob::Page {
                    chat_id,
                    before,
                    limit,
                    resolve,
                } => pages.push((chat_id, before, limit, resolve)),
            }
        }
        let written = match writes.is_empty() {
            true => Ok(()),
            false => store.write(&key, writes, capacity).await,
        };
        let mut reads = Vec::with_capacity(pages.len());
        for (chat_id, before, limit, resolve) in pages {
            let loaded = store.load(&key, &chat_id).await;
            reads.push((chat_id, before, limit, resolve, loaded));
        }
        // A read's `history()` holds the driver until it is answered.
        let Some(shared) = weak.upgrade() else { return };
        run(&shared, |d, _| cache_done(d, written, reads));
    }
}

/// A read of the cache: the chat, `before`, `limit`, who waits, and the chat's messages.
type CacheRead = (
    String,
    Option<String>,
    usize,
    Function,
    Result<Loaded, crate::store::StoreError>,
);

/// The cache answered: a failed write is said (the messages were delivered all the
/// same), each read resolves with its page; a corrupt row is dropped with a warning.
fn cache_done(
    d: &mut Driver,
    written: Result<(), crate::store::StoreError>,
    reads: Vec<CacheRead>,
) -> Vec<Work> {
    let mut work = Vec::new();
    if let Err(err) = written {
        work.push(warn(format!("messages not cached: {err}")));
    }
    let own_user_id = d.session().map(|s| s.user_id.clone()).unwrap_or_default();
    for (chat_id, before, limit, resolve, loaded) in reads {
        let loaded = loaded.unwrap_or_else(|err| {
            work.push(warn(format!("message cache not read: {err}")));
            Loaded::Entries(Vec::new())
        });
        // A store holds a chat past its capacity until it trims it; reads hold to it.
        let query = PageQuery {
            before: before.as_deref(),
            limit,
            capacity: d.cache_capacity,
        };
        let page = loaded.page(&chat_id, &own_user_id, query);
        // Removal goes by id: where another copy reads, the latest is stored again.
        for (message_id, err) in page.corrupt {
            work.push(warn(format!("{err}: row dropped")));
            let remove = CacheWrite::Remove(chat_id.clone(), message_id);
            d.cache_jobs.push(CacheJob::Write(remove));
        }
        for entry in page.good_copies {
            d.cache_jobs.push(CacheJob::Write(CacheWrite::Put(entry)));
        }
        let messages: Vec<_> = page.entries.iter().map(|entry| &entry.0).collect();
        work.push(Work::Call(resolve, write_js_camel(&messages)));
    }
    work
}

/// Resolves with a page of `chat_id`'s cached messages (oldest first), after this tab's
/// queued cache writes.
pub(super) fn cached_page(
    shared: &Shared,
    chat_id: String,
    before: Option<String>,
    limit: usize,
) -> Promise {
    Promise::new(&mut |resolve, _| {
        let mut d = shared.borrow_mut();
        let page = CacheJob::Page {
            chat_id: chat_id.clone(),
            before: before.clone(),
            limit,
            resolve,
        };
        queue_cache_job(shared, &mut d, page);
    })
}

/// Stores messages fetched from the server (any tab may: a put of the same message is
/// the same row).
pub(super) fn cache_fetched(shared: &Shared, entries: Vec<Entry>) {
    let mut d = shared.borrow_mut();
    for entry in entries {
        queue_cache_job(shared, &mut d, CacheJob::Write(CacheWrite::Put(entry)));
    }
}

/// Stops the connection's handles (disconnect, logout).
fn stop_connection(d: &mut Driver) {
    if let Some(timer) = d.reconnect.take() {
        drop_later(timer);
    }
    if let Some(tick) = d.tick.take() {
        drop_later(tick);
    }
    if let Some((_, socket)) = d.draining.take() {
        drop_later(socket);
    }
    d.wakers.clear();
    hurry_stores(d);
}

/// Ends the store workers' waits: queued removals and messages are written now.
fn hurry_stores(d: &mut Driver) {
    d.row_jobs.hurry();
    d.cache_jobs.hurry();
}

/// What an asynchronous effect of the rotation flow feeds back to it.
type RotationStep = Box<dyn FnOnce(&mut Rotation, i64) -> Vec<RotationEffect>>;

/// Runs `future` and feeds its result to the rotation machine.
fn spawn_rotation<F>(shared: &Shared, future: F)
where
    F: std::future::Future<Output = RotationStep> + 'static,
{
    spawn_rotation_boxed(shared, Box::pin(future));
}

/// [`spawn_rotation`] once for every future.
fn spawn_rotation_boxed(
    shared: &Shared,
    future: std::pin::Pin<Box<dyn std::future::Future<Output = RotationStep>>>,
) {
    // Held until fed: the save of a rotated pair ends before the driver (and the refresh
    // lock it holds) can go.
    let shared = shared.clone();
    spawn_local(async move {
        let step = future.await;
        drive_rotation(&shared, step);
    });
}

fn lock_name(d: &Driver) -> String {
    format!("clawchat-refresh:{}", d.account_key)
}

fn perform_rotation(shared: &Shared, effect: RotationEffect) -> Vec<Work> {
    let mut d = shared.borrow_mut();
    let now = now_ms();
    match effect {
        RotationEffect::AcquireLock { flow } => {
            let name = lock_name(&d);
            if has_web_locks() {
                let weak = Rc::downgrade(shared);
                let granted = move || {
                    with(&weak, |s| {
                        drive_rotation(s, |r, now| r.on_lock(flow, true, now))
                    })
                };
                match LockHold::request(&name, granted) {
                    Some(hold) => d.refresh_lock = Some((flow, RefreshLock::Web(hold))),
                    None => return rot(d.rotation.on_lock(flow, false, now)),
                }
            } else {
                let owner = format!("{:032x}", SystemEntropy.next_u128());
                let cancelled = Rc::new(Cell::new(false));
                let ttl = d.rotation.config().lease_ttl_ms as f64;
                d.refresh_lock = Some((
                    flow,
                    RefreshLock::Lease {
                        owner: owner.clone(),
                        cancelled: cancelled.clone(),
                    },
                ));
                // Not held by the wait for its turn: a freed client's refresh that sent
                // nothing yet ends with it.
                let weak = Rc::downgrade(shared);
                spawn_local(async move {
                    let lease = take_lease(&name, &owner, ttl, cancelled).await;
                    with(&weak, |s| {
                        drive_rotation(s, |r, now| match lease {
                            Lease::Taken | Lease::Unguarded => r.on_lock(flow, true, now),
                            Lease::Cancelled => Vec::new(),
                        })
                    });
                });
            }
            Vec::new()
        }
        RotationEffect::RenewLock { flow } => {
            if let Some((held, RefreshLock::Lease { owner, .. })) = &d.refresh_lock {
                if *held == flow {
                    let (name, owner) = (lock_name(&d), owner.clone());
                    let ttl = d.rotation.config().lease_ttl_ms as f64;
                    spawn_local(async move { renew_lease(&name, &owner, ttl).await });
                }
            }
            Vec::new()
        }
        RotationEffect::ReleaseLock { flow } => {
            if d.refresh_lock
                .as_ref()
                .is_some_and(|(held, _)| *held == flow)
            {
                let name = lock_name(&d);
                match d.refresh_lock.take().map(|(_, lock)| lock) {
                    Some(RefreshLock::Web(hold)) => drop_later(hold),
                    Some(RefreshLock::Lease { owner, cancelled }) => {
                        cancelled.set(true);
                        spawn_local(async move { release_lease(&name, &owner).await });
                    }
                    None => {}
                }
            }
            Vec::new()
        }
        RotationEffect::Read { flow, purpose } => {
            let (store, key) = (d.store.clone(), d.account_key.clone());
            spawn_rotation(shared, async move {
                let result = store.load(&key).await;
                Box::new(move |r: &mut Rotation, now| r.on_read(flow, purpose, result, now))
                    as Box<dyn FnOnce(&mut Rotation, i64) -> Vec<RotationEffect>>
            });
            Vec::new()
        }
        RotationEffect::Request {
            flow,
            refresh_token,
            device_id,
        } => {
            let request = match refresh_request(&d.base, &refresh_token, &device_id) {
                Ok(request) => request,
                Err(result) => return rot(d.rotation.on_answer(flow, result, now)),
            };
            let Ok(controller) = AbortController::new() else {
                let result = classify_refresh(HttpOutcome::Failed {
                    message: "no AbortController",
                });
                return rot(d.rotation.on_answer(flow, result, now));
            };
            d.requests.insert(flow, controller.clone());
            // The driver lives until the answer is in: a pair the server rotated is the
            // truth from then on, and is saved even if the client was freed meanwhile.
            let shared = shared.clone();
            spawn_local(async move {
                let answer = fetch::run_with(&request, Body::Json, controller).await;
                let outcome = match &answer {
                    Ok(answer) => HttpOutcome::Response {
                        status: answer.status,
                        body: &answer.body,
                    },
                    Err(message) => HttpOutcome::Failed { message },
                };
                let result = classify_refresh(outcome);
                let date = answer.as_ref().ok().and_then(|a| a.date_ms);
                shared.borrow_mut().requests.remove(&flow);
                drive_rotation(&shared, |r, now| {
                    if let Some(date) = date {
                        r.on_server_date(date, now);
                    }
                    r.on_answer(flow, result, now)
                });
            });
            Vec::new()
        }
        RotationEffect::AbortRequest { flow } => {
            if let Some(controller) = d.requests.remove(&flow) {
                controller.abort();
            }
            Vec::new()
        }
        RotationEffect::Save { flow, session } => {
            let store = d.store.clone();
            spawn_rotation(shared, async move {
                let result = store.save(&session).await;
                Box::new(move |r: &mut Rotation, now| r.on_saved(flow, result, now))
                    as Box<dyn FnOnce(&mut Rotation, i64) -> Vec<RotationEffect>>
            });
            Vec::new()
        }
        RotationEffect::Clear { flow } => {
            let (store, key) = (d.store.clone(), d.account_key.clone());
            spawn_rotation(shared, async move {
                let result = store.clear(&key).await;
                Box::new(move |r: &mut Rotation, _| r.on_cleared(flow, result))
                    as Box<dyn FnOnce(&mut Rotation, i64) -> Vec<RotationEffect>>
            });
            Vec::new()
        }
        RotationEffect::Use(session) => {
            let device = d.device_id();
            let token = session.access_token.clone();
            d.machine
                .set_identity(&session.user_id, &device, token.clone());
            let mut work = conn(d.machine.reconnect_with_token(token, connection_now()));
            let expires_at =
                crate::auth::schedule::expiry_ms(&session.access_token, Some(session.activated_at));
            work.push(Work::Emit(
                "tokens",
                object(&[(
                    "expiresAt",
                    expires_at.map_or(JsValue::NULL, |ms| (ms as f64).into()),
                )]),
            ));
            work
        }
        RotationEffect::Connect => start_connection(shared, &mut d),
        RotationEffect::Broadcast(news) => {
            let message = match news {
                News::Rotated => TabWire::Rotated,
                News::LoggedOut { code, reason } => TabWire::LoggedOut { code, reason },
            };
            if let Some(channel) = &d.channel {
                channel.post(&message);
            }
            Vec::new()
        }
        RotationEffect::Report {
            tickets,
            announce,
            report,
        } => {
            let value = write_js(&report);
            let mut work: Vec<Work> = tickets
                .iter()
                .filter_map(|t| d.waiters.remove(t))
                .map(|(resolve, _)| Work::Call(resolve, value.clone()))
                .collect();
            if announce {
                log(
                    d.level,
                    Level::Info,
                    &format!("refresh: {}", json_text(&value)),
                );
                work.push(Work::Emit("refresh", value));
            }
            work
        }
        RotationEffect::LoggedOut { code, reason } => {
            log(
                d.level,
                Level::Warn,
                &format!("logged out: {code} {reason}"),
            );
            d.wake.clear();
            if let Some((_, timer)) = d.timer.take() {
                drop_later(timer);
            }
            // The account's cached messages go with its credentials.
            queue_cache_job(shared, &mut d, CacheJob::Write(CacheWrite::Clear));
            let mut work = conn(d.machine.deliver_held());
            work.extend(tab(d.tabs.stop("logged out")));
            work.extend(conn(d.machine.logout(&reason)));
            stop_connection(&mut d);
            work.push(Work::Emit(
                "logout",
                object(&[("code", (code as f64).into()), ("reason", reason.into())]),
            ));
            work
        }
        RotationEffect::Warn(message) => {
            log(d.level, Level::Warn, &message);
            vec![Work::Emit("warn", object(&[("message", message.into())]))]
        }
    }
}

fn perform_tabs(shared: &Shared, effect: TabEffect) -> Vec<Work> {
    let mut d = shared.borrow_mut();
    let now = now_ms();
    match effect {
        TabEffect::Post(message) => {
            if let Some(channel) = &d.channel {
                channel.post(&message);
            }
            Vec::new()
        }
        TabEffect::RequestLeadership { request } => {
            let weak = Rc::downgrade(shared);
            let name = format!("clawchat-leader:{}", d.account_key);
            d.leader_lock = LockHold::request(&name, move || {
                with(&weak, |s| drive_tabs(s, |t, _| t.on_leadership(request)))
            });
            Vec::new()
        }
        TabEffect::ReleaseLeadership => {
            // What this leader relayed goes out before the next leader can take over.
            if let Some(channel) = &d.channel {
                channel.flush();
            }
            if let Some(hold) = d.leader_lock.take() {
                drop_later(hold);
            }
            rot(d.rotation.set_in_charge(false, now))
        }
        TabEffect::Role(role) => vec![Work::Emit(
            "role",
            object(&[("role", role.as_str().into())]),
        )],
        TabEffect::Lead { solo } => {
            if solo {
                let suffix = ids::trace_id(0, SystemEntropy.next_u128())[20..].to_ascii_lowercase();
                let sibling = format!("{}-{suffix}", d.device_id());
                d.device_override.get_or_insert(sibling);
                log(
                    d.level,
                    Level::Info,
                    "no Web Locks or BroadcastChannel: this tab connects alone",
                );
            }
            let device = d.device_id();
            if let Some(session) = d.rotation.session().cloned() {
                d.machine
                    .set_identity(&session.user_id, &device, session.access_token);
            }
            // Sends stored by an earlier page or the previous leader go out again.
            queue_row_job(shared, &mut d, RowJob::Restore);
            rot(d.rotation.set_in_charge(true, now))
        }
        TabEffect::WriteLocal(send) => {
            let outgoing = Outgoing {
                fragments: send.fragments,
                reply: send.reply,
                message_id: Some(send.message_id),
            };
            conn(d.machine.send(&send.chat_id, outgoing, connection_now()).1)
        }
        TabEffect::TypeLocal { chat_id, is_typing } => {
            conn(d.machine.set_typing(&chat_id, is_typing, connection_now()))
        }
        TabEffect::Settle {
            message_id,
            outcome,
        } => {
            let Some((_, resolve, reject)) = d.pending.remove(&message_id) else {
                return Vec::new();
            };
            match outcome {
                Ok(accepted) => vec![Work::Call(resolve, write_js(&accepted))],
                Err(failure) => {
                    let note = format!("send {} failed: {}", failure.message_id, failure.reason);
                    log(d.level, Level::Info, &note);
                    vec![Work::Call(reject, send_error(&failure))]
                }
            }
        }
        TabEffect::Emit { name, payload } => {
            let Some(name) = FORWARDED_EVENTS.iter().find(|n| **n == name) else {
                return Vec::new();
            };
            let value = parse_json(&payload);
            if *name == "message" && !first_sighting(&mut d.machine, &value) {
                return Vec::new();
            }
            d.emitter
                .handlers(name)
                .into_iter()
                .map(|h| Work::Call(h, value.clone()))
                .collect()
        }
        TabEffect::AnnounceState => {
            if let Some(channel) = &d.channel {
                channel.post(&TabWire::Event {
                    name: "state".into(),
                    payload: EventJson::of(d.machine.state()),
                });
            }
            Vec::new()
        }
        TabEffect::Rotated => rot(d.rotation.on_rotated_elsewhere()),
        TabEffect::LoggedOut { code, reason } => {
            rot(d.rotation.on_logged_out_elsewhere(code, &reason))
        }
    }
}

/// A relayed `message` event's id through this tab's dedupe window: false for one this
/// tab delivered already (its own connection replayed it after a hand-over).
fn first_sighting(machine: &mut Connection<SystemEntropy>, message: &JsValue) -> bool {
    js_sys::Reflect::get(message, &"messageId".into())
        .ok()
        .and_then(|id| id.as_string())
        .is_none_or(|id| machine.delivered_elsewhere(&id))
}

/// Arms one timer at the earliest deadline of the rotation flow and the coordinator
/// (wall clock), and one at the connection's (monotonic clock).
fn rearm(shared: &Shared) {
    let mut d = shared.borrow_mut();
    let at = [d.rotation.poll_timeout(), d.tabs.poll_timeout()]
        .into_iter()
        .flatten()
        .min();
    arm(shared, &mut d.timer, at, now_ms, |s| {
        if let Some((_, fired)) = s.borrow_mut().timer.take() {
            drop_later(fired);
        }
        on_deadline(s);
    });
    let at = d.machine.poll_timeout();
    arm(shared, &mut d.connection_timer, at, monotonic_ms, |s| {
        if let Some((_, fired)) = s.borrow_mut().connection_timer.take() {
            drop_later(fired);
        }
        drive_connection(s, |m, now| m.on_timeout(now));
    });
}

/// Arms `slot` to `fire` at `at` (read against `clock`), unless it is armed for it.
fn arm(
    shared: &Shared,
    slot: &mut Option<(i64, Timeout)>,
    at: Option<i64>,
    clock: fn() -> i64,
    fire: fn(&Shared),
) {
    if slot.as_ref().map(|(a, _)| *a) == at {
        return;
    }
    if let Some((_, old)) = slot.take() {
        drop_later(old);
    }
    if let Some(at) = at {
        let delay = (at - clock()).clamp(0, i64::from(i32::MAX)) as u32;
        let weak = Rc::downgrade(shared);
        *slot = Some((at, Timeout::new(delay, move || with(&weak, fire))));
    }
}

/// A deadline passed (or the page woke up): let the machines look at the time.
fn on_deadline(shared: &Shared) {
    run(shared, |d, now| {
        let mut work = rot(d.rotation.on_timeout(now));
        work.extend(tab(d.tabs.on_timeout(now)));
        work
    });
    drive_connection(shared, |m, now| m.on_timeout(now));
}

/// Loads the session (once), joins the account's channel, listens for wake-ups and
/// starts taking part in the account's tabs.
pub(super) async fn connect(shared: &Shared) -> Result<(), String> {
    if shared.borrow().rotation.logged_out() {
        return Err("logged out: sign in again".into());
    }
    if !shared.borrow().loaded {
        let (store, key) = {
            let d = shared.borrow();
            (d.store.clone(), d.account_key.clone())
        };
        let stored = store.load(&key).await;
        let warning = shared.borrow_mut().startup_warning.take();
        if let Some(message) = warning {
            run(shared, |_, _| {
                vec![Work::Rot(RotationEffect::Warn(message))]
            });
        }
        let started = {
            let mut d = shared.borrow_mut();
            let offered = d.offered.take();
            let started = d.rotation.start(stored, offered.clone());
            if started.is_err() {
                d.offered = offered;
            } else {
                d.loaded = true;
            }
            started
        };
        let effects = started.map_err(|StartError(message)| message)?;
        run(shared, |_, _| rot(effects));
        join_channel(shared);
        listen_for_wake(shared);
    }
    let coordinate = has_web_locks() && has_broadcast_channel();
    drive_tabs(shared, |t, _| t.start(coordinate));
    Ok(())
}

fn join_channel(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let name = format!("clawchat:{}", shared.borrow().account_key);
    let channel = TabChannel::join(&name, move |message: TabWire| {
        with(&weak, |s| drive_tabs(s, |t, now| t.on_wire(message, now)))
    });
    shared.borrow_mut().channel = channel;
}

/// Timers are unreliable in background tabs and after sleep: deadlines are re-checked
/// when the page becomes visible, gets focus, or the network returns.
fn listen_for_wake(shared: &Shared) {
    let make = |shared: &Shared| {
        let weak = Rc::downgrade(shared);
        move || with(&weak, on_deadline)
    };
    let listeners = [
        Listener::document("visibilitychange", make(shared)),
        Listener::global("focus", make(shared)),
        Listener::global("online", make(shared)),
        Listener::global("pageshow", make(shared)),
    ];
    shared.borrow_mut().wake = listeners.into_iter().flatten().collect();
}

/// Closes the connection; a leader hands it to another tab (its followers' relayed sends
/// go to the next leader), and this tab's pending sends fail.
pub(super) fn disconnect(shared: &Shared) {
    // Held stream updates go first, relayed while this tab still leads.
    drive_connection(shared, |m, _| m.deliver_held());
    run(shared, |d, _| {
        let mut work = tab(d.tabs.stop("disconnected by the app"));
        work.extend(conn(d.machine.disconnect()));
        stop_connection(d);
        work
    });
}

/// The app logs out in every tab.
pub(super) fn logout(shared: &Shared) {
    drive_rotation(shared, |r, _| r.logout("logged out by the app"));
}

/// A REST answer's `Date`: a sample of the server's clock for the refresh schedule.
pub(super) fn server_date(shared: &Shared, date_ms: Option<i64>) {
    if let Some(date) = date_ms {
        shared.borrow_mut().rotation.on_server_date(date, now_ms());
    }
}

/// Runs (or joins) a refresh; true when the client now holds a fresh pair.
pub(super) async fn refresh(shared: &Shared, trigger: Trigger) -> bool {
    let value = JsFuture::from(refresh_promise(shared, trigger))
        .await
        .unwrap_or(JsValue::NULL);
    let outcome = js_sys::Reflect::get(&value, &"outcome".into())
        .ok()
        .and_then(|o| o.as_string());
    matches!(outcome.as_deref(), Some("success" | "adopted"))
}

/// Registers a refresh waiter and returns the promise the app gets.
pub(super) fn refresh_promise(shared: &Shared, trigger: Trigger) -> Promise {
    let mut ticket = 0;
    let promise = Promise::new(&mut |resolve, _| {
        let mut d = shared.borrow_mut();
        d.next_ticket += 1;
        ticket = d.next_ticket;
        d.waiters.insert(ticket, (resolve, trigger.name()));
    });
    drive_rotation(shared, |r, now| r.request(trigger, Some(ticket), now));
    promise
}

/// Sends through the tab coordinator: a follower relays, a leader writes. The promise is
/// settled by the send's outcome.
pub(super) fn send(
    shared: &Shared,
    chat_id: &str,
    outgoing: Outgoing,
    slots: (Function, Function),
) {
    let message_id = outgoing
        .message_id
        .filter(|id| ids::is_message_id(id))
        .unwrap_or_else(|| ids::message_id(now_ms().max(0) as u64, SystemEntropy.next_u128()));
    let (resolve, reject) = slots;
    let mut d = shared.borrow_mut();
    if d.pending.contains_key(&message_id) {
        // Its first send's promise stays the one its outcome settles.
        let failure = SendError {
            kind: SendErrorKind::Invalid,
            code: None,
            reason: "a send with this message id is already pending".into(),
            message_id,
            chat_id: chat_id.to_owned(),
            trace_id: String::new(),
        };
        let _ = reject.call1(&JsValue::NULL, &send_error(&failure));
        return;
    }
    d.pending
        .insert(message_id.clone(), (chat_id.to_owned(), resolve, reject));
    drop(d);
    let send = RelayedSend {
        message_id,
        chat_id: chat_id.to_owned(),
        fragments: outgoing.fragments,
        reply: outgoing.reply,
    };
    drive_tabs(shared, |t, now| t.send(send, now));
}

/// The connection state as the app sees it (a follower shows its leader's).
pub(super) fn state(shared: &Shared) -> JsValue {
    let d = shared.borrow();
    match (d.tabs.role(), d.tabs.leader_state()) {
        (Role::Follower, Some(state)) => parse_json(state),
        (Role::Follower, None) => object(&[("state", "connecting".into()), ("attempt", 0.into())]),
        _ => write_js(d.machine.state()),
    }
}
