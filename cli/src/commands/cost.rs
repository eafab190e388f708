//! `fsched cost`: what the runs scheduled in a window cost, per job and in total. Settled days are read from their
//! rollups (service::report), so a long window reads about one item per day.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::service::report::{day_tallies, Report};

use super::runs::runs_window;
use crate::aws::AwsArgs;
use crate::output::{at, emit, Format, Times, Tz};
use crate::render::{by_job, cost_table};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Runs scheduled since this long ago (e.g. 30d), this date (its midnight, UTC: then every whole day is read
    /// from its rollup) or this RFC 3339 time.
    #[arg(long, default_value = "30d")]
    since: String,
    /// Runs scheduled before this RFC 3339 time (default: now).
    #[arg(long)]
    until: Option<String>,
}

pub async fn run(
    args: Args,
    aws: &AwsArgs,
    tz: &Tz,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (since, until) = runs_window(&args.since, args.until.as_deref(), now)?;
    let store = aws.store().await?;
    let report = day_tallies(&store, since, until, now)
        .await
        .context("reading runs and the days' rollups")?;
    if let Some(why) = report.refused.first() {
        eprintln!(
            "fsched: {} day(s)' rollups were not stored (first: {why}). The figures are right; the next report reads \
             those days' runs again.",
            report.refused.len()
        );
    }
    let by_job = by_job(&report.days);
    match format {
        Format::Json | Format::Yaml => {
            let jobs: Vec<_> = by_job
                .iter()
                .map(|(job, c)| {
                    serde_json::json!({"job": job, "runs": c.runs, "priced": c.priced,
                                       "billed_seconds": c.billed_seconds, "usd": c.usd})
                })
                .collect();
            let total = serde_json::json!({
                "runs": by_job.values().map(|c| c.runs).sum::<u64>(),
                "priced": by_job.values().map(|c| c.priced).sum::<u64>(),
                "billed_seconds": by_job.values().map(|c| c.billed_seconds).sum::<u64>(),
                "usd": by_job.values().map(|c| c.usd).fold(0.0, |a, b| a + b),
            });
            // How it was read (which days came from rollups) is left out: it differs from one call to the next,
            // and the document is what was found.
            let body = serde_json::json!({"since": at(since), "until": at(until), "jobs": jobs,
                                          "total": total});
            emit(out, format, "CostReport", body)
        }
        Format::Table | Format::Wide => {
            // A window is no one job's: in a named zone, UTC, or this machine's.
            let times = Times {
                tz: tz.clone(),
                jobs: Default::default(),
            };
            writeln!(
                out,
                "runs scheduled {} .. {}\n\n{}\n\nCosts are Fargate compute and storage from each task's size and \
                 billed seconds (docs/jobs-file.md#prices); open runs are not priced yet.\n{}",
                times.at("", since),
                times.at("", until),
                cost_table(&by_job),
                read_from(&report)
            )
        }
    }
    .context("writing to stdout")?;
    Ok(())
}

/// How the report was read: which days came from their rollups and how many runs were read.
fn read_from(report: &Report) -> String {
    let written = match report.written {
        0 => String::new(),
        n => format!(" ({n} settled day(s) among them rolled up now)"),
    };
    format!(
        "Read: {} day(s) from their rollups; {} run(s) of the other days{written}.",
        report.from_rollups, report.runs_read
    )
}
