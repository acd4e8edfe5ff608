//! The registry of live sessions: one per (user id, device id), a newer one taking over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::mpsc;

/// Why a session is being ended by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Another socket connected with the same device id.
    Replaced,
    /// Fault injection or shutdown: the socket is dropped without a close frame.
    Dropped,
}

/// A message to a session's task.
#[derive(Debug)]
pub enum Control {
    /// Send this text frame.
    Send(String),
    /// End the session.
    Kick(Kick),
}

/// A stored envelope for a session: its inbox sequence and text.
pub type Delivery = (i64, Arc<str>);

/// What a session task receives: frames and kicks first, stored envelopes after the
/// client's own frames (so a close is seen before the cursor moves on).
#[derive(Debug)]
pub struct Mailbox {
    /// Frames and kicks.
    pub control: mpsc::UnboundedReceiver<Control>,
    /// Stored envelopes.
    pub deliveries: mpsc::UnboundedReceiver<Delivery>,
}

/// How other tasks reach a live session.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Unique per socket.
    pub id: u64,
    /// Frames and kicks.
    pub control: mpsc::UnboundedSender<Control>,
    /// Stored envelopes with their inbox sequence, in commit order.
    pub deliveries: mpsc::UnboundedSender<Delivery>,
    /// The `jti` of the access token the session connected with.
    pub token_id: String,
}

/// One live session, as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveSession {
    /// The user.
    pub user_id: String,
    /// The device.
    pub device_id: String,
}

/// Live sessions by user, then by device.
#[derive(Debug, Default)]
pub struct Hub {
    sessions: Mutex<HashMap<String, HashMap<String, SessionHandle>>>,
    next_id: AtomicU64,
    takeovers: AtomicU64,
    handovers: AtomicU64,
}

impl Hub {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, SessionHandle>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new handle with a fresh id and its mailbox, for a session that connected with
    /// the token whose `jti` is `token_id`.
    pub fn new_handle(&self, token_id: &str) -> (SessionHandle, Mailbox) {
        let (control, control_rx) = mpsc::unbounded_channel();
        let (deliveries, deliveries_rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        (
            SessionHandle {
                id,
                control,
                deliveries,
                token_id: token_id.to_owned(),
            },
            Mailbox {
                control: control_rx,
                deliveries: deliveries_rx,
            },
        )
    }

    /// Registers `handle` for (user, device); a session already there is replaced. A
    /// replacement with the same token is a takeover (two clients fighting over one
    /// device); one with another token is a handover (a client reconnecting with its
    /// rotated token before dropping the old socket).
    pub fn register(&self, user_id: &str, device_id: &str, handle: SessionHandle) {
        let token_id = handle.token_id.clone();
        let previous = self
            .sessions()
            .entry(user_id.to_owned())
            .or_default()
            .insert(device_id.to_owned(), handle);
        if let Some(previous) = previous {
            let counter = if previous.token_id == token_id {
                &self.takeovers
            } else {
                &self.handovers
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let _ = previous.control.send(Control::Kick(Kick::Replaced));
        }
    }

    /// Removes the session of (user, device) if it is still the one with `id`.
    pub fn unregister(&self, user_id: &str, device_id: &str, id: u64) {
        let mut sessions = self.sessions();
        if let Some(devices) = sessions.get_mut(user_id) {
            if devices.get(device_id).is_some_and(|h| h.id == id) {
                devices.remove(device_id);
            }
            if devices.is_empty() {
                sessions.remove(user_id);
            }
        }
    }

    /// Hands the stored envelope with inbox sequence `seq` to every session of `user_id`.
    pub fn deliver(&self, user_id: &str, seq: i64, envelope: &Arc<str>) {
        if let Some(devices) = self.sessions().get(user_id) {
            for handle in devices.values() {
                let _ = handle.deliveries.send((seq, envelope.clone()));
            }
        }
    }

    /// Sends a non-durable frame (typing, streaming) to every session of `user_id`.
    pub fn send_live(&self, user_id: &str, text: &str) {
        if let Some(devices) = self.sessions().get(user_id) {
            for handle in devices.values() {
                let _ = handle.control.send(Control::Send(text.to_owned()));
            }
        }
    }

    /// Ends every session the same way.
    pub fn kick_all(&self, kick: Kick) {
        for handle in self
            .sessions()
            .drain()
            .flat_map(|(_, devices)| devices.into_values())
        {
            let _ = handle.control.send(Control::Kick(kick));
        }
    }

    /// Every live session.
    pub fn live(&self) -> Vec<LiveSession> {
        let mut live: Vec<LiveSession> = self
            .sessions()
            .iter()
            .flat_map(|(user, devices)| {
                devices.keys().map(|device| LiveSession {
                    user_id: user.clone(),
                    device_id: device.clone(),
                })
            })
            .collect();
        live.sort_by(|a, b| (&a.user_id, &a.device_id).cmp(&(&b.user_id, &b.device_id)));
        live
    }

    /// How many sessions were taken over by a socket with the same token since start.
    pub fn takeovers(&self) -> u64 {
        self.takeovers.load(Ordering::Relaxed)
    }

    /// How many sessions were replaced by a socket with another (rotated) token.
    pub fn handovers(&self) -> u64 {
        self.handovers.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_session_for_a_device_takes_over_the_first() {
        let hub = Hub::default();
        let (first, mut first_rx) = hub.new_handle("t1");
        let (second, _second_rx) = hub.new_handle("t1");
        let first_id = first.id;
        hub.register("u", "d", first);
        hub.register("u", "d", second);
        assert!(matches!(
            first_rx.control.try_recv(),
            Ok(Control::Kick(Kick::Replaced))
        ));
        assert_eq!(hub.takeovers(), 1);
        hub.unregister("u", "d", first_id);
        assert_eq!(
            hub.live().len(),
            1,
            "the stale unregister must not remove the new session"
        );
    }

    #[test]
    fn sibling_devices_coexist() {
        let hub = Hub::default();
        hub.register("u", "d", hub.new_handle("t1").0);
        hub.register("u", "d-tab2", hub.new_handle("t1").0);
        assert_eq!(hub.live().len(), 2);
        assert_eq!(hub.takeovers(), 0);
    }

    #[test]
    fn a_replacement_with_a_rotated_token_is_a_handover_not_a_takeover() {
        let hub = Hub::default();
        hub.register("u", "d", hub.new_handle("old-token").0);
        hub.register("u", "d", hub.new_handle("rotated-token").0);
        assert_eq!((hub.takeovers(), hub.handovers()), (0, 1));
    }
}
