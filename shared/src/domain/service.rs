//! Services put to sleep and woken: when a service should be awake (periods a person can read, or explicit sleep and
//! wake schedules, in its zone), its next transition, and the state fsched keeps to restore exactly what was there.
//! Pure: the caller passes the instant.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::duration::Span;
use super::schedule::{Expression, Schedule, Zone};

/// A service's name in the jobs file: the same charset as job names.
pub use super::name::ServiceName;

/// A weekly period: on these days, from `start` to `end` (an `end` at or before `start` runs past midnight into
/// the next day). Written `weekdays 07:30-20:00`, `mon-fri 7:30-20:00`, `sat,sun 10:00-14:00`, `daily 08:00-18:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    text: String,
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn day(word: &str) -> Option<usize> {
    let w = word.trim().to_ascii_lowercase();
    let short = full_day(&w).unwrap_or(&w);
    DAYS.iter().position(|(name, _)| *name == short)
}

fn full_day(w: &str) -> Option<&'static str> {
    [
        ("monday", "mon"),
        ("tuesday", "tue"),
        ("wednesday", "wed"),
        ("thursday", "thu"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    ]
    .iter()
    .find(|(full, _)| *full == w)
    .map(|(_, short)| *short)
}

fn days(text: &str) -> Result<[bool; 7], String> {
    let mut out = [false; 7];
    match text.to_ascii_lowercase().as_str() {
        "daily" | "everyday" | "every-day" => return Ok([true; 7]),
        "weekdays" => return Ok([true, true, true, true, true, false, false]),
        "weekends" => return Ok([false, false, false, false, false, true, true]),
        _ => {}
    }
    for part in text.split(',') {
        let bad = || {
            format!("`{part}` is not a day: write mon..sun, a range like mon-fri, weekdays, weekends or daily")
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
                let mut d = a;
                loop {
                    out[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => out[day(part).ok_or_else(bad)?] = true,
        }
    }
    Ok(out)
}

fn time(text: &str) -> Result<NaiveTime, String> {
    if text == "24:00" {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("`{text}` is not a time of day: write HH:MM (24-hour)"))
}

impl FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape = || {
            format!("`{text}` is not a period: write DAYS HH:MM-HH:MM, e.g. `weekdays 07:30-20:00` or `sat 10:00-14:00`")
        };
        let (d, hours) = text.trim().rsplit_once(' ').ok_or_else(shape)?;
        let (s, e) = hours.split_once('-').ok_or_else(shape)?;
        let (start, end) = (time(s.trim())?, time(e.trim())?);
        // `24:00` ends the day: `00:00-24:00` is the whole day (an overnight period that ends at midnight).
        if start == end && e.trim() != "24:00" {
            return Err(format!(
                "`{text}`: a period must not start and end at the same time"
            ));
        }
        Ok(Period {
            text: text.trim().to_owned(),
            days: days(d.trim())?,
            start,
            end,
        })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Period {
    /// Whether the period covers the wall time `at`.
    fn covers(&self, date: NaiveDate, at: NaiveTime) -> bool {
        let today = self.days[date.weekday().num_days_from_monday() as usize];
        let yesterday = self.days[date
            .pred_opt()
            .map_or(0, |d| d.weekday().num_days_from_monday())
            as usize];
        if self.start < self.end {
            today && at >= self.start && at < self.end
        } else {
            (today && at >= self.start) || (yesterday && at < self.end)
        }
    }
}

/// When a service should be awake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Awake {
    /// Awake within any of these periods, asleep outside them.
    Periods(Vec<Period>),
    /// Asleep from each `sleep` fire until the next `wake` fire, and the other way round.
    Schedules { sleep: Expression, wake: Expression },
}

/// A metric that says whether a service is being used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleMetric {
    /// An Application Load Balancer target group's `RequestCount` (CloudWatch `AWS/ApplicationELB`).
    TargetGroup {
        load_balancer: String,
        target_group: String,
    },
    /// An SQS queue's `ApproximateNumberOfMessagesVisible` (CloudWatch `AWS/SQS`).
    Queue { queue: String },
}

/// Sleep a service that is awake outside its periods once its metric has been zero this long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idle {
    pub after: Span,
    pub metric: IdleMetric,
}

/// A service as declared in the jobs file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub cluster: String,
    pub service: String,
    pub timezone: Zone,
    pub awake: Awake,
    /// Tasks to run when woken; `None`: what it had before it slept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awake_count: Option<u32>,
    /// Reconcile every tick instead of only at transitions (manual changes are undone).
    #[serde(default)]
    pub enforce: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<Idle>,
    /// An EventBridge event pattern: each matching event wakes the service (until its next boundary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_on: Option<serde_json::Value>,
    /// The bus `wake_on` listens on (`None`: the stack's bus; `default`: the account's default bus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus: Option<String>,
}

/// What a service should be at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    Awake,
    Asleep,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Awake => "AWAKE",
            Phase::Asleep => "ASLEEP",
        })
    }
}

/// How far ahead transitions are looked for: a service whose periods never change state within this window (always
/// awake, or never) has no next transition.
const HORIZON_DAYS: i64 = 8;

impl ServiceSpec {
    /// What the service should be at `t`, by its periods or schedules alone.
    pub fn phase_at(&self, t: DateTime<Utc>) -> Phase {
        match &self.awake {
            Awake::Periods(periods) => {
                let local = t.with_timezone(&self.timezone.tz()).naive_local();
                let awake = periods.iter().any(|p| p.covers(local.date(), local.time()));
                if awake {
                    Phase::Awake
                } else {
                    Phase::Asleep
                }
            }
            Awake::Schedules { sleep, wake } => {
                let last = |expr: &Expression| {
                    let s = Schedule::new(expr, self.timezone);
                    let mut at = s.next_after(t - Duration::days(HORIZON_DAYS));
                    let mut last = None;
                    while let Some(fire) = at.filter(|f| *f <= t) {
                        last = Some(fire);
                        at = s.next_after(fire);
                    }
                    last
                };
                match (last(sleep), last(wake)) {
                    (Some(s), Some(w)) if s > w => Phase::Asleep,
                    (Some(_), None) => Phase::Asleep,
                    _ => Phase::Awake,
                }
            }
        }
    }

    /// The first time after `after` at which the service's phase changes, with the phase it changes to.
    pub fn next_transition(&self, after: DateTime<Utc>) -> Option<(DateTime<Utc>, Phase)> {
        let zone = self.timezone.tz();
        let now = self.phase_at(after);
        let mut candidates: Vec<DateTime<Utc>> = Vec::new();
        match &self.awake {
            Awake::Periods(periods) => {
                let today = after.with_timezone(&zone).date_naive();
                for offset in -1..=HORIZON_DAYS {
                    let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
                        continue;
                    };
                    for p in periods {
                        for at in [p.start, p.end] {
                            // A wall time skipped by DST moves to the first valid instant after it.
                            let local = date.and_time(at);
                            let utc = zone.from_local_datetime(&local).earliest().or_else(|| {
                                zone.from_local_datetime(&(local + Duration::hours(1)))
                                    .earliest()
                            });
                            candidates.extend(utc.map(|u| u.with_timezone(&Utc)));
                        }
                    }
                }
            }
            Awake::Schedules { sleep, wake } => {
                for expr in [sleep, wake] {
                    candidates.extend(Schedule::new(expr, self.timezone).next_after(after));
                }
            }
        }
        candidates.retain(|c| *c > after);
        candidates.sort();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|c| (c, self.phase_at(c)))
            .find(|(_, phase)| *phase != now)
    }
}

/// A service's scale as fsched saves it before sleeping, to restore on waking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub desired_count: u32,
    /// Application Auto Scaling min and max, when the service has a scalable target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<(u32, u32)>,
}

/// What fsched keeps about a service: its definition, its phase, what to restore, and when to look at it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: ServiceName,
    pub spec: ServiceSpec,
    /// Bumped by every write; writes are conditional on the version they read.
    pub version: u64,
    pub phase: Phase,
    /// Saved when put to sleep, before anything is changed; cleared once woken. Present while asleep (or while a
    /// sleep is half done), so a failure never loses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<Saved>,
    /// Woken on demand: awake until then at least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<DateTime<Utc>>,
    /// When the dispatcher must look at it next (a transition, the end of a hold, an idle check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_at: Option<DateTime<Utc>>,
    /// The last scale change fsched made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// The period boundary the service waits for: at it, the service takes the phase its periods want. Between
    /// boundaries, changes made by hand (or on demand) stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_at: Option<DateTime<Utc>>,
    /// The count it last woke to: what to save if it is found at 0 when put to sleep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_awake_count: Option<u32>,
}

impl ServiceState {
    /// A newly declared service: taken as awake, with its first boundary now, so the first tick gives it the phase
    /// its periods want.
    pub fn declared(name: ServiceName, spec: ServiceSpec, now: DateTime<Utc>) -> ServiceState {
        ServiceState {
            name,
            spec,
            version: 1,
            phase: Phase::Awake,
            saved: None,
            hold_until: None,
            check_at: Some(now),
            changed_at: None,
            transition_at: Some(now),
            last_awake_count: None,
        }
    }

    /// Whether it is awake outside its periods now (woken on demand or by hand): where idle rules apply.
    pub fn awake_off_hours(&self, now: DateTime<Utc>) -> bool {
        self.phase == Phase::Awake && self.spec.phase_at(now) == Phase::Asleep
    }
}

/// What asked for a scale change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScaleTrigger {
    Schedule,
    Event {
        source: String,
        id: String,
    },
    Cli {
        by: String,
    },
    Idle {
        metric: String,
    },
    /// A tick with `enforce: true` undid a change made outside fsched.
    Enforce,
}

/// One recorded scale change (or a change found made outside fsched).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleAction {
    pub service: ServiceName,
    pub at: DateTime<Utc>,
    pub to: Phase,
    /// Desired count before and after.
    pub from_count: u32,
    pub to_count: u32,
    pub trigger: ScaleTrigger,
    /// The task size of the service, for savings: CPU units and MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_memory: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When DynamoDB may delete the record, as Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// When the dispatcher must look at a service next: its boundary, the end of a hold, and (with `enforce`, or an idle
/// rule while awake off hours) within a few minutes.
pub fn check_after(state: &ServiceState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut at = state.transition_at.filter(|t| *t > now);
    let mut consider = |t: DateTime<Utc>| at = Some(at.map_or(t, |a| a.min(t)));
    if let Some(h) = state.hold_until.filter(|h| *h > now) {
        consider(h);
    }
    if state.spec.enforce {
        consider(now + Duration::minutes(1));
    }
    if state.spec.idle.is_some() && state.awake_off_hours(now) {
        consider(now + Duration::minutes(5));
    }
    at
}

/// The phase a service should have at `now`: its periods, unless held awake on demand.
pub fn wanted(state: &ServiceState, now: DateTime<Utc>) -> Phase {
    if state.hold_until.is_some_and(|h| h > now) {
        return Phase::Awake;
    }
    state.spec.phase_at(now)
}

/// A change `fsched apply` makes to the declared services.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceChange {
    Add {
        name: ServiceName,
        spec: ServiceSpec,
    },
    Update {
        current: Box<ServiceState>,
        spec: ServiceSpec,
    },
    Remove {
        current: Box<ServiceState>,
    },
    /// Stored but not in the file, and not pruned.
    Keep {
        current: Box<ServiceState>,
    },
}

impl fmt::Display for ServiceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceChange::Add { name, spec } => write!(
                f,
                "+ service {name}  ({} in {})",
                spec.awake_words(),
                spec.timezone
            ),
            ServiceChange::Update { current, spec } => {
                write!(
                    f,
                    "~ service {}  ({} in {})",
                    current.name,
                    spec.awake_words(),
                    spec.timezone
                )
            }
            ServiceChange::Remove { current } => write!(
                f,
                "- service {}  (not in the file; removed by --prune)",
                current.name
            ),
            ServiceChange::Keep { current } => {
                write!(
                    f,
                    "  service {}  (not in the file; kept, --prune would remove it)",
                    current.name
                )
            }
        }
    }
}

impl ServiceSpec {
    /// When it is awake, in the jobs file's words.
    pub fn awake_words(&self) -> String {
        match &self.awake {
            Awake::Periods(p) => p
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Awake::Schedules { sleep, wake } => format!("sleep {sleep}, wake {wake}"),
        }
    }
}

/// What `apply` would change to make the stored services the file's.
pub fn plan_services(
    file: &std::collections::BTreeMap<ServiceName, ServiceSpec>,
    stored: &[ServiceState],
    prune: bool,
) -> Vec<ServiceChange> {
    let mut out = Vec::new();
    for (name, spec) in file {
        match stored.iter().find(|s| &s.name == name) {
            None => out.push(ServiceChange::Add {
                name: name.clone(),
                spec: spec.clone(),
            }),
            Some(current) if &current.spec != spec => out.push(ServiceChange::Update {
                current: Box::new(current.clone()),
                spec: spec.clone(),
            }),
            Some(_) => {}
        }
    }
    for current in stored.iter().filter(|s| !file.contains_key(&s.name)) {
        let current = Box::new(current.clone());
        out.push(if prune {
            ServiceChange::Remove { current }
        } else {
            ServiceChange::Keep { current }
        });
    }
    out
}

/// What sleeping saved one service over a window: time asleep, task-hours not run, and their on-demand price.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Saving {
    pub asleep_seconds: i64,
    pub task_hours: f64,
    pub usd: f64,
}

/// The estimated cost avoided while services slept in `[from, to)`: for each sleep, the tasks it stopped
/// (`from_count`) times the time until it woke (or `to`), priced at Fargate on-demand x86_64 rates for the task's
/// size. `actions` must include the last action before `from` of each service, so a sleep that began earlier counts.
pub fn savings(
    actions: &[ScaleAction],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    prices: &super::cost::Prices,
) -> std::collections::BTreeMap<ServiceName, Saving> {
    let mut sorted: Vec<&ScaleAction> = actions.iter().collect();
    sorted.sort_by_key(|a| (a.service.clone(), a.at));
    let mut out: std::collections::BTreeMap<ServiceName, Saving> =
        std::collections::BTreeMap::new();
    let mut add = |a: &ScaleAction, end: DateTime<Utc>| {
        let start = a.at.max(from);
        let end = end.min(to);
        if end <= start || a.from_count == 0 {
            return;
        }
        let hours = (end - start).num_seconds() as f64 / 3600.0;
        let per_task = f64::from(a.task_cpu.unwrap_or(0)) / 1024.0 * prices.fargate_x86.vcpu_hour
            + f64::from(a.task_memory.unwrap_or(0)) / 1024.0 * prices.fargate_x86.gb_hour;
        let s = out.entry(a.service.clone()).or_default();
        s.asleep_seconds += (end - start).num_seconds();
        s.task_hours += hours * f64::from(a.from_count);
        s.usd +=
            hours * f64::from(a.from_count) * per_task * (1.0 - prices.discount_percent / 100.0);
    };
    for (i, a) in sorted.iter().enumerate() {
        if a.to != Phase::Asleep {
            continue;
        }
        let end = sorted[i + 1..]
            .iter()
            .find(|b| b.service == a.service && b.to == Phase::Awake)
            .map_or(to, |b| b.at);
        add(a, end);
    }
    out
}

#[cfg(test)]
mod tests;
