//! The token lifecycle in the browser: load and persist the session, refresh under a
//! cross-tab lock with a store re-read, persist-then-swap, tell other tabs, log out.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use js_sys::Promise;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::api::{
    classify_refresh, refresh_request, BaseUrl, HttpOutcome, RefreshResult, TokenPair,
};
use crate::auth::schedule::{expiry_ms, is_due, jitter_from_fraction};
use crate::auth::{Decision, Next, Trigger};
use crate::platform::coordination::{with_lock, TabChannel, TabMessage};
use crate::platform::fetch::{self, Body};
use crate::platform::log::{log, Level};
use crate::platform::token_store::TokenStore;
use crate::platform::{now_ms, page_visible, Listener};
use crate::session::{Entropy, SystemEntropy};
use crate::store::StoredSession;

use super::client::{drive, drop_later, emit, run_effects, Shared};
use super::convert::{error, to_js};
use super::leadership::{self, Role};

/// What a refresh request came to, as the app sees it (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshReport {
    /// `success`, `adopted` (another tab rotated), `transient`, `permanent` or `skipped`.
    pub outcome: String,
    /// What asked for it.
    pub trigger: String,
    /// Why, for anything but success.
    pub reason: Option<String>,
}

impl RefreshReport {
    fn new(outcome: &str, trigger: Trigger, reason: Option<String>) -> Self {
        RefreshReport {
            outcome: outcome.into(),
            trigger: trigger_name(trigger).into(),
            reason,
        }
    }

    /// True when the client now holds a fresh pair.
    pub fn succeeded(&self) -> bool {
        self.outcome == "success" || self.outcome == "adopted"
    }
}

fn trigger_name(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Proactive => "proactive",
        Trigger::PreConnect => "pre_connect",
        Trigger::HelloFail => "hello_fail",
        Trigger::RestUnauthorized => "rest_unauthorized",
        Trigger::Wake => "wake",
        Trigger::Manual => "manual",
        Trigger::Retry => "retry",
    }
}

/// What happened under the lock.
enum Locked {
    /// Another tab had already rotated: the stored pair is newer than ours.
    Adopted(StoredSession),
    /// We rotated and persisted.
    Rotated(StoredSession),
    /// We rotated but could not persist: do not swap.
    PersistFailed(String),
    /// Not rotated (transient or permanent).
    Refused(RefreshResult),
}

fn emit_now(shared: &Shared, event: &'static str, payload: JsValue) {
    let mut effects = Vec::new();
    emit(event, payload, &mut effects);
    run_effects(shared, effects);
}

fn emit_tokens(shared: &Shared) {
    let expires_at = {
        let inner = shared.borrow();
        inner
            .session
            .as_ref()
            .and_then(|s| expiry_ms(&s.access_token, Some(s.activated_at)))
    };
    emit_now(
        shared,
        "tokens",
        to_js(&serde_json::json!({ "expiresAt": expires_at })),
    );
}

/// Puts `session` in use: the machine connects with its token from now on, and a live
/// socket (authenticated with the old token) is replaced at once.
fn swap_in(shared: &Shared, session: StoredSession) {
    let token = session.access_token.clone();
    let user = session.user_id.clone();
    {
        let mut inner = shared.borrow_mut();
        inner.auth.swapped();
        if inner.access_token() == token {
            return; // already in use (the broadcast and the lease path both delivered it)
        }
        inner.session = Some(session);
    }
    let device = shared.borrow().device_id();
    drive(shared, |machine, now| {
        machine.set_identity(&user, &device, token.clone());
        machine.reconnect_with_token(token, now)
    });
    arm_proactive(shared);
    emit_tokens(shared);
}

/// Loads the session (the stored one, or the one from the options if newer), joins the
/// account's tab channel and listens for wake-ups.
pub async fn start(shared: &Shared) -> Result<(), JsValue> {
    if shared.borrow().session.is_some() {
        return Ok(());
    }
    let (store, key, offered, level) = {
        let inner = shared.borrow();
        (
            inner.store.clone(),
            inner.account_key.clone(),
            inner.offered.clone(),
            inner.level,
        )
    };
    let stored = store.load(&key).await.unwrap_or_else(|err| {
        log(level, Level::Warn, &err.to_string());
        None
    });
    let session = match (stored, offered) {
        (Some(stored), Some(offered)) if offered.activated_at <= stored.activated_at => stored,
        (_, Some(offered)) => {
            if let Err(err) = store.save(&offered).await {
                log(
                    level,
                    Level::Warn,
                    &format!("the session is kept in memory only: {err}"),
                );
            }
            offered
        }
        (Some(stored), None) => stored,
        (None, None) => {
            return Err(error(
                "auth",
                "no stored session for this account: sign in first",
            ))
        }
    };
    {
        let mut inner = shared.borrow_mut();
        let device = inner
            .device_override
            .clone()
            .unwrap_or_else(|| session.device_id.clone());
        inner
            .machine
            .set_identity(&session.user_id, &device, session.access_token.clone());
        inner.session = Some(session);
    }
    join_tabs(shared, &key);
    listen_for_wake(shared);
    emit_tokens(shared);
    Ok(())
}

/// This tab now owns the connection and the refresh: refresh first if the token is
/// already due (§A.4), then arm the proactive timer.
pub async fn take_charge(shared: &Shared) {
    if due(shared) {
        refresh(shared, Trigger::PreConnect).await;
    }
    arm_proactive(shared);
}

fn in_charge(shared: &Shared) -> bool {
    matches!(shared.borrow().role, Role::Leader | Role::Solo)
}

fn due(shared: &Shared) -> bool {
    let inner = shared.borrow();
    inner
        .session
        .as_ref()
        .is_some_and(|s| is_due(&s.access_token, Some(s.activated_at), now_ms()))
}

fn join_tabs(shared: &Shared, key: &str) {
    let weak = Rc::downgrade(shared);
    let channel = TabChannel::join(&format!("clawchat:{key}"), move |message| {
        if let Some(shared) = weak.upgrade() {
            spawn_local(async move { on_tab_message(&shared, message).await });
        }
    });
    shared.borrow_mut().channel = channel;
}

/// Timers are unreliable in background tabs and after sleep: re-check when the page
/// becomes visible, gets focus, or the network returns.
fn listen_for_wake(shared: &Shared) {
    let make = |shared: &Shared| {
        let weak = Rc::downgrade(shared);
        move || {
            if let Some(shared) = weak.upgrade() {
                if page_visible() && due(&shared) {
                    spawn_local(async move {
                        refresh(&shared, Trigger::Wake).await;
                    });
                }
            }
        }
    };
    let listeners = [
        Listener::document("visibilitychange", make(shared)),
        Listener::global("focus", make(shared)),
        Listener::global("online", make(shared)),
    ];
    shared.borrow_mut().wake = listeners.into_iter().flatten().collect();
}

async fn on_tab_message(shared: &Shared, message: TabMessage) {
    match message {
        TabMessage::Rotated => {
            let (store, key, current) = {
                let inner = shared.borrow();
                (
                    inner.store.clone(),
                    inner.account_key.clone(),
                    inner.access_token(),
                )
            };
            if let Ok(Some(stored)) = store.load(&key).await {
                if stored.access_token != current && shared.borrow().session.is_some() {
                    log(
                        shared.borrow().level,
                        Level::Info,
                        "another tab rotated the tokens; adopting them",
                    );
                    swap_in(shared, stored);
                }
            }
        }
        TabMessage::LoggedOut { code, reason } => logout(shared, code, &reason, false).await,
    }
}

/// (Re)arms the proactive timer from the live token: its proactive point with jitter,
/// never sooner than the floor after the last attempt.
fn arm_proactive(shared: &Shared) {
    if !in_charge(shared) {
        return;
    }
    let mut inner = shared.borrow_mut();
    let jitter = jitter_from_fraction(SystemEntropy.fraction());
    let at = inner.session.as_ref().and_then(|s| {
        inner
            .auth
            .next_refresh_at(&s.access_token, Some(s.activated_at), jitter)
    });
    let timer = at.map(|at| {
        let delay = (at - now_ms()).clamp(0, i64::from(i32::MAX)) as u32;
        let weak = Rc::downgrade(shared);
        Timeout::new(delay, move || {
            if let Some(shared) = weak.upgrade() {
                spawn_local(async move {
                    refresh(&shared, Trigger::Proactive).await;
                });
            }
        })
    });
    if let Some(old) = std::mem::replace(&mut inner.proactive, timer) {
        drop_later(old);
    }
}

/// Under the account's cross-tab lock: re-read the store (another tab may have rotated
/// already), else call the refresh endpoint and persist the rotated pair.
async fn refresh_locked(store: TokenStore, base: BaseUrl, session: StoredSession) -> Locked {
    let key = session.account_key.clone();
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    let locked = with_lock(&format!("clawchat-refresh:{key}"), async move {
        let outcome = match store.load(&key).await {
            Ok(Some(stored)) if stored.access_token != session.access_token => {
                Locked::Adopted(stored)
            }
            _ => rotate(&store, &base, &session).await,
        };
        *slot.borrow_mut() = Some(outcome);
        Ok(JsValue::UNDEFINED)
    })
    .await;
    let taken = result.borrow_mut().take();
    match (locked, taken) {
        (_, Some(outcome)) => outcome,
        (_, None) => Locked::Refused(RefreshResult::Transient {
            status: None,
            code: None,
            message: "the refresh lock could not be taken".into(),
        }),
    }
}

async fn rotate(store: &TokenStore, base: &BaseUrl, session: &StoredSession) -> Locked {
    let request = match refresh_request(base, &session.refresh_token, &session.device_id) {
        Ok(request) => request,
        Err(result) => return Locked::Refused(result),
    };
    let answer = fetch::run(&request, Body::Json).await;
    let outcome = match &answer {
        Ok((status, body)) => HttpOutcome::Response {
            status: *status,
            body,
        },
        Err(message) => HttpOutcome::Failed { message },
    };
    match classify_refresh(outcome) {
        RefreshResult::Success(pair) => {
            let rotated = session.rotated(&pair, now_ms());
            match store.save(&rotated).await {
                Ok(()) => Locked::Rotated(rotated),
                Err(err) => Locked::PersistFailed(err.to_string()),
            }
        }
        other => Locked::Refused(other),
    }
}

/// How long a follower waits for the leader's rotation.
const FOLLOWER_WAIT_MS: u32 = 10_000;

/// Follower: asks the leader to refresh and waits for the rotated pair to arrive.
async fn refresh_through_leader(shared: &Shared, trigger: Trigger) -> RefreshReport {
    let before = shared.borrow().access_token();
    leadership::ask_for_refresh(shared);
    for _ in 0..FOLLOWER_WAIT_MS / 100 {
        gloo_timers::future::TimeoutFuture::new(100).await;
        if shared.borrow().access_token() != before {
            return RefreshReport::new("adopted", trigger, None);
        }
    }
    RefreshReport::new(
        "transient",
        trigger,
        Some("the leader tab did not rotate the tokens in time".into()),
    )
}

/// Runs (or joins) a refresh: in the tab in charge of the connection; a follower asks
/// the leader instead. Never throws: the report says what happened.
pub async fn refresh(shared: &Shared, trigger: Trigger) -> RefreshReport {
    if shared.borrow().role == Role::Follower {
        return refresh_through_leader(shared, trigger).await;
    }
    let request = {
        let mut inner = shared.borrow_mut();
        inner.session.clone().map(|session| {
            let decision = inner.auth.request(
                &session.access_token,
                Some(&session.refresh_token),
                now_ms(),
            );
            (decision, session, inner.store.clone(), inner.base.clone())
        })
    };
    let Some((decision, session, store, base)) = request else {
        return RefreshReport::new("skipped", trigger, Some("no session".into()));
    };
    match decision {
        Decision::Skip(reason) => {
            RefreshReport::new("skipped", trigger, Some(format!("{reason:?}")))
        }
        Decision::Join => {
            let mut resolver = None;
            let promise = Promise::new(&mut |resolve, _| resolver = Some(resolve));
            if let Some(resolve) = resolver {
                shared.borrow_mut().joiners.push(resolve);
            }
            let value = JsFuture::from(promise).await.unwrap_or(JsValue::NULL);
            serde_wasm_bindgen::from_value(value).unwrap_or_else(|_| {
                RefreshReport::new("transient", trigger, Some("joined refresh lost".into()))
            })
        }
        Decision::Start => {
            log(
                shared.borrow().level,
                Level::Info,
                &format!("refreshing ({})", trigger_name(trigger)),
            );
            let started_with = session.access_token.clone();
            let locked = refresh_locked(store, base, session).await;
            let report = conclude(shared, &started_with, locked, trigger).await;
            let joiners = std::mem::take(&mut shared.borrow_mut().joiners);
            let value = to_js(&report);
            for resolve in joiners {
                let _ = resolve.call1(&JsValue::NULL, &value);
            }
            emit_now(shared, "refresh", value);
            report
        }
    }
}

async fn conclude(
    shared: &Shared,
    started_with: &str,
    locked: Locked,
    trigger: Trigger,
) -> RefreshReport {
    let transient = |message: String| RefreshResult::Transient {
        status: None,
        code: None,
        message,
    };
    match locked {
        Locked::Adopted(session) => {
            use_new_pair(shared, started_with, session, false);
            RefreshReport::new("adopted", trigger, None)
        }
        Locked::Rotated(session) => {
            use_new_pair(shared, started_with, session, true);
            RefreshReport::new("success", trigger, None)
        }
        Locked::PersistFailed(message) => {
            let reason =
                format!("the rotated pair could not be persisted, so it is not used: {message}");
            log(shared.borrow().level, Level::Error, &reason);
            let _ = shared
                .borrow_mut()
                .auth
                .finish(started_with, transient(reason.clone()));
            arm_proactive(shared);
            RefreshReport::new("transient", trigger, Some(reason))
        }
        Locked::Refused(result) => {
            let next = shared.borrow_mut().auth.finish(started_with, result);
            match next {
                Next::Logout { code, message } => {
                    logout(shared, code, &message, true).await;
                    RefreshReport::new("permanent", trigger, Some(format!("{code}: {message}")))
                }
                Next::KeepTokens(message) => {
                    log(
                        shared.borrow().level,
                        Level::Warn,
                        &format!("refresh failed, keeping the tokens: {message}"),
                    );
                    arm_proactive(shared);
                    RefreshReport::new("transient", trigger, Some(message))
                }
                Next::PersistThenSwap(_) => {
                    RefreshReport::new("transient", trigger, Some("unexpected success".into()))
                }
            }
        }
    }
}

/// The pair is persisted (by us, or by the tab we adopt it from): clear the guards,
/// swap it in, and tell the other tabs if we rotated it.
fn use_new_pair(shared: &Shared, started_with: &str, session: StoredSession, rotated_here: bool) {
    let pair = TokenPair {
        access_token: session.access_token.clone(),
        refresh_token: session.refresh_token.clone(),
    };
    let _ = shared
        .borrow_mut()
        .auth
        .finish(started_with, RefreshResult::Success(pair));
    swap_in(shared, session);
    if rotated_here {
        if let Some(channel) = shared.borrow().channel.as_ref() {
            channel.post(&TabMessage::Rotated);
        }
    }
}

/// Logs out: guards stopped, stored credentials cleared, other tabs told (unless they
/// told us), the connection closed for good, pending sends failed, `logout` emitted.
pub async fn logout(shared: &Shared, code: i64, reason: &str, tell_tabs: bool) {
    let (store, key) = {
        let mut inner = shared.borrow_mut();
        if inner.session.is_none() && inner.offered.is_none() {
            return;
        }
        inner.auth.stop();
        inner.session = None;
        inner.offered = None;
        if let Some(timer) = inner.proactive.take() {
            drop_later(timer);
        }
        inner.wake.clear();
        (inner.store.clone(), inner.account_key.clone())
    };
    if let Err(err) = store.clear(&key).await {
        log(
            shared.borrow().level,
            Level::Error,
            &format!("could not clear the stored session: {err}"),
        );
    }
    if tell_tabs {
        if let Some(channel) = shared.borrow().channel.as_ref() {
            channel.post(&TabMessage::LoggedOut {
                code,
                reason: reason.to_owned(),
            });
        }
    }
    drive(shared, |machine, _| machine.logout(reason));
    emit_now(
        shared,
        "logout",
        to_js(&serde_json::json!({ "code": code, "reason": reason })),
    );
}
