//! Application services: the use cases, written over the ports so they run the same against DynamoDB and fakes.

pub mod apply;
pub mod backfill;
pub mod dispatch;
pub mod follow;
pub mod jobs;
pub mod record;
pub mod report;
pub mod rules;
pub mod scale;
pub mod scope;
pub mod trigger;
pub mod waker;
