//! `fsched jobs`, `fsched pause` and `fsched resume`: the stored jobs and their scheduling state.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::job::{next_fire, JobName};
use fsched_core::domain::notify::local;
use fsched_core::domain::plan::fields;
use fsched_core::domain::schedule::Zone;
use fsched_core::ports::{JobStore, RunStore};
use fsched_core::service::jobs::{pause, resume, JobError};
use serde_json::json;

use crate::aws::AwsArgs;
use crate::output::{at_opt, emit, table, Format, Tz};
use crate::render;
use crate::Failure;

#[derive(clap::Args)]
pub struct ListArgs {}

#[derive(clap::Args)]
pub struct DescribeArgs {
    /// The job's name.
    job: String,
}

#[derive(clap::Args)]
pub struct PauseArgs {
    /// The job's name.
    job: String,
}

#[derive(clap::Args)]
pub struct ResumeArgs {
    /// The job's name.
    job: String,
    /// Also run the fires missed while paused (those still within the job's `catch_up`).
    #[arg(long)]
    replay: bool,
}

/// How many next fires and recent runs `fsched job` shows.
const DESCRIBE_FIRES: usize = 5;
const DESCRIBE_RUNS: usize = 5;

/// `fsched job NAME`: one stored job in full: its definition as stored, its next fires in its zone, its health and
/// alerts, and its latest runs.
pub async fn describe(
    args: DescribeArgs,
    aws: &AwsArgs,
    tz: &Tz,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let name = job_name(&args.job)?;
    let store = aws.store().await?;
    let job = crate::stored_job(&store, &name).await?;
    let runs = store
        .runs_of_job(&name, DESCRIBE_RUNS)
        .await
        .context("reading runs")?;
    let mut fires = Vec::new();
    let mut after = job.next_fire.map(|t| t - chrono::Duration::seconds(1));
    while let Some(t) = after.and_then(|a| next_fire(&job.spec, a)) {
        if fires.len() == DESCRIBE_FIRES {
            break;
        }
        fires.push(t);
        after = Some(t);
    }
    let zone = job.spec.timezone;
    if format.is_data() {
        emit(
            out,
            format,
            "Job",
            crate::contract::job(&job, &fires, &runs),
        )
        .context("writing to stdout")?;
        return Ok(());
    }
    let health = match (&job.spec.expect, job.health.overdue_since) {
        (_, Some(since)) => format!("OVERDUE since {}", local(since, zone)),
        (Some(e), None) => format!(
            "ok: expected to succeed within {}{}",
            e.success_within,
            job.health
                .since
                .map(|s| format!(", counting from {}", local(s, zone)))
                .unwrap_or_default()
        ),
        (None, None) => "not watched (no `expect`)".to_owned(),
    };
    let mut lines = vec![
        ("job".to_owned(), job.name.to_string()),
        (
            "runs on".to_owned(),
            format!("{} in {zone}", job.spec.triggers()),
        ),
        (
            "next fires".to_owned(),
            if fires.is_empty() {
                if job.spec.paused {
                    "none: paused".to_owned()
                } else {
                    "none".to_owned()
                }
            } else {
                fires
                    .iter()
                    .map(|t| match job.due_at(*t) {
                        due if due == *t => local(*t, zone),
                        due => format!(
                            "{} (starts {} with jitter)",
                            local(*t, zone),
                            local(due, zone)
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        ),
        ("health".to_owned(), health),
        ("version".to_owned(), job.version.to_string()),
    ];
    if let Some(r) = &job.spec.retry {
        let on: Vec<&str> = r.on.iter().map(|e| e.as_str()).collect();
        let mut text = format!(
            "{} attempts in all on {}, {} back-off doubling up to {}, within {} of the due time",
            r.attempts,
            on.join(", "),
            r.backoff,
            r.max_backoff,
            r.max_age
        );
        if !r.only_exit_codes.is_empty() {
            text.push_str(&format!("; only exit codes {:?}", r.only_exit_codes));
        }
        if !r.never_exit_codes.is_empty() {
            text.push_str(&format!("; never exit codes {:?}", r.never_exit_codes));
        }
        if !r.only_reasons.is_empty() {
            text.push_str(&format!("; only stop reasons {:?}", r.only_reasons));
        }
        if !r.never_reasons.is_empty() {
            text.push_str(&format!("; never stop reasons {:?}", r.never_reasons));
        }
        lines.push(("retry".to_owned(), text));
    }
    let together = &job.spec.together;
    if let Some(pool) = &together.pool {
        let text = format!(
            "{} (at most {} runs of its jobs at once)",
            pool.name, pool.size
        );
        lines.push(("pool".to_owned(), text));
    }
    if let Some(n) = together.parallel {
        let text = format!(
            "{n} tasks per run (FSCHED_INDEX 0-{}, FSCHED_COUNT {n})",
            n - 1
        );
        lines.push(("parallel".to_owned(), text));
    }
    if let Some(after) = &together.after {
        let names: Vec<String> = after.jobs.iter().map(|j| j.to_string()).collect();
        let text = format!(
            "{} succeeded the same day (waits at most {} after the first)",
            names.join(" and "),
            after.window
        );
        lines.push(("after".to_owned(), text));
    }
    if !together.feeds.is_empty() {
        let names: Vec<String> = together.feeds.iter().map(|j| j.to_string()).collect();
        lines.push(("feeds".to_owned(), names.join(", ")));
    }
    for alert in &job.spec.alerts {
        let on: Vec<&str> = alert.on.iter().map(|o| o.as_str()).collect();
        lines.push((
            "alerts".to_owned(),
            format!("{} on {}", alert.to, on.join(", ")),
        ));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
    for (key, value) in &lines {
        for (i, line) in value.lines().enumerate() {
            let key = if i == 0 { key.as_str() } else { "" };
            writeln!(out, "{key:width$}{line}").context("writing to stdout")?;
        }
    }
    writeln!(out, "\ndefinition (as stored)").context("writing to stdout")?;
    for (field, value) in fields(&job.spec) {
        writeln!(out, "  {field}: {value}").context("writing to stdout")?;
    }
    writeln!(out, "\nlatest runs").context("writing to stdout")?;
    if runs.is_empty() {
        writeln!(out, "  none yet: `fsched run {name}` starts one now")
            .context("writing to stdout")?;
    } else {
        // The job's own zone is at hand: no need to read every job's.
        let times = crate::output::Times {
            tz: tz.clone(),
            jobs: [(name.to_string(), zone)].into(),
        };
        writeln!(out, "{}", render::runs_table(&runs, &times, format))
            .context("writing to stdout")?;
    }
    Ok(())
}

/// A job name as a command was given it; one that cannot be a name is invalid input (exit 2).
pub(crate) fn job_name(name: &str) -> Result<JobName, Failure> {
    JobName::new(name).map_err(|e| Failure::Invalid(e.to_string()))
}

/// A job's time as `--tz` says (its own zone by default), to the minute.
fn in_zone(t: Option<DateTime<Utc>>, zone: Zone, tz: &Tz) -> String {
    tz.show(t, zone, "%Y-%m-%d %H:%M %:z")
}

pub async fn list(
    _: ListArgs,
    aws: &AwsArgs,
    tz: &Tz,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let store = aws.store().await?;
    let jobs = store.list_jobs().await.context("reading the stored jobs")?;
    let mut rows = Vec::new();
    for job in &jobs {
        let last = store
            .runs_of_job(&job.name, 1)
            .await
            .context("reading runs")?
            .into_iter()
            .next();
        rows.push((job, last));
    }
    if format.is_data() {
        let items: Vec<_> = rows
            .iter()
            .map(|(j, last)| crate::contract::job_row(j, last.as_ref()))
            .collect();
        emit(out, format, "JobList", json!(items)).context("writing to stdout")?;
        return Ok(());
    }
    let next = format!("NEXT FIRE ({})", tz.label("job"));
    let mut header = vec!["NAME", "SCHEDULE", "ZONE", &next, "LAST RUN", "PAUSED"];
    if format == Format::Wide {
        header.extend(["LAST RUN ID", "VERSION"]);
    }
    let mut t = table(&header);
    for (j, last) in &rows {
        let mut row = vec![
            j.name.to_string(),
            j.spec.triggers(),
            j.spec.timezone.to_string(),
            in_zone(j.next_fire, j.spec.timezone, tz),
            last.as_ref()
                .map_or("-".to_owned(), |r| r.status.to_string()),
            if j.spec.paused { "yes" } else { "no" }.to_owned(),
        ];
        if format == Format::Wide {
            row.push(last.as_ref().map_or("-".to_owned(), |r| r.id.to_string()));
            row.push(j.version.to_string());
        }
        t.add_row(row);
    }
    writeln!(out, "{t}").context("writing to stdout")?;
    if rows.is_empty() {
        writeln!(
            out,
            "no jobs are stored yet: `fsched apply jobs.yaml` writes them (`fsched validate` checks the file first)"
        )
        .context("writing to stdout")?;
    }
    Ok(())
}

/// What `pause` and `resume` print for scripts (kind `JobState`).
fn job_state(job: &fsched_core::domain::job::Job) -> serde_json::Value {
    json!({"job": job.name.as_str(), "paused": job.spec.paused, "next_fire": at_opt(job.next_fire),
           "version": job.version})
}

async fn job_failure<S: fsched_core::ports::JobStore>(store: &S, e: JobError) -> Failure {
    match e {
        JobError::Unknown(name) => crate::unknown_job(store, name.as_str()).await,
        other => Failure::Other(other.into()),
    }
}

pub async fn pause_cmd(
    args: PauseArgs,
    aws: &AwsArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let store = aws.store().await?;
    let job = match pause(&store, &job_name(&args.job)?).await {
        Ok(job) => job,
        Err(e) => return Err(job_failure(&store, e).await),
    };
    if format.is_data() {
        emit(out, format, "JobState", job_state(&job)).context("writing to stdout")?;
    } else {
        writeln!(out, "paused {}", job.name).context("writing to stdout")?;
    }
    Ok(())
}

pub async fn resume_cmd(
    args: ResumeArgs,
    aws: &AwsArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let store = aws.store().await?;
    let job = match resume(&store, &job_name(&args.job)?, now, args.replay).await {
        Ok(job) => job,
        Err(e) => return Err(job_failure(&store, e).await),
    };
    if format.is_data() {
        emit(out, format, "JobState", job_state(&job)).context("writing to stdout")?;
    } else {
        writeln!(
            out,
            "resumed {}; next fire {}",
            job.name,
            in_zone(job.next_fire, job.spec.timezone, &Tz::Job)
        )
        .context("writing to stdout")?;
    }
    Ok(())
}
