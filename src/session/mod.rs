//! The session: pure machines for the connection, sends and inbound delivery, driven
//! by injected clocks ([`Now`]) and entropy.

pub mod backoff;
pub mod clock;
pub mod connection;
pub mod dedupe;
pub mod inbound;
pub mod liveness;
pub mod mentions;
pub mod outbox;
mod send_failure;
pub mod stream;
pub mod typing;

#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use clock::Now;
pub use connection::{
    Action, ClientError, ConnState, Connection, Outgoing, SessionConfig, Timings, Wake,
};
pub use inbound::{Delivery, InboundMessage, Origin, ReplyInfo, TypingUpdate};
pub use outbox::{stored_message_id, StoredRow};
pub use outbox::{
    Accepted, Completion, OutboxLimits, OutboxRow, PendingSend, QueuedSend, RowError, RowStatus,
    SendError, SendErrorKind, SendStatus, Unconfirmed,
};
pub use stream::{StreamStatus, StreamView};
pub use typing::TypingTimings;

/// A source of randomness for ids and jitter, injected so tests are deterministic.
pub trait Entropy {
    /// 128 random bits.
    fn next_u128(&mut self) -> u128;

    /// A uniform fraction in `[0, 1)`.
    fn fraction(&mut self) -> f64 {
        (self.next_u128() >> 75) as f64 / (1u64 << 53) as f64
    }
}

/// The platform's secure random source (Web Crypto in browsers).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn next_u128(&mut self) -> u128 {
        // Web Crypto does not fail in practice; if it ever does, ids stay unique per
        // millisecond through the counter below rather than aborting the send.
        crate::protocol::ids::random_u128().unwrap_or_else(fallback_counter)
    }
}

fn fallback_counter() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}
