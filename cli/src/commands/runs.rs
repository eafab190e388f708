//! `fsched runs`: the recorded runs, newest first, from the table's run listing (Queries only, never a Scan).

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::job::JobName;
use fsched_core::domain::run::{Run, RunStatus};
use fsched_core::ports::Store;

use crate::aws::AwsArgs;
use crate::output::{table, Format};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Only this job's runs.
    #[arg(long)]
    job: Option<String>,
    /// Only runs with this status (e.g. failed, launch-failed, missed).
    #[arg(long)]
    status: Option<String>,
    /// Runs scheduled since this long ago (e.g. 24h, 7d) or this RFC 3339 time.
    #[arg(long, default_value = "24h")]
    since: String,
    /// Runs scheduled before this RFC 3339 time (default: now).
    #[arg(long)]
    until: Option<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
    #[command(flatten)]
    aws: AwsArgs,
}

fn time_arg(flag: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Failure> {
    if let Ok(span) = value.parse::<Span>() {
        return Ok(now - span.to_chrono());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            Failure::Invalid(format!(
                "--{flag} `{value}`: expected a duration such as 24h or 7d, or an RFC 3339 time such as \
                 2026-11-29T02:00:00Z"
            ))
        })
}

fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map_or("-".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M:%SZ").to_string()
    })
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{kept}…")
}

pub async fn run(args: Args, now: DateTime<Utc>, out: &mut impl Write) -> Result<(), Failure> {
    let since = time_arg("since", &args.since, now)?;
    let until = match &args.until {
        Some(u) => time_arg("until", u, now)?,
        None => now + chrono::Duration::seconds(1),
    };
    let status: Option<RunStatus> = args
        .status
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(Failure::Invalid)?;
    let job = args
        .job
        .as_deref()
        .map(JobName::new)
        .transpose()
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    let store = args.aws.store().await?;
    let runs: Vec<Run> = match &job {
        Some(job) => store
            .runs_of_job(job, usize::MAX)
            .await
            .with_context(|| format!("reading the runs of `{job}`"))?
            .into_iter()
            .filter(|r| r.scheduled_at >= since && r.scheduled_at < until)
            .collect(),
        None => store
            .runs_between(since, until, usize::MAX)
            .await
            .context("reading runs")?,
    };
    let runs: Vec<Run> = runs
        .into_iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .take(args.limit)
        .collect();
    match args.output {
        Format::Json => {
            writeln!(out, "{}", serde_json::json!(runs)).context("writing to stdout")?;
        }
        Format::Table => {
            let mut t = table(&[
                "RUN",
                "SCHEDULED",
                "STATUS",
                "LAUNCHED",
                "CAPACITY",
                "TRIES",
                "REASON",
            ]);
            for r in &runs {
                t.add_row(vec![
                    r.id.to_string(),
                    stamp(Some(r.scheduled_at)),
                    r.status.to_string(),
                    stamp(r.launched_at),
                    r.capacity.map_or("-", |c| c.as_str()).to_owned(),
                    r.attempts.to_string(),
                    shorten(r.reason.as_deref().unwrap_or("-"), 100),
                ]);
            }
            writeln!(out, "{t}").context("writing to stdout")?;
            if runs.is_empty() {
                writeln!(out, "no runs scheduled between {since} and {until}")
                    .context("writing to stdout")?;
            }
        }
    }
    Ok(())
}
