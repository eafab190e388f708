//! The outbox: announcements written into an item together with the change that causes them, and sent after the
//! write. A writer that dies in between leaves them in the item, on its timer, for the dispatcher to send: at least
//! once, never lost. Runs (their end) and jobs (their health) keep one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An event for the stack's bus kept in an item's outbox until it is sent (`domain::event::BusEvent` converts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub source: String,
    pub detail_type: String,
    pub detail: serde_json::Value,
    pub time: DateTime<Utc>,
}

/// How long after a write that fills a run's outbox the dispatcher sends what is still in it: the writer sends it
/// at once, so this is the time it has before the next tick would send it again.
pub const OUTBOX_RETRY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);
