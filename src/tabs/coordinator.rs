//! The tab coordinator: this tab's role, relayed sends with deadlines (none hangs),
//! forwarded events, hand-over. Pure: inputs carry `now`, outputs are [`Effect`]s.

use crate::session::{Accepted, SendError, SendErrorKind};

use super::{EventJson, RelayedSend, TabWire};

/// Events the leader forwards to its followers.
pub const FORWARDED_EVENTS: [&str; 8] = [
    "state", "message", "stream", "typing", "error", "refresh", "sent", "failed",
];

/// This tab's part in its account's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not connecting (before `connect()`, after `disconnect()` or logout).
    Idle,
    /// Waiting for the leader lock; relaying through the leader.
    Follower,
    /// Owns the socket and the proactive refresh.
    Leader,
    /// No Web Locks / BroadcastChannel: connects alone with a sibling device id.
    Solo,
}

impl Role {
    /// Its name, as the `role` event shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Idle => "idle",
            Role::Follower => "follower",
            Role::Leader => "leader",
            Role::Solo => "solo",
        }
    }
}

/// Deadlines of relayed sends (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// A relayed send no leader took within this fails.
    pub receipt_timeout_ms: i64,
    /// A relayed send the leader took but never settled within this fails (longer than
    /// the leader's own queue age and ack timeout).
    pub settle_timeout_ms: i64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            receipt_timeout_ms: 5_000,
            settle_timeout_ms: 6 * 60_000,
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Post to the other tabs of the account.
    Post(TabWire),
    /// Request the leader lock; call [`Coordinator::on_leadership`] with `request` once
    /// granted.
    RequestLeadership {
        /// Which request this is (a grant of an earlier one is stale).
        request: u64,
    },
    /// Release (or stop waiting for) the leader lock.
    ReleaseLeadership,
    /// The role changed: tell the app.
    Role(Role),
    /// This tab now owns the connection (a sibling device id when `solo`).
    Lead {
        /// Connecting alone: use a sibling device id.
        solo: bool,
    },
    /// Queue this send on this tab's connection, with its id.
    WriteLocal(RelayedSend),
    /// Send this typing change on this tab's connection.
    TypeLocal {
        /// The chat.
        chat_id: String,
        /// Started or stopped.
        is_typing: bool,
    },
    /// Settle the app's promise of this send.
    Settle {
        /// The send.
        message_id: String,
        /// Accepted, or why not.
        outcome: Result<Accepted, SendError>,
    },
    /// Emit an event the leader forwarded.
    Emit {
        /// The event name.
        name: String,
        /// Its payload.
        payload: EventJson,
    },
    /// Post this tab's connection state as a `state` event (a follower said hello).
    AnnounceState,
    /// Another tab persisted a rotated pair.
    Rotated,
    /// Another tab logged the account out.
    LoggedOut {
        /// The code.
        code: i64,
        /// Why.
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct Relayed {
    send: RelayedSend,
    received: bool,
    deadline: i64,
}

/// The coordinator of one tab.
#[derive(Debug)]
pub struct Coordinator {
    tab: String,
    config: CoordinatorConfig,
    role: Role,
    /// Leader: the followers' tab ids.
    followers: Vec<String>,
    /// Follower: this tab's relayed sends, by message id (sorted: the order they go
    /// out again in). Plain vectors, not B-trees: they stay small, and every B-tree
    /// instance costs the module kilobytes.
    relayed: Vec<Relayed>,
    /// Leader: which follower each relayed send came from (message id, tab id).
    remote: Vec<(String, String)>,
    leader_state: Option<EventJson>,
    /// The last leader lock request: a grant of an earlier one (given up by a
    /// `disconnect()` before it came) is ignored.
    request: u64,
}

fn failure(send: &RelayedSend, kind: SendErrorKind, reason: &str) -> SendError {
    SendError {
        kind,
        code: None,
        reason: reason.to_owned(),
        message_id: send.message_id.clone(),
        chat_id: send.chat_id.clone(),
        trace_id: String::new(),
    }
}

impl Coordinator {
    /// An idle coordinator for the tab `tab`.
    pub fn new(tab: String, config: CoordinatorConfig) -> Self {
        Coordinator {
            tab,
            config,
            role: Role::Idle,
            followers: Vec::new(),
            relayed: Vec::new(),
            remote: Vec::new(),
            leader_state: None,
            request: 0,
        }
    }

    /// This tab's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Follower: the leader's last connection state.
    pub fn leader_state(&self) -> Option<&EventJson> {
        self.leader_state.as_ref()
    }

    /// Leader: the followers that announced themselves.
    pub fn followers(&self) -> usize {
        self.followers.len()
    }

    /// Follower: relayed sends not yet settled.
    pub fn unsettled(&self) -> usize {
        self.relayed.len()
    }

    /// Starts taking part: a candidate for leadership when tabs can coordinate, else
    /// alone.
    pub fn start(&mut self, can_coordinate: bool) -> Vec<Effect> {
        if self.role != Role::Idle {
            return Vec::new();
        }
        if !can_coordinate {
            self.role = Role::Solo;
            return vec![Effect::Role(Role::Solo), Effect::Lead { solo: true }];
        }
        self.role = Role::Follower;
        self.request = self.request.wrapping_add(1);
        vec![
            Effect::Role(Role::Follower),
            Effect::Post(TabWire::Hello {
                tab: self.tab.clone(),
            }),
            Effect::RequestLeadership {
                request: self.request,
            },
        ]
    }

    /// The leader lock of `request` was granted: this tab leads and writes what it had
    /// relayed. The grant of a request given up since is stale: that hold is being
    /// released already, and releasing now would drop the current request instead.
    pub fn on_leadership(&mut self, request: u64) -> Vec<Effect> {
        if request != self.request {
            return Vec::new();
        }
        if self.role != Role::Follower {
            return vec![Effect::ReleaseLeadership];
        }
        self.role = Role::Leader;
        self.leader_state = None;
        let mut out = vec![
            Effect::Role(Role::Leader),
            Effect::Post(TabWire::Leader {
                tab: self.tab.clone(),
            }),
            Effect::Lead { solo: false },
        ];
        let mine = std::mem::take(&mut self.relayed);
        out.extend(mine.into_iter().map(|r| Effect::WriteLocal(r.send)));
        out
    }

    /// The app sends: a follower relays it (with a deadline), else it is written here.
    pub fn send(&mut self, send: RelayedSend, now: i64) -> Vec<Effect> {
        if self.role != Role::Follower {
            return vec![Effect::WriteLocal(send)];
        }
        let relayed = Relayed {
            send: send.clone(),
            received: false,
            deadline: now + self.config.receipt_timeout_ms,
        };
        match self.find_relayed(&send.message_id) {
            Ok(at) => self.relayed[at] = relayed,
            Err(at) => self.relayed.insert(at, relayed),
        }
        vec![Effect::Post(TabWire::Send {
            from: self.tab.clone(),
            send,
        })]
    }

    /// The app's typing change: relayed by a follower, else sent here.
    pub fn typing(&mut self, chat_id: &str, is_typing: bool) -> Vec<Effect> {
        let chat_id = chat_id.to_owned();
        if self.role == Role::Follower {
            vec![Effect::Post(TabWire::Typing { chat_id, is_typing })]
        } else {
            vec![Effect::TypeLocal { chat_id, is_typing }]
        }
    }

    /// A send on this tab's connection ended: a follower's is relayed back.
    pub fn on_completed(
        &mut self,
        message_id: &str,
        outcome: Result<Accepted, SendError>,
    ) -> Vec<Effect> {
        let from = self
            .remote
            .iter()
            .position(|(id, _)| id == message_id)
            .map(|at| self.remote.swap_remove(at).1);
        match from {
            Some(to) if self.role == Role::Leader => vec![Effect::Post(TabWire::Settled {
                to,
                message_id: message_id.to_owned(),
                outcome,
            })],
            Some(_) => Vec::new(),
            None => vec![Effect::Settle {
                message_id: message_id.to_owned(),
                outcome,
            }],
        }
    }

    /// This tab emitted an event: a leader forwards it when a follower is listening.
    pub fn on_event(
        &mut self,
        name: &str,
        payload: impl FnOnce() -> Option<EventJson>,
    ) -> Vec<Effect> {
        if self.role != Role::Leader
            || self.followers.is_empty()
            || !FORWARDED_EVENTS.contains(&name)
        {
            return Vec::new();
        }
        payload()
            .map(|payload| {
                Effect::Post(TabWire::Event {
                    name: name.to_owned(),
                    payload,
                })
            })
            .into_iter()
            .collect()
    }

    /// A message from another tab.
    pub fn on_wire(&mut self, message: TabWire, now: i64) -> Vec<Effect> {
        match (self.role, message) {
            (_, TabWire::Rotated) => vec![Effect::Rotated],
            (_, TabWire::LoggedOut { code, reason }) => vec![Effect::LoggedOut { code, reason }],
            (Role::Leader, TabWire::Hello { tab }) => {
                self.add_follower(tab);
                vec![Effect::AnnounceState]
            }
            (_, TabWire::Bye { tab }) => {
                self.followers.retain(|t| *t != tab);
                Vec::new()
            }
            (Role::Leader, TabWire::Send { from, send }) => {
                self.add_follower(from.clone());
                let mut out = vec![Effect::Post(TabWire::Received {
                    to: from.clone(),
                    message_id: send.message_id.clone(),
                })];
                if !self.remote.iter().any(|(id, _)| *id == send.message_id) {
                    self.remote.push((send.message_id.clone(), from));
                    out.push(Effect::WriteLocal(send));
                }
                out
            }
            (Role::Leader, TabWire::Typing { chat_id, is_typing }) => {
                vec![Effect::TypeLocal { chat_id, is_typing }]
            }
            (Role::Follower, TabWire::Leader { .. }) => {
                let mut out = vec![Effect::Post(TabWire::Hello {
                    tab: self.tab.clone(),
                })];
                for relayed in &mut self.relayed {
                    relayed.received = false;
                    relayed.deadline = now + self.config.receipt_timeout_ms;
                    out.push(Effect::Post(TabWire::Send {
                        from: self.tab.clone(),
                        send: relayed.send.clone(),
                    }));
                }
                out
            }
            (Role::Follower, TabWire::Received { to, message_id }) if to == self.tab => {
                if let Ok(at) = self.find_relayed(&message_id) {
                    let relayed = &mut self.relayed[at];
                    relayed.received = true;
                    relayed.deadline = now + self.config.settle_timeout_ms;
                }
                Vec::new()
            }
            (
                Role::Follower,
                TabWire::Settled {
                    to,
                    message_id,
                    outcome,
                },
            ) if to == self.tab => match self.find_relayed(&message_id) {
                Ok(at) => {
                    self.relayed.remove(at);
                    vec![Effect::Settle {
                        message_id,
                        outcome,
                    }]
                }
                Err(_) => Vec::new(),
            },
            (Role::Follower, TabWire::Event { name, payload })
                if FORWARDED_EVENTS.contains(&name.as_str()) =>
            {
                if name == "state" {
                    self.leader_state = Some(payload.clone());
                }
                vec![Effect::Emit { name, payload }]
            }
            // The lock is exclusive, so only a leader that has since handed over posted
            // this: its last relays can arrive after this tab won the lock (the browser
            // does not order the two). Its messages are kept (the driver dedupes them
            // against this tab's own connection); the rest told of its connection, or
            // of sends this tab re-wrote and settles itself, and would come twice.
            (Role::Leader, TabWire::Event { name, payload }) if name == "message" => {
                vec![Effect::Emit { name, payload }]
            }
            _ => Vec::new(),
        }
    }

    /// Where the relayed send `message_id` is (`Err`: where it would go).
    fn find_relayed(&self, message_id: &str) -> Result<usize, usize> {
        self.relayed
            .binary_search_by(|r| r.send.message_id.as_str().cmp(message_id))
    }

    fn add_follower(&mut self, tab: String) {
        if !self.followers.contains(&tab) {
            self.followers.push(tab);
        }
    }

    /// When [`Coordinator::on_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.relayed.iter().map(|r| r.deadline).min()
    }

    /// Relayed sends past their deadline fail: none hangs.
    pub fn on_timeout(&mut self, now: i64) -> Vec<Effect> {
        let (late, pending) = std::mem::take(&mut self.relayed)
            .into_iter()
            .partition(|r| r.deadline <= now);
        self.relayed = pending;
        late.into_iter()
            .map(|r: Relayed| {
                let reason = if r.received {
                    "the leader tab never settled the send"
                } else {
                    "no leader tab took the send in time"
                };
                Effect::Settle {
                    message_id: r.send.message_id.clone(),
                    outcome: Err(failure(&r.send, SendErrorKind::Relay, reason)),
                }
            })
            .collect()
    }

    /// Stops taking part (disconnect, logout): the leader lock is released so another
    /// tab (or a new client of this account) can lead; a follower's relayed sends fail.
    pub fn stop(&mut self, reason: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        let was = std::mem::replace(&mut self.role, Role::Idle);
        if was == Role::Idle {
            return out;
        }
        for relayed in std::mem::take(&mut self.relayed) {
            out.push(Effect::Settle {
                message_id: relayed.send.message_id.clone(),
                outcome: Err(failure(&relayed.send, SendErrorKind::Closed, reason)),
            });
        }
        if was == Role::Follower {
            out.push(Effect::Post(TabWire::Bye {
                tab: self.tab.clone(),
            }));
        }
        // A leader's relayed sends go to the next leader: the followers re-post them.
        self.remote.clear();
        self.followers.clear();
        self.leader_state = None;
        if was != Role::Solo {
            out.push(Effect::ReleaseLeadership);
        }
        out.push(Effect::Role(Role::Idle));
        out
    }
}
