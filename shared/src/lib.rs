//! fsched's core library: the pure domain (schedules, jobs, runs, policies), the ports it needs from the outside
//! world, and the AWS adapters that implement those ports.

pub mod aws;
pub mod domain;
pub mod emf;
pub mod lambda;
pub mod ports;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
