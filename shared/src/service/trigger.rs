//! The trigger: runs asked for by events (a job's `on_event`) and commands ("Run Job", "Pause Job", "Resume Job"),
//! through the dispatcher's own launch path, so the job's policies apply exactly as for scheduled runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::dispatch::{Dispatcher, Start, TickReport};
use super::jobs::{pause, resume, JobError};
use super::scale::{ScaleReport, SleepError, Sleeper};
use crate::domain::job::{Job, JobName};
use crate::domain::run::{Run, Trigger};
use crate::domain::service::{Phase, ScaleTrigger};
use crate::domain::trigger::{is_dynamic, resolve, triggered_run_id, Command, Inbound, Rejection};
use crate::ports::{EventPublisher, Metrics, ServiceScaler, Store, StoreError, TaskLauncher};

/// What handling one delivery did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Handled {
    /// A run was asked for: what became of it (launched, rejected, skipped, a duplicate, deferred).
    Run {
        run: String,
        report: Box<TickReport>,
    },
    Paused {
        job: String,
    },
    Resumed {
        job: String,
    },
    /// A service woken or put to sleep on demand (empty lists: it already was).
    Scaled {
        service: String,
        report: ScaleReport,
    },
    /// An on_event delivery for a job that no longer listens (its rule is being removed by `apply`).
    Ignored {
        job: String,
        why: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The job does not exist (removed, or a typo in a command): retrying will not help.
    #[error("no job `{0}` is stored")]
    UnknownJob(JobName),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run was claimed but something was left for later (its launch is retried by the dispatcher's check).
    #[error("run {run}: {errors}")]
    Incomplete { run: String, errors: String },
    #[error(transparent)]
    Service(#[from] SleepError),
}

impl TriggerError {
    /// Whether delivering the same message again can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TriggerError::UnknownJob(_) => false,
            TriggerError::Store(e) => e.is_retryable() || matches!(e, StoreError::Conflict { .. }),
            TriggerError::Incomplete { .. } => true,
            TriggerError::Service(e) => e.is_retryable(),
        }
    }
}

/// One delivery handled: what the trigger function needs of this use case, so its handler is generic over one
/// parameter instead of the five adapters behind it.
pub trait Deliveries: Send + Sync {
    fn deliver(
        &self,
        inbound: Inbound,
        until: Instant,
    ) -> impl std::future::Future<Output = Result<Handled, TriggerError>> + Send;
}

impl<S: Store + Clone, L: TaskLauncher, P: EventPublisher, C: ServiceScaler, M: Metrics> Deliveries
    for Triggers<S, L, P, C, M>
{
    async fn deliver(&self, inbound: Inbound, until: Instant) -> Result<Handled, TriggerError> {
        self.handle(inbound, until).await
    }
}

pub struct Triggers<S, L, P, C, M> {
    dispatcher: Dispatcher<S, L, P>,
    sleeper: Sleeper<S, C, M, P>,
    store: S,
}

impl<S: Store + Clone, L: TaskLauncher, P: EventPublisher, C: ServiceScaler, M: Metrics>
    Triggers<S, L, P, C, M>
{
    pub fn new(dispatcher: Dispatcher<S, L, P>, sleeper: Sleeper<S, C, M, P>, store: S) -> Self {
        Triggers {
            dispatcher,
            sleeper,
            store,
        }
    }

    async fn job(&self, name: &JobName) -> Result<Job, TriggerError> {
        self.store
            .get_job(name)
            .await?
            .ok_or_else(|| TriggerError::UnknownJob(name.clone()))
    }

    /// Handles one delivery, stopping new work by `until`. "Now" is the time of the event or command, as the
    /// dispatcher's is its tick's: a redelivery replays the same decisions, and `max_runtime` counts from when the
    /// run was asked for.
    pub async fn handle(&self, inbound: Inbound, until: Instant) -> Result<Handled, TriggerError> {
        match inbound {
            Inbound::Event {
                job,
                source,
                id,
                time,
                received,
                event,
            } => {
                let job = self.job(&job).await?;
                if job.spec.on_event.is_none() {
                    return Ok(Handled::Ignored {
                        job: job.name.to_string(),
                        why: "the job no longer has on_event".to_owned(),
                    });
                }
                // Due at the event's time, claimed when received: a claim late into its day reopens the day's rollup.
                let run = Run::claimed(
                    triggered_run_id(&job.name, time, false, &id),
                    Trigger::Event { source, id },
                    time,
                    received.max(time),
                );
                self.run(job, run, &event, &BTreeMap::new(), time, until)
                    .await
            }
            Inbound::WakeOn {
                service,
                source,
                id,
                time,
            } => {
                let by = ScaleTrigger::Event { source, id };
                let report = self
                    .sleeper
                    .command(&service, Phase::Awake, None, by, time)
                    .await?;
                Ok(Handled::Scaled {
                    service: service.to_string(),
                    report,
                })
            }
            Inbound::Command {
                command,
                time,
                received,
                event,
                ..
            } => match command {
                Command::RunJob {
                    job,
                    values,
                    request_id,
                    requested_by,
                } => {
                    let job = self.job(&job).await?;
                    let run = Run::claimed(
                        triggered_run_id(&job.name, time, true, &request_id),
                        Trigger::Manual { by: requested_by },
                        time,
                        received.max(time),
                    );
                    self.run(job, run, &event, &values, time, until).await
                }
                Command::PauseJob { job, requested_by } => {
                    tracing::info!(%job, %requested_by, "pause");
                    let paused = pause(&self.store, &job).await.map_err(job_error)?;
                    Ok(Handled::Paused {
                        job: paused.name.to_string(),
                    })
                }
                Command::ResumeJob {
                    job,
                    replay,
                    requested_by,
                } => {
                    tracing::info!(%job, %requested_by, replay, "resume");
                    let resumed = resume(&self.store, &job, time, replay)
                        .await
                        .map_err(job_error)?;
                    Ok(Handled::Resumed {
                        job: resumed.name.to_string(),
                    })
                }
                Command::WakeService {
                    service,
                    hold,
                    requested_by,
                    request,
                } => {
                    let hold_until = hold.map(|h| time + h.to_chrono());
                    let by = match request {
                        true => ScaleTrigger::Request { by: requested_by },
                        false => ScaleTrigger::Cli { by: requested_by },
                    };
                    let report = self
                        .sleeper
                        .command(&service, Phase::Awake, hold_until, by, time)
                        .await?;
                    Ok(Handled::Scaled {
                        service: service.to_string(),
                        report,
                    })
                }
                Command::SleepService {
                    service,
                    requested_by,
                } => {
                    let by = ScaleTrigger::Cli { by: requested_by };
                    let report = self
                        .sleeper
                        .command(&service, Phase::Asleep, None, by, time)
                        .await?;
                    Ok(Handled::Scaled {
                        service: service.to_string(),
                        report,
                    })
                }
            },
        }
    }

    async fn run(
        &self,
        job: Job,
        run: Run,
        event: &Value,
        values: &BTreeMap<String, String>,
        now: DateTime<Utc>,
        until: Instant,
    ) -> Result<Handled, TriggerError> {
        let start = if job.spec.paused {
            Start::Reject(Rejection(
                "the job is paused: `fsched resume` it first".to_owned(),
            ))
        } else if values.is_empty() && !is_dynamic(&job.spec) {
            Start::Launch(None)
        } else {
            match resolve(&job.spec, event, values) {
                Ok(spec) => Start::Launch(Some(spec.containers)),
                Err(rejection) => Start::Reject(rejection),
            }
        };
        let id = run.id.to_string();
        let report = self.dispatcher.start(&job, run, start, now, until).await;
        if !report.errors.is_empty() {
            return Err(TriggerError::Incomplete {
                run: id,
                errors: report.errors.join("; "),
            });
        }
        Ok(Handled::Run {
            run: id,
            report: Box::new(report),
        })
    }
}

fn job_error(e: JobError) -> TriggerError {
    match e {
        JobError::Unknown(name) => TriggerError::UnknownJob(name),
        JobError::Store(s) => TriggerError::Store(s),
    }
}
