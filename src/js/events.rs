//! Event handlers registered by the app.

use js_sys::Function;

/// The events a handler can be registered for (`ClawChatEventMap` in the declarations).
pub const EVENTS: &[&str] = &[
    "state",
    "message",
    "stream",
    "typing",
    "error",
    "tokens",
    "refresh",
    "logout",
    "unconfirmed",
    "sent",
    "failed",
    "role",
    "warn",
];

/// The handlers, in registration order.
#[derive(Default)]
pub struct Emitter {
    next_id: u32,
    handlers: Vec<(u32, String, Function)>,
}

impl Emitter {
    /// Registers `handler` for `event`; returns its id for [`Emitter::remove`].
    pub fn add(&mut self, event: &str, handler: Function) -> u32 {
        self.next_id += 1;
        self.handlers
            .push((self.next_id, event.to_owned(), handler));
        self.next_id
    }

    /// Removes the handler with `id`.
    pub fn remove(&mut self, id: u32) {
        self.handlers.retain(|(i, _, _)| *i != id);
    }

    /// The handlers of `event` (cloned, so they can run after the client is unborrowed).
    pub fn handlers(&self, event: &str) -> Vec<Function> {
        self.handlers
            .iter()
            .filter(|(_, e, _)| e == event)
            .map(|(_, _, f)| f.clone())
            .collect()
    }
}
