//! A world drawn from a seed: a start date (some weeks hold a daylight-saving change), a jobs file of N jobs and S
//! services using every schedule kind, zone and policy, how each job's tasks behave, and the services as ECS has
//! them before fsched touches them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::rng::Rng;

/// Weeks that hold a daylight-saving change in one of the zones used, and ordinary ones.
const STARTS: [(i32, u32, u32); 6] = [
    (2026, 3, 26), // Europe springs forward on the 29th: 02:30 Berlin does not exist that day
    (2026, 10, 22), // Europe falls back on the 25th: 02:30 Berlin happens twice
    (2026, 10, 29), // the US falls back on November 1st
    (2026, 4, 2),  // Sydney falls back on April 5th
    (2026, 6, 11),
    (2026, 11, 26),
];

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
];

/// How a job's tasks behave.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Typical run time, in seconds.
    pub runs_for: i64,
    /// Chance a task exits 1.
    pub fails: f64,
    /// Chance Fargate Spot reclaims a task on Spot.
    pub reclaimed: f64,
}

#[derive(Debug, Clone)]
pub struct ServiceSeed {
    pub name: String,
    pub desired: u32,
    pub autoscaling: Option<(u32, u32)>,
    /// Woken by requests to this host (`wake_on_request`), behind a load balancer rule and target group.
    pub request: Option<Routed>,
}

/// A request-woken service's place behind the load balancer.
#[derive(Debug, Clone)]
pub struct Routed {
    pub host: String,
    pub rule: String,
    pub group: String,
}

/// The stack's waker target group, which the sleeper points a sleeping service's rule at.
pub const WAKER_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fsched-waker/00000000000000ff";

#[derive(Debug, Clone)]
pub struct World {
    pub start: DateTime<Utc>,
    pub jobs_file: String,
    pub profiles: BTreeMap<String, Profile>,
    pub services: Vec<ServiceSeed>,
}

/// How busy a world's jobs are: which schedules its jobs are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fleet {
    /// What teams run on Fargate: most jobs daily, on weekdays or hourly; a few every few hours, in business
    /// hours or once; one in ten every 15 to 45 minutes (a task takes most of a minute to start, so more often
    /// is rare). About 13 fires a job a day.
    Typical,
    /// Every schedule kind equally likely, down to every 5 minutes: a quarter of the jobs fire every 5 to 45
    /// minutes, about 40 fires a job a day, and overlap policies are under constant pressure.
    Busy,
}

impl std::str::FromStr for Fleet {
    type Err = String;
    fn from_str(s: &str) -> Result<Fleet, String> {
        match s {
            "typical" => Ok(Fleet::Typical),
            "busy" => Ok(Fleet::Busy),
            _ => Err(format!("unknown fleet `{s}` (typical or busy)")),
        }
    }
}

/// The schedule and its typical period in seconds (for run times that sometimes outlast it).
fn schedule(rng: &mut Rng, fleet: Fleet, start: DateTime<Utc>, days: u32) -> (String, i64) {
    match fleet {
        Fleet::Busy => busy_schedule(rng, start, days),
        Fleet::Typical => match rng.below(20) {
            0..=6 => daily(rng),
            7..=9 => weekdays(rng),
            10..=12 => hourly(rng),
            13 | 14 => {
                if rng.chance(0.5) {
                    ("rate(2 hours)".to_owned(), 7200)
                } else {
                    (format!("cron({} */6 * * ? *)", rng.below(60)), 6 * 3600)
                }
            }
            15 => once(rng, start, days),
            16 | 17 => business_hours(rng),
            18 => {
                let n = *rng.pick(&[15, 30]);
                (format!("cron(*/{n} * * * ? *)"), n * 60)
            }
            _ => {
                let n = *rng.pick(&[20, 45]);
                (format!("rate({n} minutes)"), n * 60)
            }
        },
    }
}

fn daily(rng: &mut Rng) -> (String, i64) {
    // Sometimes in the hour a daylight-saving change skips or repeats.
    let h = if rng.chance(0.4) { 2 } else { rng.below(24) };
    (
        format!("cron({} {h} * * ? *)", rng.pick(&[0, 15, 30, 45])),
        86_400,
    )
}

fn weekdays(rng: &mut Rng) -> (String, i64) {
    (
        format!("cron({} {} ? * MON-FRI *)", rng.below(60), rng.below(24)),
        86_400,
    )
}

fn hourly(rng: &mut Rng) -> (String, i64) {
    (format!("cron({} * * * ? *)", rng.below(60)), 3600)
}

/// A one-off within the simulated days, in the job's zone (written without an offset).
fn once(rng: &mut Rng, start: DateTime<Utc>, days: u32) -> (String, i64) {
    let at = start + Duration::minutes(60 + rng.below(u64::from(days) * 1440 - 120) as i64);
    (format!("at({})", at.format("%Y-%m-%dT%H:%M:00")), 86_400)
}

fn business_hours(rng: &mut Rng) -> (String, i64) {
    (
        format!("cron(0/{} 8-18 ? * * *)", rng.pick(&[20, 30])),
        1800,
    )
}

/// Every kind equally likely (the draws of the simulator's first worlds, so their seeds replay as they did).
fn busy_schedule(rng: &mut Rng, start: DateTime<Utc>, days: u32) -> (String, i64) {
    match rng.below(8) {
        0 => {
            let n = *rng.pick(&[5, 10, 15, 30]);
            (format!("cron(*/{n} * * * ? *)"), n * 60)
        }
        1 => hourly(rng),
        2 => daily(rng),
        3 => weekdays(rng),
        4 => {
            let n = *rng.pick(&[7, 20, 45]);
            (format!("rate({n} minutes)"), n * 60)
        }
        5 => {
            let n = *rng.pick(&[1, 3]);
            let unit = if n == 1 { "hour" } else { "hours" };
            (format!("rate({n} {unit})"), n * 3600)
        }
        6 => once(rng, start, days),
        _ => business_hours(rng),
    }
}

/// The world of `seed`, `days` long, with `jobs` jobs of `fleet` and `services` services.
pub fn world(rng: &mut Rng, fleet: Fleet, days: u32, jobs: usize, services: usize) -> World {
    let (y, m, d) = *rng.pick(&STARTS);
    let start = Utc
        .with_ymd_and_hms(y, m, d, rng.below(24) as u32, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    // Two pools the jobs may share (some jobs in each), so their limits are checked under every fault.
    let mut file = String::from(
        "version: 1\npools: { p0: 2, p1: 3 }\ndefaults:\n  cluster: batch\n  network:\n    subnets: [subnet-1]\n    security_groups: [sg-1]\n  \
         retries: { attempts: 3, backoff: 2s }\njobs:\n",
    );
    let mut profiles = BTreeMap::new();
    for i in 0..jobs {
        let name = format!("job-{i:02}");
        let (schedule, period) = schedule(rng, fleet, start, days);
        let zone = rng.pick(&ZONES);
        let overlap = rng.pick(&["allow", "forbid", "replace", "queue"]);
        let launch = rng.pick(&["fargate", "spot", "spot-with-fallback"]);
        let catch_up = rng.pick(&["5m", "15m", "1h", "3h"]);
        // Most runs take a fraction of the period; some outlast it, so overlap policies decide.
        let runs_for = if rng.chance(0.15) {
            period + 60 + rng.below(period as u64) as i64
        } else {
            30 + rng.below((period as u64 / 3).max(60)) as i64
        };
        file.push_str(&format!(
            "  {name}:\n    schedule: {schedule}\n    timezone: {zone}\n    task_definition: {name}:1\n    \
             overlap: {overlap}\n    launch: {launch}\n    catch_up: {catch_up}\n"
        ));
        if rng.chance(0.3) {
            // Sometimes shorter than the run: the dispatcher stops it, TIMED_OUT.
            let minutes = (runs_for / 60 + rng.below(3) as i64 - 1).max(1);
            file.push_str(&format!("    max_runtime: {minutes}m\n"));
        }
        if rng.chance(0.2) {
            file.push_str("    on_interruption: rerun\n");
        }
        if rng.chance(0.3) {
            let backoff = rng.pick(&["1m", "5m"]);
            file.push_str(&format!(
                "    retry: {{ attempts: {}, backoff: {backoff} }}\n",
                2 + rng.below(2)
            ));
        }
        if rng.chance(0.2) {
            file.push_str("    jitter: 3m\n");
        }
        // A typical fleet shares its pools among fewer jobs and fans fewer out.
        let (pooled, parallel) = match fleet {
            Fleet::Typical => (0.15, 0.08),
            Fleet::Busy => (0.3, 0.15),
        };
        if rng.chance(pooled) {
            file.push_str(&format!("    pool: {}\n", rng.pick(&["p0", "p1"])));
        }
        if rng.chance(parallel) {
            file.push_str(&format!("    parallel: {}\n", 2 + rng.below(2)));
        }
        // After an earlier job only, so the file has no loop.
        if i >= 2 && rng.chance(0.1) {
            file.push_str(&format!("    after: [job-{:02}]\n", rng.below(i as u64)));
        }
        profiles.insert(
            name,
            Profile {
                runs_for,
                fails: *rng.pick(&[0.0, 0.05, 0.3]),
                reclaimed: if launch.starts_with("spot") { 0.1 } else { 0.0 },
            },
        );
    }
    let mut seeds = Vec::new();
    if services > 0 {
        file.push_str("services:\n");
    }
    for i in 0..services {
        let name = format!("svc-{i}");
        let awake = rng.pick(&[
            "[weekdays 07:30-20:00]",
            "[daily 08:00-19:00]",
            "[daily 22:00-06:00]",
            "[mon-fri 09:00-12:00, mon-fri 13:00-17:30]",
        ]);
        let zone = rng.pick(&ZONES);
        let desired = 1 + rng.below(4) as u32;
        let autoscaling = rng
            .chance(0.5)
            .then(|| (desired, desired + rng.below(4) as u32));
        // Some are woken by requests: asleep unless someone opens them (or in their periods, for some).
        let request = rng.chance(0.4).then(|| Routed {
            host: format!("{name}.example.com"),
            rule: format!(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/00000000000000aa/\
                 00000000000000bb/{i:016x}"
            ),
            group: format!(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/{i:016x}"
            ),
        });
        file.push_str(&format!(
            "  {name}:\n    service: {name}\n    timezone: {zone}\n"
        ));
        match &request {
            Some(r) => {
                if rng.chance(0.5) {
                    file.push_str(&format!("    awake: {awake}\n"));
                }
                file.push_str(&format!(
                    "    wake_on_request:\n      hosts: [{}]\n      listener_rule: {}\n      target_group: {}\n      \
                     hold: {}\n",
                    r.host,
                    r.rule,
                    r.group,
                    rng.pick(&["10m", "30m"])
                ));
            }
            None => file.push_str(&format!("    awake: {awake}\n")),
        }
        seeds.push(ServiceSeed {
            name,
            desired,
            autoscaling,
            request,
        });
    }
    World {
        start,
        jobs_file: file,
        profiles,
        services: seeds,
    }
}
