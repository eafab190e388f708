//! The pure domain: no AWS SDK, no async runtime, no environment, no wall clock. Time is always a parameter.

pub mod duration;
pub mod job;
pub mod run;
pub mod schedule;
