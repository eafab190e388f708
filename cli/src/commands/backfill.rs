//! `fsched backfill JOB --from T --to T`: the job's scheduled times in a past range that have no run, run now, at
//! most `--max-parallel` at once (service::backfill). `--dry-run` lists them and changes nothing.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::service::backfill::{plan, start, BackfillError, MAX_PARALLEL};
use serde_json::json;

use super::runs::zoned_time_arg;
use crate::aws::{requester, AwsArgs};
use crate::output::{at, emit, table, Format};
use crate::render::stamp;
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The job, as `fsched jobs` lists it.
    job: String,
    /// The range's start (included): a date or date and time in the job's zone (2026-11-28, "2026-11-28 02:00"),
    /// an RFC 3339 time, or a duration ago (2d).
    #[arg(long)]
    from: String,
    /// The range's end (excluded), written like --from; at most now.
    #[arg(long)]
    to: String,
    /// Runs going at once (1-50): each one's end starts the next.
    #[arg(long, default_value_t = 1)]
    max_parallel: usize,
    /// List the times and what they have, change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(
    args: Args,
    aws: &AwsArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let name = super::jobs::job_name(&args.job)?;
    if !(1..=MAX_PARALLEL).contains(&args.max_parallel) {
        return Err(Failure::Invalid(format!(
            "--max-parallel {}: give 1 to {MAX_PARALLEL}",
            args.max_parallel
        )));
    }
    let config = aws.config().await?;
    let store = aws.store_with(&config).await?;
    let job = crate::stored_job(&store, &name).await?;
    let zone = job.spec.timezone.tz();
    let from = zoned_time_arg("from", &args.from, now, zone)?;
    let to = zoned_time_arg("to", &args.to, now, zone)?;
    let plan = match plan(&store, &name, from, to, now).await {
        Ok(plan) => plan,
        Err(BackfillError::Store(e)) => return Err(Failure::Other(e.into())),
        Err(e) => return Err(Failure::Invalid(e.to_string())),
    };
    let missing = plan.missing();
    let started = if args.dry_run || missing.is_empty() {
        None
    } else {
        let by = requester(&config, "backfill").await;
        match start(&store, &plan, args.max_parallel, &by, now).await {
            Ok(started) => Some(started),
            Err((started, e)) => {
                return Err(Failure::Other(anyhow::anyhow!(
                    "{e}: {} of {} runs were claimed; `fsched backfill` with the same range claims the rest",
                    started.claimed.len(),
                    missing.len()
                )))
            }
        }
    };
    if format.is_data() {
        let fires: Vec<_> = plan
            .fires
            .iter()
            .map(|(t, status)| {
                let run = fsched_core::domain::run::RunId::scheduled(&name, *t).to_string();
                json!({"scheduled_at": at(*t), "run": run, "existing": status})
            })
            .collect();
        let claimed: Vec<String> = started
            .iter()
            .flat_map(|s| s.claimed.iter().map(|id| id.to_string()))
            .collect();
        let body = json!({"job": name.as_str(), "from": at(from), "to": at(to), "dry_run": args.dry_run,
                          "max_parallel": args.max_parallel, "fires": fires, "claimed": claimed});
        emit(out, format, "Backfill", body).context("writing to stdout")?;
        return Ok(());
    }
    let scheduled = format!("SCHEDULED ({})", job.spec.timezone);
    let mut t = table(&[&scheduled, "RUN", "NOW"]);
    for (at, status) in &plan.fires {
        t.add_row(vec![
            crate::render::in_zone(Some(*at), job.spec.timezone, "%Y-%m-%d %H:%M %Z"),
            fsched_core::domain::run::RunId::scheduled(&name, *at).to_string(),
            match status {
                Some(s) => format!("has a run ({s})"),
                None if args.dry_run => "would run".to_owned(),
                None => "to run".to_owned(),
            },
        ]);
    }
    writeln!(out, "{t}").context("writing to stdout")?;
    let summary = match &started {
        _ if plan.fires.is_empty() => format!(
            "No scheduled time of {name} between {} and {}.",
            stamp(Some(from)),
            stamp(Some(to))
        ),
        _ if missing.is_empty() => {
            "Every scheduled time in the range has a run: nothing to backfill.".to_owned()
        }
        None => format!(
            "Dry run: {} of {} times would run, at most {} at once.",
            missing.len(),
            plan.fires.len(),
            args.max_parallel
        ),
        Some(s) => format!(
            "Backfill started: {} run(s) claimed, {} due now, the rest start as each ends (at most {} at once). \
             Follow them: fsched runs --job {name} --since {}",
            s.claimed.len(),
            s.claimed.len().min(args.max_parallel),
            args.max_parallel,
            from.format("%Y-%m-%dT%H:%M:%SZ")
        ),
    };
    writeln!(out, "{summary}").context("writing to stdout")?;
    Ok(())
}
