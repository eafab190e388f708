//! `fsched jobs`, `fsched pause` and `fsched resume`: the stored jobs and their scheduling state.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::job::JobName;
use fsched_core::domain::schedule::Zone;
use fsched_core::ports::{JobStore, RunStore};
use fsched_core::service::jobs::{pause, resume, JobError};
use serde_json::json;

use crate::aws::AwsArgs;
use crate::output::{table, Format};
use crate::render;
use crate::Failure;

#[derive(clap::Args)]
pub struct ListArgs {
    /// `table` for people, `json` for scripts.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: Format,
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

fn job_name(name: &str) -> Result<JobName, Failure> {
    JobName::new(name).map_err(|e| Failure::Invalid(e.to_string()))
}

/// A job's times are shown in its own zone.
fn in_zone(t: Option<DateTime<Utc>>, zone: Zone) -> String {
    render::in_zone(t, zone, "%Y-%m-%d %H:%M %:z")
}

pub async fn list(args: ListArgs, aws: &AwsArgs, out: &mut impl Write) -> Result<(), Failure> {
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
    match args.output {
        Format::Json => {
            let items: Vec<_> = rows
                .iter()
                .map(|(j, last)| {
                    json!({
                        "name": j.name, "schedule": j.spec.schedule, "timezone": j.spec.timezone,
                        "next_fire": j.next_fire, "paused": j.spec.paused,
                        "last_run": last.as_ref().map(|r| json!({"id": r.id, "status": r.status, "scheduled_at": r.scheduled_at})),
                    })
                })
                .collect();
            writeln!(out, "{}", json!(items)).context("writing to stdout")?;
        }
        Format::Table => {
            let mut t = table(&[
                "NAME",
                "SCHEDULE",
                "ZONE",
                "NEXT FIRE",
                "LAST RUN",
                "PAUSED",
            ]);
            for (j, last) in &rows {
                t.add_row(vec![
                    j.name.to_string(),
                    j.spec.triggers(),
                    j.spec.timezone.to_string(),
                    in_zone(j.next_fire, j.spec.timezone),
                    last.as_ref()
                        .map_or("-".to_owned(), |r| r.status.to_string()),
                    if j.spec.paused {
                        "yes".to_owned()
                    } else {
                        "no".to_owned()
                    },
                ]);
            }
            writeln!(out, "{t}").context("writing to stdout")?;
        }
    }
    Ok(())
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
    out: &mut impl Write,
) -> Result<(), Failure> {
    let store = aws.store().await?;
    let job = match pause(&store, &job_name(&args.job)?).await {
        Ok(job) => job,
        Err(e) => return Err(job_failure(&store, e).await),
    };
    writeln!(out, "paused {}", job.name).context("writing to stdout")?;
    Ok(())
}

pub async fn resume_cmd(
    args: ResumeArgs,
    aws: &AwsArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let store = aws.store().await?;
    let job = match resume(&store, &job_name(&args.job)?, now, args.replay).await {
        Ok(job) => job,
        Err(e) => return Err(job_failure(&store, e).await),
    };
    writeln!(
        out,
        "resumed {}; next fire {}",
        job.name,
        in_zone(job.next_fire, job.spec.timezone)
    )
    .context("writing to stdout")?;
    Ok(())
}
