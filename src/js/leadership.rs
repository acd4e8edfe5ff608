//! Many tabs, one connection. Per account, the tab holding the Web Lock
//! `clawchat-leader:<account>` (for its whole life) owns the WebSocket and runs token
//! refresh; the others are followers that relay sends and typing to it over a
//! BroadcastChannel and receive every event back. When the leader goes away its lock is
//! released and a follower takes over, re-sending its pending sends with their ids.
//! Without Web Locks or BroadcastChannel each tab connects alone with a sibling device id.

use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::auth::Trigger;
use crate::platform::coordination::{has_broadcast_channel, has_web_locks, LockHold, TabChannel};
use crate::platform::log::{log, Level};
use crate::platform::now_ms;
use crate::protocol::{ids, Fragment, ReplyContext};
use crate::session::{Accepted, Entropy, Outgoing, SendError, SystemEntropy};

use super::auth;
use super::client::{drive, emit, run_effects, start_connection, Effect, Shared};
use super::convert::to_js;

/// This tab's part in its account's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not connecting (before `connect()`, after `disconnect()`).
    Idle,
    /// Waiting for the leader lock; relaying through the leader.
    Follower,
    /// Owns the socket and the refresh.
    Leader,
    /// No Web Locks / BroadcastChannel: connects alone with a sibling device id.
    Solo,
}

/// A follower's send, written by the leader with the same message id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayedSend {
    /// The id minted by the follower.
    pub message_id: String,
    /// Where it goes.
    pub chat_id: String,
    /// The body.
    pub fragments: Vec<Fragment>,
    /// The reply context, for replies.
    pub reply: Option<ReplyContext>,
}

/// What tabs of one account say to each other about the connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Relay {
    /// A tab became the leader.
    Leader { tab: String },
    /// A tab joined and wants the current state.
    Hello { tab: String },
    /// A follower's send.
    Send { from: String, send: RelayedSend },
    /// A follower's typing change.
    Typing { chat_id: String, is_typing: bool },
    /// The end of a relayed send.
    Settled {
        to: String,
        message_id: String,
        accepted: Option<Accepted>,
        error: Option<SendError>,
    },
    /// An event the leader emitted, for every tab.
    Event {
        name: String,
        payload: serde_json::Value,
    },
    /// A follower needs a fresh token.
    RefreshPlease,
}

/// Events the leader forwards to the followers.
pub const RELAYED_EVENTS: [&str; 6] = ["state", "message", "stream", "typing", "error", "refresh"];

/// A fresh id for this tab.
pub fn new_tab_id() -> String {
    format!(
        "tab-{}",
        ids::trace_id(now_ms().max(0) as u64, SystemEntropy.next_u128())
    )
}

fn post(shared: &Shared, message: &Relay) {
    if let Some(relay) = shared.borrow().relay.as_ref() {
        relay.post(message);
    }
}

fn set_role(shared: &Shared, role: Role) {
    shared.borrow_mut().role = role;
    let mut effects = Vec::new();
    emit(
        "role",
        to_js(&serde_json::json!({ "role": role })),
        &mut effects,
    );
    run_effects(shared, effects);
}

/// Starts taking part: as a candidate for leadership when the browser can coordinate
/// tabs, else alone with a sibling device id.
pub fn start(shared: &Shared) {
    if shared.borrow().role != Role::Idle {
        return;
    }
    if !(has_web_locks() && has_broadcast_channel()) {
        let suffix = &ids::trace_id(0, SystemEntropy.next_u128())[20..];
        {
            let mut inner = shared.borrow_mut();
            let sibling = format!("{}-{}", inner.device_id(), suffix.to_ascii_lowercase());
            inner.device_override.get_or_insert(sibling);
            let (device, token) = (inner.device_id(), inner.access_token());
            let user = inner
                .session
                .as_ref()
                .map(|s| s.user_id.clone())
                .unwrap_or_default();
            inner.machine.set_identity(&user, &device, token);
        }
        log(
            shared.borrow().level,
            Level::Warn,
            "no Web Locks or BroadcastChannel: this tab connects alone",
        );
        set_role(shared, Role::Solo);
        lead(shared);
        return;
    }
    let key = shared.borrow().account_key.clone();
    let weak = Rc::downgrade(shared);
    let relay = TabChannel::join(&format!("clawchat-relay:{key}"), move |message| {
        if let Some(shared) = weak.upgrade() {
            on_relay(&shared, message);
        }
    });
    shared.borrow_mut().relay = relay;
    set_role(shared, Role::Follower);
    let tab = shared.borrow().tab_id.clone();
    post(shared, &Relay::Hello { tab });
    let weak = Rc::downgrade(shared);
    let hold = LockHold::request(&format!("clawchat-leader:{key}"), move || {
        if let Some(shared) = weak.upgrade() {
            set_role(&shared, Role::Leader);
            let tab = shared.borrow().tab_id.clone();
            post(&shared, &Relay::Leader { tab });
            lead(&shared);
        }
    });
    shared.borrow_mut().leader_lock = hold;
}

/// This tab now owns the connection: refresh if due, connect, and send what it had
/// relayed to the previous leader, with the same ids.
fn lead(shared: &Shared) {
    let shared = shared.clone();
    spawn_local(async move {
        auth::take_charge(&shared).await;
        start_connection(&shared);
        let mine: Vec<RelayedSend> = shared
            .borrow_mut()
            .relayed
            .drain()
            .map(|(_, s)| s)
            .collect();
        for send in mine {
            write_send(&shared, send);
        }
    });
}

/// Stops taking part (disconnect): leadership released so another tab can lead.
pub fn stop(shared: &Shared) {
    let mut inner = shared.borrow_mut();
    inner.leader_lock = None;
    inner.relay = None;
    inner.role = Role::Idle;
}

/// Leader: queues a send in this tab's machine, with the given id.
fn write_send(shared: &Shared, send: RelayedSend) {
    let outgoing = Outgoing {
        fragments: send.fragments,
        reply: send.reply,
        message_id: Some(send.message_id),
    };
    drive(shared, |machine, now| {
        machine.send(&send.chat_id, outgoing, now).1
    });
}

/// Follower: relays a send to the leader and returns its message id; `None` when this tab
/// is not a follower and should send itself.
pub fn relay_send(shared: &Shared, chat_id: &str, outgoing: &Outgoing) -> Option<String> {
    if shared.borrow().role != Role::Follower {
        return None;
    }
    let message_id = outgoing
        .message_id
        .clone()
        .filter(|id| ids::is_message_id(id))
        .unwrap_or_else(|| ids::message_id(now_ms().max(0) as u64, SystemEntropy.next_u128()));
    let send = RelayedSend {
        message_id: message_id.clone(),
        chat_id: chat_id.to_owned(),
        fragments: outgoing.fragments.clone(),
        reply: outgoing.reply.clone(),
    };
    let from = shared.borrow().tab_id.clone();
    shared
        .borrow_mut()
        .relayed
        .insert(message_id.clone(), send.clone());
    post(shared, &Relay::Send { from, send });
    Some(message_id)
}

/// Follower: relays a typing change; returns false when this tab should send itself.
pub fn relay_typing(shared: &Shared, chat_id: &str, is_typing: bool) -> bool {
    if shared.borrow().role != Role::Follower {
        return false;
    }
    post(
        shared,
        &Relay::Typing {
            chat_id: chat_id.to_owned(),
            is_typing,
        },
    );
    true
}

/// Follower: asks the leader to refresh.
pub fn ask_for_refresh(shared: &Shared) {
    post(shared, &Relay::RefreshPlease);
}

/// Leader: forwards an emitted event to the followers.
pub fn forward(shared: &Shared, name: &'static str, payload: &JsValue) {
    let leading = shared.borrow().role == Role::Leader;
    if leading && RELAYED_EVENTS.contains(&name) {
        if let Ok(payload) = serde_wasm_bindgen::from_value::<serde_json::Value>(payload.clone()) {
            post(
                shared,
                &Relay::Event {
                    name: name.to_owned(),
                    payload,
                },
            );
        }
    }
}

fn on_relay(shared: &Shared, message: Relay) {
    let (role, tab) = {
        let inner = shared.borrow();
        (inner.role, inner.tab_id.clone())
    };
    match (role, message) {
        (Role::Leader, Relay::Send { from, send }) => {
            shared
                .borrow_mut()
                .remote
                .insert(send.message_id.clone(), from);
            let already = shared
                .borrow()
                .machine
                .pending()
                .iter()
                .any(|p| p.message_id == send.message_id);
            if !already {
                write_send(shared, send);
            }
        }
        (Role::Leader, Relay::Typing { chat_id, is_typing }) => {
            drive(shared, |machine, now| {
                machine.set_typing(&chat_id, is_typing, now)
            });
        }
        (Role::Leader, Relay::Hello { .. }) => {
            let state = shared.borrow().machine.state().clone();
            if let Ok(payload) = serde_json::to_value(&state) {
                post(
                    shared,
                    &Relay::Event {
                        name: "state".into(),
                        payload,
                    },
                );
            }
        }
        (Role::Leader, Relay::RefreshPlease) => {
            let shared = shared.clone();
            spawn_local(async move {
                auth::refresh(&shared, Trigger::Manual).await;
            });
        }
        (Role::Follower, Relay::Leader { .. }) => {
            let pending: Vec<RelayedSend> = shared.borrow().relayed.values().cloned().collect();
            for send in pending {
                post(
                    shared,
                    &Relay::Send {
                        from: tab.clone(),
                        send,
                    },
                );
            }
        }
        (
            Role::Follower,
            Relay::Settled {
                to,
                message_id,
                accepted,
                error,
            },
        ) if to == tab => {
            shared.borrow_mut().relayed.remove(&message_id);
            let outcome = match (accepted, error) {
                (Some(accepted), _) => Ok(accepted),
                (None, Some(error)) => Err(error),
                (None, None) => return,
            };
            let mut effects: Vec<Effect> = Vec::new();
            shared
                .borrow_mut()
                .settle_outcome(&message_id, outcome, &mut effects);
            run_effects(shared, effects);
        }
        (Role::Follower, Relay::Event { name, payload }) => {
            let Some(name) = RELAYED_EVENTS.iter().find(|n| **n == name) else {
                return;
            };
            if *name == "state" {
                shared.borrow_mut().leader_state = Some(payload.clone());
            }
            let mut effects = Vec::new();
            emit(name, to_js(&payload), &mut effects);
            run_effects(shared, effects);
        }
        _ => {}
    }
}
