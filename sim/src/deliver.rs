//! How each delivery is handled (the use case it invokes, as its Lambda function would) and what its outcome leads
//! to: Lambda's retries, the queue's redelivery, what the world learns (pauses, holds). Also where the world's
//! people act: ECS's reports queued (late, repeated, lost), commands sent, the jobs file changed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::service::ServiceName;
use fsched_core::domain::trigger::{Command, Inbound};
use fsched_core::ports::JobStore;
use fsched_core::service::dispatch::tick_deadline;
use fsched_core::service::trigger::Handled;
use tokio::time::Instant;

use crate::chaos::invocation;
use crate::world::{
    Outcome, Pending, Sim, Work, BUDGET, LAMBDA_RETRIES, SQS_RECEIVES, SQS_VISIBILITY,
};

impl Sim {
    /// Each kind of delivery's work is boxed on its own: the future of an `apply` is far larger than a tick's, and
    /// every delivery's future is moved into place.
    pub(crate) async fn handle(&self, p: &Pending) -> Outcome {
        let deadline = Instant::now() + BUDGET;
        match &p.work {
            Work::Tick(at) => {
                let at = *at;
                let done = invocation(
                    &self.faults,
                    || format!("tick {at}"),
                    Box::pin(async {
                        let mut report = self
                            .dispatcher
                            .tick(at, tick_deadline(Instant::now(), deadline))
                            .await
                            .map_err(|e| e.to_string())?;
                        let mut errors = std::mem::take(&mut report.errors);
                        for state in std::mem::take(&mut report.services) {
                            errors.extend(self.sleeper.check(state, at).await.errors);
                        }
                        if errors.is_empty() {
                            Ok(())
                        } else {
                            Err(errors.join("; "))
                        }
                    }),
                )
                .await;
                match done {
                    Some(Ok(())) => Outcome::Done(None),
                    _ => Outcome::Retry,
                }
            }
            Work::Apply(file) => match Box::pin(self.apply(file)).await {
                Ok(true) => Outcome::Done(None),
                Ok(false) => Outcome::Retry,
                Err(_) => Outcome::Drop,
            },
            Work::Report(task, at) => {
                let label = || format!("recorder {} {}", task.task_arn, task.last_status.as_str());
                let done = invocation(
                    &self.faults,
                    label,
                    Box::pin(self.recorder.record((**task).clone(), *at)),
                )
                .await;
                match done {
                    Some(Ok(_)) => Outcome::Done(None),
                    _ => Outcome::Retry,
                }
            }
            Work::Request(host) => {
                let now = self.now;
                let label = || format!("waker {host}");
                // The load balancer does not retry: the person asks again at the next minute of the burst.
                invocation(&self.faults, label, Box::pin(self.waker.request(host, now))).await;
                Outcome::Done(None)
            }
            Work::Command(inbound) => {
                let label = || format!("trigger {inbound:?}");
                let done = invocation(
                    &self.faults,
                    label,
                    Box::pin(self.triggers.handle((**inbound).clone(), deadline)),
                )
                .await;
                match done {
                    Some(Ok(handled)) => Outcome::Done(Some(handled)),
                    Some(Err(e)) if !e.is_retryable() => Outcome::Drop,
                    _ => Outcome::Retry,
                }
            }
        }
    }

    pub(crate) async fn after(&mut self, p: Pending, outcome: Outcome, now: DateTime<Utc>) {
        match (outcome, p.work) {
            (Outcome::Done(Some(handled)), work) => {
                if let Work::Command(inbound) = &work {
                    self.delivered.insert(command_id(inbound).to_owned());
                }
                self.handled(handled, now)
            }
            (Outcome::Done(None), Work::Apply(_)) => {
                // The file says `paused: false`: an apply resumes every paused job it read as paused
                // (docs/jobs-file.md). A pause handled after the apply read the jobs (the same minute) stays.
                for (job, from) in std::mem::take(&mut self.pause_open) {
                    let stored = self.mem.get_job(&job_name(&job)).await.ok().flatten();
                    if stored.is_some_and(|j| j.spec.paused) {
                        self.pause_open.insert(job, from);
                    } else {
                        self.paused.entry(job).or_default().push((from, now));
                    }
                }
            }
            (Outcome::Done(None), _) | (Outcome::Drop, _) => {}
            (Outcome::Retry, Work::Apply(file)) => {
                if p.attempt < 10 {
                    self.push(now + Duration::minutes(1), Work::Apply(file), p.attempt + 1);
                }
            }
            (Outcome::Retry, Work::Command(inbound)) => {
                if p.attempt + 1 < SQS_RECEIVES {
                    self.push(
                        now + Duration::minutes(SQS_VISIBILITY),
                        Work::Command(inbound),
                        p.attempt + 1,
                    );
                } else {
                    self.dead_letter(&inbound);
                }
            }
            (Outcome::Retry, work) => {
                if let Some(wait) = LAMBDA_RETRIES.get(p.attempt as usize) {
                    self.push(now + Duration::minutes(*wait), work, p.attempt + 1);
                }
            }
        }
    }

    /// A command that failed every receive goes to the dead-letter queue (FailedCommands, whose alarm tells the
    /// operator): unless a copy of it was handled or is still on its way, what it asked for never happens, so the
    /// world stops expecting it.
    fn dead_letter(&mut self, inbound: &Inbound) {
        self.dead_lettered += 1;
        let id = command_id(inbound);
        let pending = self.queue.values().any(|p| match &p.work {
            Work::Command(other) => command_id(other) == id,
            _ => false,
        });
        let Inbound::Command { command, time, .. } = inbound else {
            return;
        };
        if self.delivered.contains(id) || pending {
            return;
        }
        match command {
            Command::WakeService { service, .. } => {
                if let Some(holds) = self.holds.get_mut(service.as_str()) {
                    holds.retain(|(from, _)| from != time);
                }
            }
            Command::PauseJob { job, .. } if self.pause_open.get(job.as_str()) == Some(time) => {
                self.pause_open.remove(job.as_str());
            }
            _ => {}
        }
    }

    fn handled(&mut self, handled: Handled, now: DateTime<Utc>) {
        match handled {
            Handled::Resumed { job } => {
                if let Some(from) = self.pause_open.remove(&job) {
                    self.paused.entry(job).or_default().push((from, now));
                } else if let Some(last) = self.paused.get_mut(&job).and_then(|v| v.last_mut()) {
                    // A redelivered resume: the pause lasted until this handling at the latest.
                    last.1 = last.1.max(now);
                }
            }
            Handled::Paused { job } => {
                // Handled after an apply resumed the job: paused from now on.
                self.pause_open.entry(job).or_insert(now);
            }
            Handled::Run { .. } | Handled::Scaled { .. } | Handled::Ignored { .. } => {}
        }
    }

    /// Takes ECS's reports of this minute and schedules their delivery: mostly soon, sometimes late, repeated or lost.
    pub(crate) fn queue_reports(&mut self, now: DateTime<Utc>) {
        for report in self.ecs.take_reports() {
            let chaos = !self.quiet();
            if chaos && self.rng.chance(0.03) {
                self.reports_lost += 1;
                continue;
            }
            let copies = if chaos && self.rng.chance(0.05) { 2 } else { 1 };
            for _ in 0..copies {
                let delay = if chaos && self.rng.chance(0.05) {
                    5 + self.rng.below(40)
                } else {
                    self.rng.below(2)
                };
                let at = now + Duration::minutes(delay as i64);
                self.push(at, Work::Report(Box::new(report.clone()), now), 0);
            }
        }
    }

    /// Now and then a person sends a command: run a job, pause or resume one, wake a service for a while.
    pub(crate) fn maybe_command(&mut self, now: DateTime<Utc>) {
        if !self.rng.chance(1.0 / 90.0) {
            return;
        }
        self.commands += 1;
        let jobs: Vec<String> = self.world.profiles.keys().cloned().collect();
        let by = "sim".to_owned();
        let command = match self.rng.below(4) {
            0 if !self.world.services.is_empty() => {
                let service = self.rng.pick(&self.world.services).name.clone();
                let hold = Duration::minutes(15 + self.rng.below(120) as i64);
                self.holds
                    .entry(service.clone())
                    .or_default()
                    .push((now, now + hold));
                Command::WakeService {
                    service: ServiceName::new(&service).unwrap_or_else(|_| unreachable_name()),
                    hold: Some(fsched_core::domain::duration::Span::from_chrono(hold)),
                    requested_by: by,
                    request: false,
                }
            }
            1 => {
                let job: String = self.rng.pick(&jobs).clone();
                if self.pause_open.contains_key(&job) {
                    Command::ResumeJob {
                        job: job_name(&job),
                        replay: false,
                        requested_by: by,
                    }
                } else {
                    self.pause_open.insert(job.clone(), now);
                    Command::PauseJob {
                        job: job_name(&job),
                        requested_by: by,
                    }
                }
            }
            _ => Command::RunJob {
                job: job_name(self.rng.pick(&jobs).as_str()),
                values: BTreeMap::new(),
                request_id: format!("req-{}", self.commands),
                requested_by: by,
            },
        };
        let inbound = Inbound::Command {
            command,
            id: format!("evt-{}", self.commands),
            time: now,
            received: now,
            event: serde_json::json!({}),
        };
        let copies = if self.rng.chance(0.05) { 2 } else { 1 };
        for _ in 0..copies {
            self.push(now, Work::Command(Box::new(inbound.clone())), 0);
        }
    }

    /// The jobs file with one job's `max_runtime` changed (its fire times stay as they are).
    pub(crate) fn changed_file(&mut self) -> String {
        let n = self.rng.below(self.world.profiles.len() as u64);
        let minutes = 5 + self.rng.below(60);
        let marker = format!("  job-{n:02}:\n");
        let file = self
            .file
            .replace(&marker, &format!("{marker}    max_runtime: {minutes}m\n"));
        dedupe_max_runtime(&file)
    }
}

/// Keeps the first `max_runtime` of each job (a job given one twice keeps the newest).
fn dedupe_max_runtime(file: &str) -> String {
    let mut out = Vec::new();
    let mut seen = false;
    for line in file.lines() {
        if line.starts_with("  ") && !line.starts_with("    ") {
            seen = false;
        }
        if line.starts_with("    max_runtime:") {
            if seen {
                continue;
            }
            seen = true;
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

pub(crate) fn job_name(name: &str) -> fsched_core::domain::job::JobName {
    fsched_core::domain::job::JobName::new(name).unwrap_or_else(|_| unreachable_name())
}

fn unreachable_name<T>() -> T {
    panic!("the simulator's own names are valid")
}

fn command_id(inbound: &Inbound) -> &str {
    match inbound {
        Inbound::Command { id, .. } => id,
        _ => "",
    }
}
