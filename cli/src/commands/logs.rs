//! `fsched logs RUN`: a run's container output from CloudWatch Logs, found from its task definition's `awslogs`
//! options and its task id (domain::logs); `--follow` keeps reading until the run has ended and nothing new comes.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::domain::logs::{streams, LogStream};
use fsched_core::domain::run::{Run, RunId};
use fsched_core::domain::trigger::stack_tag;
use fsched_core::ports::{JobStore, RunStore, TaskLauncher};

use crate::aws::AwsArgs;
use crate::output::{at, emit, Format};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The run's id, as `fsched runs` prints it (whole, or its short form with `…`).
    run: String,
    /// Only this container's output (default: every container that logs to CloudWatch).
    #[arg(long, short = 'c')]
    container: Option<String>,
    /// Keep reading new lines until the run has ended.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Only lines from the last this long (e.g. 10m, 2h) or since this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// How often --follow looks for new lines.
    #[arg(long, default_value = "2s", hide = true)]
    poll: humantime::Duration,
}

pub async fn run(
    args: Args,
    aws: &AwsArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let since = match &args.since {
        Some(text) => Some(super::runs::time_arg("since", text, now)?),
        None => None,
    };
    let config = aws.config().await?;
    let store = aws.store_with(&config).await?;
    let run = super::runs::find_run(&store, &args.run).await?;
    let id = run.id.clone();
    let ecs = EcsLauncher::new(aws_sdk_ecs::Client::new(&config), stack_tag(store.table()));
    let found = locate(&store, &ecs, &run, args.container.as_deref()).await?;
    let mut readers: Vec<Reader> = found
        .into_iter()
        .map(|stream| Reader::new(&config, stream))
        .collect();
    let many = readers.len() > 1;
    let start = since.map(|t| t.timestamp_millis());
    let mut run = run;
    loop {
        let mut printed = 0;
        for reader in &mut readers {
            for (millis, message) in reader.next(start).await? {
                let time = Utc.timestamp_millis_opt(millis).single().unwrap_or(now);
                let container = &reader.stream.container;
                if format.is_data() {
                    // One document per line, so a script reads --follow's stream as it comes.
                    let line = serde_json::json!({"run": id.to_string(), "container": container,
                                                  "time": at(time), "message": message});
                    emit(out, format, "LogLine", line).context("writing to stdout")?;
                } else {
                    let prefix = if many {
                        format!("[{container}] ")
                    } else {
                        String::new()
                    };
                    writeln!(
                        out,
                        "{} {prefix}{message}",
                        time.format("%Y-%m-%dT%H:%M:%SZ")
                    )
                    .context("writing to stdout")?;
                }
                printed += 1;
            }
        }
        out.flush().context("writing to stdout")?;
        if !args.follow || (!run.status.is_open() && printed == 0) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from(args.poll)).await;
        run = read_run(&store, &id).await?;
    }
}

/// The run again, to see whether it has ended.
async fn read_run<S: RunStore>(store: &S, id: &RunId) -> Result<Run, Failure> {
    store
        .get_run(id)
        .await
        .with_context(|| format!("reading run `{id}`"))?
        .ok_or_else(|| {
            Failure::Invalid(format!(
                "no run `{id}`: `fsched runs --job {}` lists its runs (records expire after the job's `history`)",
                id.job()
            ))
        })
}

/// Where the run's output is: its task's definition (as ECS reports the task, else the job's), read for its
/// containers' log configuration.
pub async fn locate<S: JobStore, L: TaskLauncher>(
    store: &S,
    ecs: &L,
    run: &Run,
    container: Option<&str>,
) -> Result<Vec<LogStream>, Failure> {
    let Some(task_arn) = run.task_arn.as_deref() else {
        return Err(Failure::Other(anyhow::anyhow!(
            "run `{}` has no task ({}): there is no output to show",
            run.id,
            run.status
        )));
    };
    let from_task = match &run.cluster {
        Some(cluster) => ecs
            .describe(cluster, &[task_arn.to_owned()])
            .await
            .ok()
            .and_then(|tasks| tasks.into_iter().next())
            .and_then(|t| t.task_definition_arn),
        None => None,
    };
    let definition = match from_task {
        Some(arn) => arn,
        // ECS forgets stopped tasks after about an hour: the job says which definition it runs.
        None => store
            .get_job(run.id.job())
            .await
            .context("reading the run's job")?
            .map(|j| j.spec.task_definition)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "ECS no longer knows task {task_arn} and job `{}` is gone: its task definition is unknown",
                    run.id.job()
                )
            })?,
    };
    let facts = ecs
        .definition(&definition)
        .await
        .with_context(|| format!("reading task definition `{definition}`"))?;
    streams(&facts.logs, task_arn, container).map_err(|e| Failure::Other(e.into()))
}

/// Reads one stream forward from where it left off.
struct Reader {
    client: aws_sdk_cloudwatchlogs::Client,
    stream: LogStream,
    token: Option<String>,
}

impl Reader {
    fn new(config: &aws_config::SdkConfig, stream: LogStream) -> Reader {
        let mut builder = aws_sdk_cloudwatchlogs::config::Builder::from(config);
        if let Some(region) = &stream.region {
            builder = builder.region(aws_config::Region::new(region.clone()));
        }
        Reader {
            client: aws_sdk_cloudwatchlogs::Client::from_conf(builder.build()),
            stream,
            token: None,
        }
    }

    /// The lines written since the last call (from `start`, milliseconds since the epoch, on the first).
    async fn next(&mut self, start: Option<i64>) -> anyhow::Result<Vec<(i64, String)>> {
        let mut out = Vec::new();
        loop {
            let page = self
                .client
                .get_log_events()
                .log_group_name(&self.stream.group)
                .log_stream_name(&self.stream.stream)
                .start_from_head(true)
                .set_start_time(start)
                .set_next_token(self.token.clone())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if is_not_found(&e) => {
                    // The task has not written yet (or never started): nothing to show so far.
                    return Ok(out);
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "reading log stream `{}` in group `{}`",
                        self.stream.stream, self.stream.group
                    )))
                }
            };
            let events = page.events();
            out.extend(events.iter().map(|e| {
                (
                    e.timestamp().unwrap_or_default(),
                    e.message().unwrap_or_default().trim_end().to_owned(),
                )
            }));
            let next = page.next_forward_token().map(str::to_owned);
            // The same token back means the end of the stream for now.
            let done = events.is_empty() || next == self.token;
            self.token = next;
            if done {
                return Ok(out);
            }
        }
    }
}

fn is_not_found<E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

/// The last `n` lines of a stream (none when it does not exist yet), oldest first.
pub async fn tail(
    config: &aws_config::SdkConfig,
    stream: &LogStream,
    n: i32,
) -> anyhow::Result<Vec<String>> {
    let reader = Reader::new(config, stream.clone());
    let page = reader
        .client
        .get_log_events()
        .log_group_name(&stream.group)
        .log_stream_name(&stream.stream)
        .start_from_head(false)
        .limit(n)
        .send()
        .await;
    match page {
        Ok(page) => Ok(page
            .events()
            .iter()
            .map(|e| e.message().unwrap_or_default().trim_end().to_owned())
            .collect()),
        Err(e) if is_not_found(&e) => Ok(Vec::new()),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "reading log stream `{}` in group `{}`",
            stream.stream, stream.group
        ))),
    }
}
