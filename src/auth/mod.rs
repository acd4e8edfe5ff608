//! Token lifecycle: JWT claims (and, as it grows, the refresh schedule and machine).

mod jwt;

pub use jwt::{decode_claims, Claims};
