//! `fsched runs` and `fsched show`: the recorded runs, newest first, and one run in full, from Queries on the table's
//! key design (never a Scan).

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::job::JobName;
use fsched_core::domain::run::{Run, RunId, RunStatus, UnknownStatus};
use fsched_core::ports::{JobStore, RunStore};

use crate::aws::AwsArgs;
use crate::output::{at, emit, Format, Times, Tz};
use crate::render::{attempts_table, runs_table, show, tasks_table};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Only this job's runs.
    #[arg(long)]
    job: Option<String>,
    /// Only runs with this status: waiting, claimed, pending, running, succeeded, failed, timed-out, stopped,
    /// interrupted, unknown, launch-failed, skipped, missed or rejected (any case; `_` or `-`).
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
}

pub(crate) fn time_arg(
    flag: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Failure> {
    zoned_time_arg(flag, value, now, chrono_tz::UTC)
}

/// A time argument: a duration ago (`24h`, `7d`), an RFC 3339 time, or a date or date and wall time read in `zone`
/// (`2026-11-28`: its midnight; `2026-11-28 02:00` or `2026-11-28T02:00`).
pub(crate) fn zoned_time_arg(
    flag: &str,
    value: &str,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> Result<DateTime<Utc>, Failure> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    if let Ok(span) = value.parse::<Span>() {
        return Ok(now - span.to_chrono());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let wall = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| {
            [
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        });
    // A wall time a DST change skips is not a time; one it repeats is its first occurrence.
    if let Some(t) = wall.and_then(|w| zone.from_local_datetime(&w).earliest()) {
        return Ok(t.with_timezone(&Utc));
    }
    Err(Failure::Invalid(format!(
        "--{flag} `{value}`: expected a duration ago such as 24h or 7d, a date such as 2026-11-28 or \
         2026-11-28 02:00 (in {zone}), or an RFC 3339 time such as 2026-11-29T02:00:00Z"
    )))
}

/// A `--since`/`--until` window; without `--until` it ends at `open_end`.
pub(crate) fn window(
    since: &str,
    until: Option<&str>,
    open_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Failure> {
    let since = time_arg("since", since, now)?;
    let until = match until {
        Some(u) => time_arg("until", u, now)?,
        None => open_end,
    };
    Ok((since, until))
}

/// The window of runs a listing covers: `--since`, and `--until` or else now, a run scheduled this second included
/// (the window's end is exclusive).
pub(crate) fn runs_window(
    since: &str,
    until: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Failure> {
    window(since, until, now + chrono::Duration::seconds(1), now)
}

/// How times read under `--tz`: with `job`, each stored job's zone (one read of the jobs).
pub(crate) async fn times<S: JobStore>(store: &S, tz: &Tz) -> anyhow::Result<Times> {
    let jobs = match tz {
        Tz::Job => store
            .list_jobs()
            .await
            .context("reading the jobs' zones")?
            .into_iter()
            .map(|j| (j.name.to_string(), j.spec.timezone))
            .collect(),
        _ => Default::default(),
    };
    Ok(Times {
        tz: tz.clone(),
        jobs,
    })
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
    let status: Option<RunStatus> = args
        .status
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: UnknownStatus| Failure::Invalid(e.to_string()))?;
    let job = args
        .job
        .as_deref()
        .map(JobName::new)
        .transpose()
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    let store = aws.store().await?;
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
    // A job name that is neither stored nor in any run is a typo, not an empty history.
    if let Some(job) = job.as_ref().filter(|_| runs.is_empty()) {
        if store
            .get_job(job)
            .await
            .with_context(|| format!("reading job `{job}`"))?
            .is_none()
        {
            return Err(crate::unknown_job(&store, job.as_str()).await);
        }
    }
    // A parallel run's tasks are shown by `fsched show` of their run, which stands for them here.
    let matching: Vec<Run> = runs
        .into_iter()
        .filter(|r| r.fan.part.is_none() && status.is_none_or(|s| r.status == s))
        .collect();
    let total = matching.len();
    let runs: Vec<Run> = matching.into_iter().take(args.limit).collect();
    match format {
        Format::Json | Format::Yaml => {
            let items: Vec<_> = runs.iter().map(crate::contract::run).collect();
            let body = serde_json::json!({"since": at(since), "until": at(until), "total": total,
                                          "items": items});
            emit(out, format, "RunList", body).context("writing to stdout")?;
        }
        Format::Table | Format::Wide => {
            let times = times(&store, tz).await?;
            writeln!(out, "{}", runs_table(&runs, &times, format)).context("writing to stdout")?;
            if runs.is_empty() {
                writeln!(
                    out,
                    "No runs scheduled between {} and {}: a longer window shows more (e.g. --since 7d).",
                    times.at("", since),
                    times.at("", until)
                )
                .context("writing to stdout")?;
            } else if total > runs.len() {
                writeln!(
                    out,
                    "Showing the newest {} of {total} runs: --limit {total} shows them all.",
                    runs.len()
                )
                .context("writing to stdout")?;
            }
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The run's id, as `fsched runs` prints it (JOB/YYYYMMDDTHHMMSSZ..., or its short form with `…`).
    run: String,
}

/// The run `given` names: its full id, or the short form a table prints (`JOB/STAMP-e0f1a2b3c…`), found among the
/// runs of its job due at its time (one Query).
pub(crate) async fn find_run(store: &impl RunStore, given: &str) -> Result<Run, Failure> {
    let (head, tail) = given.split_once('…').unwrap_or((given, ""));
    let id: RunId = head
        .parse()
        .map_err(|e: fsched_core::domain::run::RunIdError| Failure::Invalid(e.to_string()))?;
    let missing = || {
        Failure::Invalid(format!(
            "no run `{given}`: `fsched runs --job {}` lists its runs (records expire after the job's `history`)",
            id.job()
        ))
    };
    if !given.contains('…') {
        return store
            .get_run(&id)
            .await
            .with_context(|| format!("reading run `{id}`"))?
            .ok_or_else(missing);
    }
    let due = chrono::NaiveDateTime::parse_from_str(&id.key()[..16], "%Y%m%dT%H%M%SZ")
        .map_err(|_| missing())?
        .and_utc();
    let found: Vec<Run> = store
        .runs_between(due, due + chrono::Duration::seconds(1), usize::MAX)
        .await
        .with_context(|| format!("reading the runs due at {due}"))?
        .into_iter()
        .filter(|r| {
            let full = r.id.to_string();
            full.starts_with(head) && full.ends_with(tail) && full.len() > head.len() + tail.len()
        })
        .collect();
    match found.len() {
        0 => Err(missing()),
        1 => Ok(found.into_iter().next().ok_or_else(missing)?),
        _ => {
            Err(Failure::Invalid(format!(
            "`{given}` could be any of {}: give the whole id (`fsched runs -o wide` prints them)",
            found.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(", ")
        )))
        }
    }
}

pub async fn show_cmd(
    args: ShowArgs,
    aws: &AwsArgs,
    tz: &Tz,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let config = aws.config().await?;
    let store = aws.store_with(&config).await?;
    let run = find_run(&store, &args.run).await?;
    // Only this run's job's zone is needed: one read, not every job's.
    let zone = match tz {
        Tz::Job => store
            .get_job(run.id.job())
            .await
            .context("reading the run's job")?
            .map(|j| (j.name.to_string(), j.spec.timezone)),
        _ => None,
    };
    let times = Times {
        tz: tz.clone(),
        jobs: zone.into_iter().collect(),
    };
    match format {
        Format::Json | Format::Yaml => emit(out, format, "Run", crate::contract::run(&run)),
        Format::Table | Format::Wide => {
            write!(out, "{}", show(&run, &times))?;
            if let Some(why) = why_not_retried(&store, &run).await {
                writeln!(out, "not retried: {why}")?;
            }
            let chain = attempts(&store, &run).await?;
            if chain.len() > 1 {
                write!(out, "\n{}", attempts_table(&chain, &times))?;
            }
            if let Some(tasks) = tasks_table(&run) {
                write!(out, "\n{tasks}")?;
            }
            writeln!(out, "\n{}", logs_at(&config, &store, &run).await)
        }
    }
    .context("writing to stdout")?;
    Ok(())
}

/// Every attempt of the run's scheduled time (or request), first to last: the chain `retried_as` links, from the
/// first run (one read per attempt; `retry.attempts` is at most 10).
async fn attempts(
    store: &fsched_core::aws::dynamo::DynamoStore,
    run: &Run,
) -> Result<Vec<Run>, Failure> {
    let mut next = Some(run.retry_of.clone().unwrap_or_else(|| run.id.clone()));
    let mut chain = Vec::new();
    while let Some(id) = next.take().filter(|_| chain.len() < 16) {
        let found = if id == run.id {
            Some(run.clone())
        } else {
            store
                .get_run(&id)
                .await
                .with_context(|| format!("reading run `{id}`"))?
        };
        let Some(found) = found else { break };
        next = found.retried_as.as_ref().map(|n| n.run.clone());
        chain.push(found);
    }
    Ok(chain)
}

/// Where the run's output is, for `show`: each container's group and stream and the command that prints them, or
/// why there is nothing to print.
async fn logs_at(
    config: &aws_config::SdkConfig,
    store: &fsched_core::aws::dynamo::DynamoStore,
    run: &Run,
) -> String {
    let ecs = fsched_core::aws::ecs::EcsLauncher::new(
        aws_sdk_ecs::Client::new(config),
        fsched_core::domain::trigger::stack_tag(store.table()),
    );
    match super::logs::locate(store, &ecs, run, None).await {
        Ok(streams) => {
            let mut text = String::from("logs:\n");
            for s in streams {
                text.push_str(&format!("  {s}\n"));
            }
            text.push_str(&format!("  print them: fsched logs {}", run.id));
            text
        }
        Err(failure) => format!("logs: {}", failure.message()),
    }
}

/// Why a run that ended badly was not run again, when its job has a `retry` (it ended in a way `retry` leaves, its
/// exit code or stop reason is ruled out, or it had no attempts or time left).
async fn why_not_retried(store: &impl JobStore, run: &Run) -> Option<String> {
    if run.retried_as.is_some() || run.status.is_open() {
        return None;
    }
    let job = store.get_job(run.id.job()).await.ok().flatten()?;
    let policy = job.spec.retry.as_ref()?;
    let ended = run.stopped_at.unwrap_or(run.claimed_at);
    fsched_core::domain::attempt::not_retried(policy, run, ended)
}
