//! Runs: one execution of a job, from the claim of its scheduled time (or triggering event) to its final outcome.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cost::Cost;
use super::fargate::Capacity;
use super::job::{ContainerOverride, JobSpec};
pub use super::outbox::{Pending, OUTBOX_RETRY};
use super::task::TaskSnapshot;
pub use fan::{Part, PartEnd, Parts, RunFan, Waits};
pub use id::{RunId, RunIdError};

mod fan;
mod id;

/// A queued run (overlap `queue`, a backfill's lane) is released by the end of the run ahead of it; should that
/// release be lost (its writer died before it was linked), the dispatcher looks at it this often and starts it
/// once the run ahead has ended.
pub const QUEUE_CHECK: chrono::Duration = chrono::Duration::hours(1);

/// Where a run's status stands. Open statuses can still change; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Due later: a retry waiting for its back-off to pass, or a run queued behind another (`overlap: queue`, a
    /// backfill's lane) until that one ends. The dispatcher takes it at its time.
    Waiting,
    /// The scheduled time is claimed; the task is not launched yet (or the launcher died: a later tick relaunches).
    Claimed,
    /// RunTask accepted the task; ECS is provisioning it.
    Pending,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Stopped,
    Interrupted,
    /// ECS no longer knows the task and no final event arrived.
    Unknown,
    LaunchFailed,
    /// Not launched by policy (`overlap: forbid` with a run still in progress).
    Skipped,
    /// Not launched because it was found later than `catch_up` allows.
    Missed,
    /// An event asked for the run with values the job does not accept.
    Rejected,
}

impl RunStatus {
    pub const ALL: [RunStatus; 14] = [
        Self::Waiting,
        Self::Claimed,
        Self::Pending,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Stopped,
        Self::Interrupted,
        Self::Unknown,
        Self::LaunchFailed,
        Self::Skipped,
        Self::Missed,
        Self::Rejected,
    ];

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Waiting | Self::Claimed | Self::Pending | Self::Running
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::Claimed => "CLAIMED",
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Stopped => "STOPPED",
            Self::Interrupted => "INTERRUPTED",
            Self::Unknown => "UNKNOWN",
            Self::LaunchFailed => "LAUNCH_FAILED",
            Self::Skipped => "SKIPPED",
            Self::Missed => "MISSED",
            Self::Rejected => "REJECTED",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is no run status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run status `{0}`: expected one of {names}", names = RunStatus::ALL.map(RunStatus::as_str).join(", "))]
pub struct UnknownStatus(pub String);

impl FromStr for RunStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == wanted)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What asked for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Event {
        source: String,
        id: String,
    },
    Manual {
        by: String,
    },
    /// `fsched backfill`: a scheduled time in the past, run on request.
    Backfill {
        by: String,
    },
    /// Its job's `after`: the jobs it waits for succeeded for its day.
    After,
}

/// One run as stored. Later stages (launch, task events, cost) fill in the optional parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub trigger: Trigger,
    /// The time the run was due: the scheduled time, or when the event or request arrived.
    pub scheduled_at: DateTime<Utc>,
    pub status: RunStatus,
    /// Bumped by every write; writes are conditional on the revision they read.
    pub revision: u64,
    pub claimed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// RunTask calls made for this run, across capacities and ticks.
    #[serde(default)]
    pub attempts: u32,
    /// When RunTask accepted the task (the tick's time): `max_runtime` counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launched_at: Option<DateTime<Utc>>,
    /// When the run must be stopped for exceeding the job's `max_runtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<DateTime<Utc>>,
    /// Why the run ended the way it did, in words a user can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// When the dispatcher must look at this open run again (max_runtime, a launch left half-done, a lost event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_at: Option<DateTime<Utc>>,
    /// When DynamoDB may delete the record (the job's `history`), as Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Everything ECS reported about the task, merged across its reports (domain::record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskSnapshot>,
    /// What the task cost, once it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// The job's container overrides with the values this run was given filled in (event values, `--env`), when
    /// the job takes any: every launch attempt of the run uses exactly these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<BTreeMap<String, ContainerOverride>>,
    /// Which attempt of its scheduled time (or request) this run is: 1 for the first, 2 for its first retry, ...
    #[serde(default = "first_attempt", skip_serializing_if = "is_first_attempt")]
    pub attempt: u32,
    /// On a retry: the first run of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<RunId>,
    /// On a waiting retry: when it is due to start (its back-off after the previous attempt ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// On a run that ended and is retried (the job's `retry`): the attempt that follows it, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_as: Option<NextAttempt>,
    /// A WAITING run queued behind this one (`overlap: queue`, a backfill's next in its lane): released when this
    /// one ends for good (after its retries), by whoever sends its end's announcement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<RunId>,
    /// On a run SKIPPED by its job's `overlap` (or `max_running`): the run that was in the way, so that a later fire
    /// finds it even when many skipped runs came after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<RunId>,
    /// On a queued WAITING run: the run it waits for. Its timer is only a backstop (`QUEUE_CHECK`) for a
    /// release that was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_behind: Option<RunId>,
    /// Pools, parallel tasks and fan-in (run::fan).
    #[serde(flatten)]
    pub fan: RunFan,
    /// Announcements written with the write that closed the run, not yet confirmed sent (the outbox): the writer
    /// sends them and empties it; if it cannot, the run's timer brings the dispatcher back to send them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Pending>,
}

/// The attempt that follows a run that ended badly: written on the ended run with its end, then claimed as a
/// WAITING run of its own before the end's announcement leaves the outbox (so a writer that dies in between leaves
/// it to whoever sends the outbox: exactly one attempt, whoever claims it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAttempt {
    pub run: RunId,
    pub number: u32,
    pub at: DateTime<Utc>,
}

fn first_attempt() -> u32 {
    1
}

fn is_first_attempt(n: &u32) -> bool {
    *n == 1
}

impl Run {
    /// A freshly claimed run, before anything is launched.
    pub fn claimed(
        id: RunId,
        trigger: Trigger,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Run {
            id,
            trigger,
            scheduled_at,
            status: RunStatus::Claimed,
            revision: 0,
            claimed_at: now,
            task_arn: None,
            cluster: None,
            capacity: None,
            attempts: 0,
            launched_at: None,
            timeout_at: None,
            reason: None,
            started_at: None,
            stopped_at: None,
            check_at: None,
            expires_at: None,
            task: None,
            cost: None,
            overrides: None,
            attempt: 1,
            retry_of: None,
            not_before: None,
            retried_as: None,
            then: None,
            queued_behind: None,
            blocked_by: None,
            fan: RunFan::default(),
            outbox: Vec::new(),
        }
    }

    /// The WAITING run of the attempt that follows this one: same job, trigger, due time, values and history; its
    /// timer at the attempt's time, when the dispatcher takes it.
    pub fn next_attempt(&self, next: &NextAttempt, now: DateTime<Utc>) -> Run {
        let mut run = Run::claimed(
            next.run.clone(),
            self.trigger.clone(),
            self.scheduled_at,
            now,
        );
        run.status = RunStatus::Waiting;
        run.attempt = next.number;
        run.retry_of = Some(self.retry_of.clone().unwrap_or_else(|| self.id.clone()));
        run.not_before = Some(next.at);
        run.check_at = Some(next.at);
        run.expires_at = self.expires_at;
        run.overrides = self.overrides.clone();
        run.fan.part = self.fan.part.clone();
        run.fan.waits = self.fan.waits.clone();
        // What was queued behind this run waits for the retry's end instead.
        run.then = self.then.clone();
        run
    }

    /// Whether this run waits to be released by the run it is queued behind.
    pub fn is_queued(&self) -> bool {
        self.status == RunStatus::Waiting && self.queued_behind.is_some()
    }

    /// Queues this (WAITING) run behind `ahead`, from `now`: released when `ahead` ends, looked at by the
    /// dispatcher every `QUEUE_CHECK` meanwhile.
    pub fn queue_behind(&mut self, ahead: RunId, now: DateTime<Utc>) {
        self.status = RunStatus::Waiting;
        self.queued_behind = Some(ahead);
        self.check_at = Some(now + QUEUE_CHECK);
        self.not_before = None;
    }

    /// Releases a queued run: due at `now`.
    pub fn release(&mut self, now: DateTime<Utc>) {
        self.queued_behind = None;
        self.check_at = Some(now);
        self.not_before = Some(now);
    }

    /// Puts announcements in the run's outbox, to go out with the write that made them true; the run's timer
    /// brings the dispatcher back to send them if the writer does not confirm they went out. Only for a closed run
    /// (an open one's timer is its next check).
    pub fn announce(&mut self, events: impl IntoIterator<Item = Pending>, now: DateTime<Utc>) {
        self.outbox.extend(events);
        if !self.outbox.is_empty() && !self.status.is_open() {
            self.check_at = Some(now + OUTBOX_RETRY);
        }
    }

    /// Empties the outbox once its announcements went out; a closed run then has no timer.
    pub fn announced(&mut self) {
        self.outbox.clear();
        if !self.status.is_open() {
            self.check_at = None;
        }
    }

    /// The job's spec as this run launches it: with the run's own overrides, if it has any.
    pub fn spec(&self, job: &JobSpec) -> JobSpec {
        match &self.overrides {
            Some(o) => JobSpec {
                containers: o.clone(),
                ..job.clone()
            },
            None => job.clone(),
        }
    }

    /// When it was due to start: its scheduled time, or for a retry the end of its back-off.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.not_before.unwrap_or(self.scheduled_at)
    }

    /// From the time it was due to its task's start: `launch_delay` (fsched's part), then `provisioning` (ECS's).
    pub fn start_delay(&self) -> Option<chrono::Duration> {
        self.started_at.map(|s| s - self.due_at())
    }

    /// fsched's part of the start delay: from the time it was due to ECS accepting its task (the task's
    /// `createdAt`, by ECS's clock). It holds the tick's delivery, the function's start and the tick's own work.
    pub fn launch_delay(&self) -> Option<chrono::Duration> {
        Some(self.task.as_ref()?.created_at? - self.due_at())
    }

    /// ECS's part of the start delay: from accepting its task to its containers running (placement, the image
    /// pull, the containers' start).
    pub fn provisioning(&self) -> Option<chrono::Duration> {
        Some(self.started_at? - self.task.as_ref()?.created_at?)
    }

    /// From its task's start to its stop.
    pub fn runtime(&self) -> Option<chrono::Duration> {
        match (self.started_at, self.stopped_at) {
            (Some(start), Some(stop)) if self.task.is_some() => Some(stop - start),
            _ => None,
        }
    }

    /// The exit code that decided the run: the first non-zero of an essential container, else the first reported.
    pub fn exit_code(&self) -> Option<i32> {
        let containers = &self.task.as_ref()?.containers;
        let essential = || {
            containers
                .iter()
                .filter(|c| c.essential.unwrap_or(true))
                .filter_map(|c| c.exit_code)
        };
        essential()
            .find(|code| *code != 0)
            .or_else(|| essential().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::JobName;
    use chrono::TimeZone;

    fn job(name: &str) -> JobName {
        JobName::new(name).unwrap()
    }

    #[test]
    fn scheduled_ids_sort_in_time_order_and_round_trip() {
        let early = RunId::scheduled(
            &job("etl"),
            Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap(),
        );
        let late = RunId::scheduled(
            &job("etl"),
            Utc.with_ymd_and_hms(2026, 11, 29, 13, 0, 0).unwrap(),
        );
        assert_eq!(early.to_string(), "etl/20261129T010000Z");
        assert!(early.key() < late.key());
        assert_eq!(early.to_string().parse::<RunId>().unwrap(), early);
    }

    #[test]
    fn triggered_ids_keep_only_safe_characters() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        let id = RunId::triggered(
            &job("import"),
            at,
            'e',
            "6a7e8feb-b491-4cf7-a9f1-bf3703467718\"; DROP",
        );
        assert_eq!(
            id.to_string(),
            "import/20261129T010000Z-e6a7e8feb-b491-4cf7-a9f1-bf3703467718DROP"
        );
        assert_eq!(id.to_string().parse::<RunId>().unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_rejected_with_the_expected_shape() {
        for bad in [
            "etl",
            "etl/2026",
            "etl/20261329T010000Z",
            "etl/20261129T010000Z#x",
            "bad name/20261129T010000Z",
        ] {
            let err = bad.parse::<RunId>().unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn statuses_parse_leniently_and_only_open_ones_are_open() {
        assert_eq!(
            "timed-out".parse::<RunStatus>().unwrap(),
            RunStatus::TimedOut
        );
        assert!("done"
            .parse::<RunStatus>()
            .unwrap_err()
            .to_string()
            .contains("SUCCEEDED"));
        let open: Vec<_> = RunStatus::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(
            open,
            [
                RunStatus::Waiting,
                RunStatus::Claimed,
                RunStatus::Pending,
                RunStatus::Running
            ]
        );
    }
}
