//! `fsched run JOB`: asks for a run now by sending a "Run Job" command to the stack's bus, which the trigger
//! function turns into a run through the same path as events and schedules; `--wait` follows it to its end.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, SubsecRound, Utc};
use fsched_core::domain::hash::fnv128;
use fsched_core::domain::run::{RunId, RunStatus};
use fsched_core::domain::trigger::{resolve, triggered_run_id, unfilled, Command};
use fsched_core::ports::RunStore;

use crate::aws::{requester, AwsArgs};
use crate::output::{at, emit, Format};
use crate::render::{dollars, span};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The job to run.
    job: String,
    /// A value for a variable the job declares in a container's `environment` (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Follow the run to its end; exit non-zero unless it succeeds.
    #[arg(long)]
    wait: bool,
    /// With --wait: how long to wait for the trigger to record the run before giving up.
    #[arg(long, default_value = "90s", value_name = "DURATION")]
    record_timeout: humantime::Duration,
    /// With --wait: how often to look at the run.
    #[arg(long, default_value = "2s", value_name = "DURATION", hide = true)]
    poll: humantime::Duration,
}

fn values(pairs: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Failure::Invalid(format!("--env `{p}`: expected NAME=VALUE")))
        })
        .collect()
}

pub async fn run(
    args: Args,
    aws: &AwsArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let job = super::jobs::job_name(&args.job)?;
    let given = values(&args.env)?;
    let config = aws.config().await?;
    let store = aws.store_with(&config).await?;
    let stored = crate::stored_job(&store, &job).await?;

    let time = now.trunc_subsecs(0);
    let request_id = format!(
        "{:012x}",
        fnv128(&[
            &time.to_rfc3339(),
            &std::process::id().to_string(),
            &job.to_string()
        ]) as u64
            & 0xffff_ffff_ffff
    );
    let requested_by = requester(&config, "run").await;
    let command = Command::RunJob {
        job: job.clone(),
        values: given.clone(),
        request_id: request_id.clone(),
        requested_by: requested_by.clone(),
    };
    // The trigger resolves the values against the command's event: refuse here what it would reject, and send
    // nothing.
    let event = command.to_event(time).context("encoding the command")?;
    let delivered = serde_json::json!({"source": event.source, "detail-type": event.detail_type,
                                       "time": time, "detail": event.detail});
    // What the job reads from the event that triggers it, a manual run has to be given (or cannot be).
    let (vars, words) = unfilled(&stored.spec, &delivered, &given);
    if !words.is_empty() {
        return Err(Failure::Invalid(format!(
            "job `{job}`'s command reads {} from the event that triggers it, which `fsched run` has none of: \
             send that event instead (docs/events.md)",
            words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    if !vars.is_empty() {
        let each: Vec<String> = vars.iter().map(|(k, v)| format!("{k} (`{v}`)")).collect();
        let flags: Vec<String> = vars
            .iter()
            .map(|(k, _)| format!("--env {k}=VALUE"))
            .collect();
        return Err(Failure::Invalid(format!(
            "job `{job}` fills {} from the event that triggers it; a manual run has no such event: give {} with {}",
            each.join(", "),
            if vars.len() == 1 { "it" } else { "them" },
            flags.join(" ")
        )));
    }
    if let Err(rejection) = resolve(&stored.spec, &delivered, &given) {
        return Err(Failure::Invalid(format!(
            "job `{job}` cannot run with these values: {rejection}"
        )));
    }
    aws.send(&config, &command, time).await?;
    let id = triggered_run_id(&job, time, true, &request_id);
    if format.is_data() {
        let body = serde_json::json!({"run": id.to_string(), "job": job.as_str(), "requested_at": at(time),
                                      "requested_by": requested_by, "values": given});
        emit(out, format, "RunRequest", body)
    } else {
        writeln!(out, "{id}")
    }
    .context("writing to stdout")?;
    if !args.wait {
        return Ok(());
    }
    follow(&store, &id, &args, format, out).await
}

/// Prints each status change of the run (and of the attempts its retries add) until the last one ends; for scripts,
/// only the last attempt's `Run` document once it ended.
async fn follow(
    store: &impl RunStore,
    id: &RunId,
    args: &Args,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut record_by = tokio::time::Instant::now() + StdDuration::from(args.record_timeout);
    let mut last: Option<RunStatus> = None;
    let mut current = id.clone();
    loop {
        let id = &current;
        let run = store
            .get_run(id)
            .await
            .with_context(|| format!("reading run `{id}`"))?;
        match run {
            None if tokio::time::Instant::now() >= record_by => {
                return Err(Failure::Other(anyhow::anyhow!(
                    "run {id} was not recorded within {}: the command is on the bus, but the stack's trigger \
                     function has not handled it (see its TriggerQueue and FailedCommands queue)",
                    args.record_timeout
                )));
            }
            None => {}
            Some(run) if Some(run.status) != last => {
                last = Some(run.status);
                let now = Utc::now().format("%H:%M:%S");
                let detail = match run.status {
                    RunStatus::Pending => run.task_arn.clone().map(|a| format!("task {a}")),
                    s if !s.is_open() => Some(format!(
                        "{}{}{}{}",
                        run.reason.clone().unwrap_or_default(),
                        run.exit_code()
                            .map(|c| format!(", exit code {c}"))
                            .unwrap_or_default(),
                        run.runtime()
                            .map(|d| format!(", ran {}", span(Some(d))))
                            .unwrap_or_default(),
                        run.cost
                            .as_ref()
                            .map(|c| format!(", {}", dollars(c.usd)))
                            .unwrap_or_default(),
                    )),
                    _ => None,
                };
                match detail {
                    _ if format.is_data() => Ok(()),
                    Some(d) => writeln!(out, "{now}  {}  {d}", run.status),
                    None => writeln!(out, "{now}  {}", run.status),
                }
                .context("writing to stdout")?;
                // A run its job's `retry` runs again: follow the attempt to the chain's end.
                if let Some(next) = run.retried_as.as_ref().filter(|_| !run.status.is_open()) {
                    if !format.is_data() {
                        writeln!(
                            out,
                            "{now}  retrying as {} (attempt {}), due {}",
                            next.run,
                            next.number,
                            next.at.format("%H:%M:%S")
                        )
                        .context("writing to stdout")?;
                    }
                    current = next.run.clone();
                    last = None;
                    record_by =
                        tokio::time::Instant::now() + StdDuration::from(args.record_timeout);
                    continue;
                }
                if !run.status.is_open() {
                    if format.is_data() {
                        emit(out, format, "Run", crate::contract::run(&run))
                            .context("writing to stdout")?;
                    }
                    return if run.status == RunStatus::Succeeded {
                        Ok(())
                    } else {
                        Err(Failure::Other(anyhow::anyhow!(
                            "run {id} ended {}",
                            run.status
                        )))
                    };
                }
            }
            Some(_) => {}
        }
        tokio::time::sleep(StdDuration::from(args.poll)).await;
    }
}
