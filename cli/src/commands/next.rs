//! `fsched next EXPR`: the next fire times of a schedule, one RFC3339 timestamp per line in the schedule's zone.
//! Scripts rely on the output: nothing else is printed on stdout (or, with `-o json|yaml`, one `Fires` document).

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::schedule::{Schedule, SkippedTimes};

use crate::output::{at, emit, Format, Tz};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// `cron(...)`, `rate(...)` or `at(...)`, as EventBridge Scheduler writes them.
    expr: String,
    /// Print fires strictly after this time: RFC 3339, or a date or date and time in the zone (2027-01-01,
    /// "2027-01-01 08:00") [default: now].
    #[arg(long)]
    after: Option<String>,
    /// How many fires to print (fewer when the schedule ends).
    #[arg(long, default_value_t = 5)]
    count: usize,
    /// Anchor of a rate expression (a job's `start`), RFC3339 [default: 1970-01-01T00:00:00Z].
    #[arg(long)]
    start: Option<String>,
    /// Run fires whose wall time is skipped by a DST change at the first valid minute after it.
    #[arg(long)]
    run_skipped_times: bool,
}

fn instant(flag: &str, text: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Failure::Invalid(format!(
                "--{flag} `{text}` is not an RFC3339 instant ({e}), e.g. 2027-03-28T12:00:00Z"
            ))
        })
}

/// `tz` (the global `--tz`) is the zone the expression's wall times are in, and the output's: a named zone, or UTC
/// (also for `job`, the default, since there is no job here).
pub fn run(
    args: Args,
    tz: &Tz,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let zone =
        match tz {
            Tz::Zone(zone) => zone.as_str(),
            Tz::Utc | Tz::Job => "UTC",
            Tz::Local => return Err(Failure::Invalid(
                "--tz local: `next` needs the zone's name (its DST rules), e.g. --tz Europe/Berlin"
                    .to_owned(),
            )),
        };
    let mut schedule =
        Schedule::parse(&args.expr, zone).map_err(|e| Failure::Invalid(e.to_string()))?;
    if let Some(start) = &args.start {
        schedule = schedule.anchored_at(instant("start", start)?);
    }
    if args.run_skipped_times {
        schedule = schedule.skipped_times(SkippedTimes::RunAfter);
    }
    let after = match &args.after {
        Some(text) => super::runs::zoned_time_arg("after", text, now, schedule.zone())?,
        None => now,
    };
    let fires: Vec<DateTime<Utc>> = schedule.fires_after(after).take(args.count).collect();
    let printed = fires.len();
    if format.is_data() {
        let body = serde_json::json!({
            "expression": args.expr, "timezone": zone, "after": at(after),
            "fires": fires.iter().map(|t| at(*t)).collect::<Vec<_>>(),
        });
        emit(out, format, "Fires", body).context("writing to stdout")?;
    } else {
        for fire in &fires {
            writeln!(out, "{}", fire.with_timezone(&schedule.zone()).to_rfc3339())
                .context("writing to stdout")?;
        }
    }
    // Valid but silent: exit 0 (the expression is fine), and say so where a person looks.
    if printed == 0 {
        eprintln!(
            "`{}` in {} never fires after {}",
            args.expr,
            zone,
            after.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
    Ok(())
}
