//! The single-table key design (docs/table-design.md): which keys and index attributes each entity carries.
//! Everything that builds or parses a key lives here, so the design can be read in one place.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::domain::job::JobName;
use crate::domain::run::RunId;
use crate::domain::service::ServiceName;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Index `timers`: everything that needs the dispatcher's attention at a time, in one partition ordered by time.
pub const TIMERS_INDEX: &str = "timers";
pub const TIMER_PK: &str = "timer_pk";
pub const TIMER_SK: &str = "timer_sk";
/// Index `listing`: collections listed in order (all jobs by name; runs of one UTC day by time).
pub const LISTING_INDEX: &str = "listing";
pub const LIST_PK: &str = "list_pk";
pub const LIST_SK: &str = "list_sk";
/// Index `by-task`: a run by the ECS task it launched.
pub const BY_TASK_INDEX: &str = "by-task";
pub const TASK_ARN: &str = "task_arn";
/// TTL attribute: Unix seconds after which DynamoDB deletes the item.
pub const EXPIRES_AT: &str = "expires_at";

/// The one timers partition. A tick reads it with a single Query bounded by the tick's time.
pub const TIMERS_PARTITION: &str = "DUE";
pub const JOBS_PARTITION: &str = "JOBS";

/// Compact UTC stamp: fixed width, so lexical order is time order.
pub fn stamp(t: DateTime<Utc>) -> String {
    // Written out digit by digit rather than through `format("%Y%m%dT%H%M%SZ")`, which parses its pattern on every
    // call, or `format!`: keys are made on every write.
    let mut s = String::with_capacity(16);
    digits(&mut s, t.year().clamp(0, 9999) as u32, 4);
    digits(&mut s, t.month(), 2);
    digits(&mut s, t.day(), 2);
    s.push('T');
    digits(&mut s, t.hour(), 2);
    digits(&mut s, t.minute(), 2);
    digits(&mut s, t.second(), 2);
    s.push('Z');
    s
}

/// `n` as `width` decimal digits, zero-padded.
fn digits(s: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place)) % 10;
        s.push(char::from(b'0' + digit as u8));
    }
}

pub fn job_pk(job: &JobName) -> String {
    format!("JOB#{job}")
}

pub const JOB_SK: &str = "JOB";
pub const RUN_SK_PREFIX: &str = "RUN#";

pub fn run_sk(id: &RunId) -> String {
    format!("{RUN_SK_PREFIX}{}", id.key())
}

pub fn job_timer_sk(at: DateTime<Utc>, job: &JobName) -> String {
    format!("{}#JOB#{job}", stamp(at))
}

pub fn run_timer_sk(at: DateTime<Utc>, id: &RunId) -> String {
    format!("{}#RUN#{id}", stamp(at))
}

/// The upper bound of a timers Query for a tick at `now`: every timer at or before `now`, whatever follows the stamp.
pub fn timers_upto(now: DateTime<Utc>) -> String {
    format!("{}~", stamp(now))
}

pub const SERVICE_SK: &str = "SVC";
/// A pool's item: who holds its slots (`holders`, a string set of run ids).
pub const POOL_SK: &str = "POOL";
pub const POOL_HOLDERS: &str = "holders";

pub fn pool_pk(name: &crate::domain::job::PoolName) -> String {
    format!("POOL#{name}")
}
pub const SERVICES_PARTITION: &str = "SERVICES";

pub fn service_pk(name: &ServiceName) -> String {
    format!("SVC#{name}")
}

pub fn service_timer_sk(at: DateTime<Utc>, name: &ServiceName) -> String {
    format!("{}#SVC#{name}", stamp(at))
}

/// A scale action's sort key: its time (milliseconds, so two actions of one second stay apart) and phase.
pub fn action_sk(at: DateTime<Utc>, phase: &str) -> String {
    format!("ACT#{}#{phase}", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

pub fn actions_day_partition(day: NaiveDate) -> String {
    format!("ACTS#{}", day.format("%Y-%m-%d"))
}

pub fn action_list_sk(at: DateTime<Utc>, name: &ServiceName) -> String {
    format!("{}#{name}", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// The rollups' partition (domain::rollup): one item per settled UTC day, read in day order by one Query.
pub const ROLLUPS_PARTITION: &str = "ROLLUPS";

pub fn rollup_sk(day: NaiveDate) -> String {
    format!("DAY#{}", day.format("%Y-%m-%d"))
}

pub fn runs_day_partition(day: NaiveDate) -> String {
    // Written out, as `stamp` is: every run write makes this key.
    format!("RUNS#{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
}

pub fn run_list_sk(id: &RunId) -> String {
    // The run key starts with its UTC stamp; the job follows so that runs at the same time stay distinct.
    format!("{}#{}", id.key(), id.job())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stamps_are_chronos_pattern_written_out() {
        for t in [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.with_ymd_and_hms(2199, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        ] {
            assert_eq!(stamp(t), t.format("%Y%m%dT%H%M%SZ").to_string());
        }
    }

    #[test]
    fn a_days_runs_partition_is_chronos_pattern_written_out() {
        for day in [
            NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            NaiveDate::from_ymd_opt(2199, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
        ] {
            assert_eq!(
                runs_day_partition(day),
                format!("RUNS#{}", day.format("%Y-%m-%d"))
            );
        }
    }

    #[test]
    fn timer_keys_sort_by_time_and_fall_inside_the_tick_bound() {
        let job = JobName::new("zzz").unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2026, 11, 29, 1, 1, 0).unwrap();
        let run = RunId::scheduled(&JobName::new("aaa").unwrap(), t1);
        assert!(job_timer_sk(t1, &job) < run_timer_sk(t2, &run));
        assert!(job_timer_sk(t1, &job) <= timers_upto(t1));
        assert!(run_timer_sk(t1, &run) <= timers_upto(t1));
        assert!(job_timer_sk(t2, &job) > timers_upto(t1));
    }
}
