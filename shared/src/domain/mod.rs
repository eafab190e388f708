//! The pure domain: no AWS SDK, no async runtime, no environment, no wall clock. Time is always a parameter.

pub mod alert;
pub mod attempt;
pub mod clock;
pub mod cost;
pub mod dispatch;
pub mod duration;
pub mod event;
pub mod fargate;
pub mod hash;
pub mod health;
pub mod job;
pub mod jobs_file;
pub mod logs;
pub mod name;
pub mod notify;
pub mod outbox;
pub mod plan;
pub mod record;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod scope;
pub mod service;
pub mod suggest;
pub mod task;
pub mod trigger;
