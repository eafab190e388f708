//! Jobs: a named, validated definition of what to run (target), when (schedule) and how (policies), plus the
//! scheduling state the dispatcher keeps beside it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::alert::{Alert, Expect};
use super::cost::Prices;
use super::duration::Span;
use super::fan::Together;
use super::hash::fnv128;
use super::outbox::Pending;
use super::retry::RetryPolicy;
use super::schedule::{Expression, Schedule, SkippedTimes, Zone, DEFAULT_RATE_ANCHOR};

pub use super::name::{JobName, JobNameError, PoolName, JOB_NAME_MAX};
pub use repair::{repair, Repair};

mod repair;

/// How a task gets Fargate capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Launch {
    #[default]
    Fargate,
    Spot,
    /// FARGATE_SPOT, and FARGATE when Spot has no capacity.
    SpotWithFallback,
}

/// What to do when a run is due while the job's previous run is still in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overlap {
    #[default]
    Allow,
    Forbid,
    Replace,
    /// Start once the run in progress ends (at most one waiting; later ones are skipped), like Temporal's BufferOne.
    Queue,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Network {
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub assign_public_ip: bool,
}

/// Per-container overrides of the task definition.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
}

/// Retries of a failed launch (not of a task that ran and failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retries {
    pub attempts: u32,
    pub backoff: Span,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            attempts: 3,
            backoff: Span::from_secs(2),
        }
    }
}

/// A job's definition, after the jobs file's `defaults` are merged in. This is what `apply` stores and `plan` compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// When it runs on its own; `None`: only on events and on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Expression>,
    pub timezone: Zone,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub paused: bool,
    /// Run a fire whose wall time does not exist (spring forward) at the first valid minute after it.
    #[serde(default)]
    pub run_skipped_times: bool,

    pub cluster: String,
    pub task_definition: String,
    #[serde(default)]
    pub launch: Launch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(default)]
    pub network: Network,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub containers: BTreeMap<String, ContainerOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,

    #[serde(default)]
    pub overlap: Overlap,
    /// At most this many of the job's runs going at once: a fire or triggered run beyond it is SKIPPED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<u32>,
    pub catch_up: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runtime: Option<Span>,
    #[serde(default)]
    pub retries: Retries,
    pub history: Span,
    /// The price model for this job's runs; `None`: the built-in one (domain::cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    /// An EventBridge event pattern: each matching event runs the job (domain::trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_event: Option<serde_json::Value>,
    /// The bus `on_event` listens on: `None` is the stack's bus; `default` is the account's default bus, where AWS
    /// services (S3, CodePipeline, ...) send their events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus: Option<String>,
    /// What to do when Fargate Spot reclaims a run's capacity.
    #[serde(default, skip_serializing_if = "OnInterruption::is_default")]
    pub on_interruption: OnInterruption,
    /// Environment variables with a fixed value that a command ("Run Job", `fsched run --env`) may set. Variables
    /// the job fills from an event may always be given; every other fixed value stays as the file says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    /// Who is told about which outcomes (domain::alert).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
    /// How often the job must succeed (domain::health).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Running a run again that ended badly (domain::attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Each scheduled time starts up to this much later, by an offset the same every time (`Job::due_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Span>,
    /// Pools, parallel tasks and fan-in (domain::fan).
    #[serde(flatten)]
    pub together: Together,
}

/// What to do with a run Fargate Spot interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnInterruption {
    /// Record it INTERRUPTED and wait for the next scheduled time.
    #[default]
    Record,
    /// Also start a new run of the job at once (on the job's `launch`, so `spot-with-fallback` may get FARGATE).
    Rerun,
}

impl OnInterruption {
    fn is_default(&self) -> bool {
        *self == OnInterruption::Record
    }
}

impl JobSpec {
    pub const DEFAULT_CATCH_UP: Span = Span::from_secs(10 * 60);
    pub const DEFAULT_HISTORY: Span = Span::from_secs(90 * 86_400);

    /// What starts the job, in a few words: its schedule, `on event`, or both.
    pub fn triggers(&self) -> String {
        match (&self.schedule, &self.on_event) {
            (Some(s), None) => s.to_string(),
            (Some(s), Some(_)) => format!("{s} + on event"),
            (None, Some(_)) => "on event".to_owned(),
            (None, None) => match &self.together.after {
                Some(after) => {
                    let names: Vec<&str> = after.jobs.iter().map(JobName::as_str).collect();
                    format!("after {}", names.join(" + "))
                }
                None => "on demand".to_owned(),
            },
        }
    }

    /// A spec with every field at its default and nothing to run: a base for struct update syntax in checks and
    /// tests.
    pub fn placeholder() -> JobSpec {
        JobSpec {
            schedule: None,
            timezone: Zone::UTC,
            start: None,
            end: None,
            paused: false,
            run_skipped_times: false,
            cluster: String::new(),
            task_definition: String::new(),
            launch: Launch::default(),
            platform_version: None,
            network: Network::default(),
            containers: BTreeMap::new(),
            cpu: None,
            memory: None,
            tags: BTreeMap::new(),
            group: None,
            overlap: Overlap::default(),
            max_running: None,
            catch_up: Self::DEFAULT_CATCH_UP,
            max_runtime: None,
            retries: Retries::default(),
            history: Self::DEFAULT_HISTORY,
            prices: None,
            on_event: None,
            event_bus: None,
            on_interruption: OnInterruption::default(),
            params: Vec::new(),
            alerts: Vec::new(),
            expect: None,
            retry: None,
            jitter: None,
            together: Together::default(),
        }
    }
}

/// A stored job: its definition and version, and the scheduling state the dispatcher and `pause`/`resume` keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub name: JobName,
    pub spec: JobSpec,
    /// Bumped by every write; a write names the version it read, so concurrent writers cannot overwrite each other.
    pub version: u64,
    /// The next scheduled time not yet handled; `None` when the schedule has no more fires or the job is paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fire: Option<DateTime<Utc>>,
    /// The most recent scheduled time handled (claimed, skipped or missed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fire: Option<DateTime<Utc>>,
    /// Whether it succeeds as often as its `expect` says, and what it owes the bus about that.
    #[serde(default, skip_serializing_if = "Health::is_empty")]
    pub health: Health,
}

/// The health state the dispatcher and the recorder keep on a job with `expect`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Health {
    /// When the success window counts from: the end of the latest success, or the first fire after `expect` was
    /// applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// When the job became overdue, once announced; `None` while it is not overdue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_since: Option<DateTime<Utc>>,
    /// Announcements about the job, written with it and not yet sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Pending>,
}

impl Health {
    pub fn is_empty(&self) -> bool {
        *self == Health::default()
    }

    /// When the job becomes overdue if it does not succeed before; `None` without `expect`, while paused, or once
    /// overdue.
    pub fn deadline(&self, spec: &JobSpec) -> Option<DateTime<Utc>> {
        if self.overdue_since.is_some() || spec.paused {
            return None;
        }
        Some(self.since? + spec.expect?.success_within.to_chrono())
    }
}

impl Job {
    /// When the scheduled time `t` is due (`due_at`).
    pub fn due_at(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        due_at(&self.name, &self.spec, t)
    }

    /// When the dispatcher must look at the job next: its next fire (when it is due), the moment it becomes
    /// overdue, or, with announcements unsent, the time to send them again; whichever comes first.
    pub fn timer(&self) -> Option<DateTime<Utc>> {
        // The dispatcher sends a job's announcements (domain::health): they are due as soon as they are written.
        let unsent = self.health.outbox.iter().map(|p| p.time).min();
        let fire = self.next_fire.map(|t| self.due_at(t));
        [fire, self.health.deadline(&self.spec), unsent]
            .into_iter()
            .flatten()
            .min()
    }
}

/// When the scheduled time `t` of job `name` is due: `t` itself, or with `jitter` a stable offset below it, drawn
/// from the job's name and `t` (whoever looks, whenever, finds the same).
pub fn due_at(name: &JobName, spec: &JobSpec, t: DateTime<Utc>) -> DateTime<Utc> {
    match spec.jitter.map(|j| j.as_secs()).filter(|j| *j > 0) {
        Some(window) => {
            let h = fnv128(&[name.as_str(), &t.timestamp().to_string()]);
            t + chrono::Duration::seconds(((h >> 64) as u64 % window) as i64)
        }
        None => t,
    }
}

/// The job's schedule, as the dispatcher evaluates it; `None` for jobs that run only on events and on demand.
pub fn schedule_of(spec: &JobSpec) -> Option<Schedule> {
    let expression = spec.schedule.as_ref()?;
    let skipped = if spec.run_skipped_times {
        SkippedTimes::RunAfter
    } else {
        SkippedTimes::Skip
    };
    Some(
        Schedule::new(expression, spec.timezone)
            .anchored_at(spec.start.unwrap_or(DEFAULT_RATE_ANCHOR))
            .skipped_times(skipped),
    )
}

/// The job's first fire strictly after `after` within its `start`..`end` window (end exclusive), or `None` when
/// paused or finished.
pub fn next_fire(spec: &JobSpec, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if spec.paused {
        return None;
    }
    let schedule = schedule_of(spec)?;
    let from = match spec.start {
        Some(start) if start > after => start - chrono::Duration::seconds(1),
        _ => after,
    };
    schedule
        .next_after(from)
        .filter(|t| spec.end.is_none_or(|end| *t < end))
}

/// The job's first fire at or after `t`: where a job applied, changed or resumed at `t` starts (a fire at that very
/// instant is still the tick's to claim).
pub fn fire_from(spec: &JobSpec, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_fire(spec, t - chrono::Duration::seconds(1))
}

/// Whether the job is meant to fire on its own but its schedule has no fire after `now` (an `at()` in the past, a
/// `cron` naming a day that never comes, an `end` already passed): valid, and worth a warning.
pub fn never_fires(spec: &JobSpec, now: DateTime<Utc>) -> bool {
    spec.schedule.is_some() && !spec.paused && next_fire(spec, now).is_none()
}

/// Whether a change of spec moves the job's fire times (so its stored next fire must be recomputed).
pub fn moves_fires(from: &JobSpec, to: &JobSpec) -> bool {
    (
        &from.schedule,
        &from.timezone,
        from.start,
        from.end,
        from.paused,
        from.run_skipped_times,
    ) != (
        &to.schedule,
        &to.timezone,
        to.start,
        to.end,
        to.paused,
        to.run_skipped_times,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(schedule: &str, next: Option<&str>, last: Option<&str>) -> Job {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut spec = JobSpec::placeholder();
        spec.schedule = Some(schedule.parse().unwrap());
        Job {
            name: JobName::new("j").unwrap(),
            spec,
            version: 3,
            next_fire: next.map(t),
            last_fire: last.map(t),
            health: Default::default(),
        }
    }

    #[test]
    fn a_stored_next_fire_no_believable_clock_could_leave_is_repaired() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let slack = Span::from_secs(300);
        let fine = [
            stored(
                "rate(1 minute)",
                Some("2026-11-29T10:01:00Z"),
                Some("2026-11-29T10:00:00Z"),
            ),
            // Due and not yet handled (the dispatcher was down): catch-up's business, not a repair.
            stored("rate(1 minute)", Some("2026-11-29T08:00:00Z"), None),
            // A tick up to the slack ahead of this clock already handled 10:05.
            stored(
                "rate(1 minute)",
                Some("2026-11-29T10:06:00Z"),
                Some("2026-11-29T10:05:00Z"),
            ),
            // A one-off that fired has no next fire.
            stored(
                "at(2026-11-29T09:00:00)",
                None,
                Some("2026-11-29T09:00:00Z"),
            ),
            stored(
                "at(2026-11-29T10:03:00)",
                None,
                Some("2026-11-29T10:03:00Z"),
            ),
        ];
        for job in fine {
            assert_eq!(repair(&job, now, slack), None, "{job:?}");
        }
        let forged = stored("rate(1 minute)", None, Some("9999-12-31T23:59:00Z"));
        let mut far = forged.clone();
        far.next_fire = Some(DateTime::<Utc>::MAX_UTC);
        for job in [forged, far] {
            let r = repair(&job, now, slack).unwrap();
            assert_eq!(
                r.next_fire.unwrap().to_rfc3339(),
                "2026-11-29T10:01:00+00:00"
            );
            assert_eq!(r.last_fire, None);
        }
        let cron = stored("cron(0 2 * * ? *)", None, None);
        let r = repair(&cron, now, slack).unwrap();
        assert_eq!(
            r.next_fire.unwrap().to_rfc3339(),
            "2026-11-30T02:00:00+00:00"
        );
        let skipped = stored("cron(0 2 * * ? *)", Some("2026-12-05T02:00:00Z"), None);
        assert!(
            repair(&skipped, now, slack).is_some(),
            "five nights would be skipped"
        );
    }

    #[test]
    fn names_accept_the_safe_charset_only() {
        for ok in ["etl", "nightly-etl_v2", "0day", &"a".repeat(JOB_NAME_MAX)] {
            assert!(JobName::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(JobName::new(""), Err(JobNameError::Empty));
        assert!(matches!(
            JobName::new("-etl"),
            Err(JobNameError::BadStart(_))
        ));
        assert_eq!(
            JobName::new("etl/x").unwrap_err().to_string(),
            "job name `etl/x` contains `/`: use only letters, digits, `-` and `_`"
        );
        assert!(matches!(
            JobName::new("a".repeat(JOB_NAME_MAX + 1)),
            Err(JobNameError::TooLong(_))
        ));
        assert!(JobName::new("nightly étl").is_err());
    }

    #[test]
    fn names_deserialize_through_validation() {
        assert!(serde_json::from_str::<JobName>("\"etl\"").is_ok());
        let err = serde_json::from_str::<JobName>("\"e tl\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("contains ` `"), "{err}");
    }
}
