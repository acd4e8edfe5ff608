//! Token lifecycle: JWT claims, the refresh schedule and the refresh guard machine.

mod jwt;
pub mod manager;
pub mod schedule;

pub use jwt::{decode_claims, Claims};
pub use manager::{Decision, GuardState, Next, RefreshManager, SkipReason, Trigger};
