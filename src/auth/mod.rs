//! Token lifecycle: JWT claims, the refresh schedule and the rotation flow machine.

mod jwt;
pub mod rotation;
pub mod schedule;

pub use jwt::{decode_claims, Claims};
pub use rotation::{
    Effect as RotationEffect, News, Outcome, ReadPurpose, RefreshReport, Rotation, RotationConfig,
    StartError, Trigger,
};
