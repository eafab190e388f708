//! What the invariants watch as the world runs: every run write (a record never goes backwards), every announcement
//! of a final status (each announced, and repeated only where a fault allowed it), every scale change (a service
//! wakes to what it had before it slept). Violations are kept as sentences; the world adds the trace.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use fsched_core::domain::event::{BusEvent, Lifecycle};
use fsched_core::domain::run::{Run, RunId, RunStatus};
use fsched_core::ports::ServiceNow;

/// The announcement of a run's final status ("Run Retrying" when its job's `retry` runs it again).
pub fn final_detail(run: &Run) -> Option<&'static str> {
    // A parallel run's task: its end, retried or not, is the task's, not the job's.
    if run.fan.part.is_some() && !run.status.is_open() {
        return Some(Lifecycle::TaskEnded.detail_type());
    }
    if run.retried_as.is_some() && fsched_core::domain::attempt::ending(run.status).is_some() {
        return Some(Lifecycle::RunRetrying.detail_type());
    }
    let kind = match run.status {
        s if s.is_open() => return None,
        RunStatus::LaunchFailed => Lifecycle::RunLaunchFailed,
        RunStatus::Skipped => Lifecycle::RunSkipped,
        RunStatus::Missed => Lifecycle::RunMissed,
        RunStatus::Rejected => Lifecycle::RunRejected,
        s => Lifecycle::closing(s),
    };
    Some(kind.detail_type())
}

const FINAL_DETAILS: [&str; 12] = [
    "Run Retrying",
    "Run Task Ended",
    "Run Launch Failed",
    "Run Skipped",
    "Run Missed",
    "Run Rejected",
    "Run Succeeded",
    "Run Failed",
    "Run Timed Out",
    "Run Interrupted",
    "Run Stopped",
    "Run Lost",
];

#[derive(Debug, Clone)]
pub struct Announcement {
    pub run: String,
    pub detail_type: String,
    pub at: DateTime<Utc>,
    pub may_repeat: bool,
    /// The invocation that sent it, and which of its port calls the send was.
    pub sent_by: (u64, u64),
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// The world's time (set each step).
    pub now: DateTime<Utc>,
    pub violations: Vec<String>,
    pub announcements: Vec<Announcement>,
    /// Each service's scale when it was last put to sleep.
    saved: BTreeMap<String, (u32, Option<(u32, u32)>)>,
    pub sleeps: u64,
    pub wakes: u64,
    /// When each run's record first said it ended.
    pub closed_at: BTreeMap<RunId, DateTime<Utc>>,
    /// Runs whose end was corrected by their task's report.
    pub corrected: BTreeSet<String>,
}

impl Ledger {
    pub fn violation(&mut self, what: String) {
        self.violations
            .push(format!("at {}: {what}", self.now.format("%Y-%m-%dT%H:%MZ")));
    }

    /// A run record written over `before` (`None`: a claim of a new run).
    pub fn run_written(&mut self, before: Option<&Run>, after: &Run) {
        if !after.status.is_open()
            && before.is_none_or(|b| b.status.is_open())
            && !self.closed_at.contains_key(&after.id)
        {
            self.closed_at.insert(after.id.clone(), self.now);
        }
        let Some(before) = before else { return };
        let id = &after.id;
        // fsched's own endings without the task's word (LOST, or a stop whose task had ended on its own) may be
        // corrected to what the task reports; no other end changes.
        let correctable = matches!(
            before.status,
            RunStatus::Unknown | RunStatus::TimedOut | RunStatus::Stopped
        );
        if !before.status.is_open()
            && after.status != before.status
            && correctable
            && !after.status.is_open()
        {
            self.corrected.insert(id.to_string());
        } else if !before.status.is_open() && after.status != before.status {
            self.violation(format!(
                "run {id} went back from {} to {}",
                before.status.as_str(),
                after.status.as_str()
            ));
        }
        if let (Some(a), b) = (&before.task_arn, &after.task_arn) {
            if b.as_ref() != Some(a) {
                self.violation(format!("run {id} lost its task {a} (now {b:?})"));
            }
        }
        if after.revision <= before.revision {
            self.violation(format!(
                "run {id} written at revision {} over revision {}",
                after.revision, before.revision
            ));
        }
    }

    /// An event that reached the bus: the announcement's index when it announces a final status.
    pub fn announced(
        &mut self,
        event: &BusEvent,
        at: DateTime<Utc>,
        sent_by: (u64, u64),
    ) -> Option<usize> {
        if !FINAL_DETAILS.contains(&event.detail_type.as_str()) {
            return None;
        }
        let run = event.detail.get("run")?.as_str()?.to_owned();
        self.announcements.push(Announcement {
            run,
            detail_type: event.detail_type.clone(),
            at,
            may_repeat: false,
            sent_by,
        });
        Some(self.announcements.len() - 1)
    }

    pub fn may_repeat(&mut self, index: usize) {
        if let Some(a) = self.announcements.get_mut(index) {
            a.may_repeat = true;
        }
    }

    /// A service's scale changed from `before` to `after`.
    pub fn scaled(&mut self, service: &str, before: ServiceNow, after: ServiceNow) {
        if after.desired_count == 0 && before.desired_count > 0 {
            self.sleeps += 1;
            self.saved.insert(
                service.to_owned(),
                (before.desired_count, before.autoscaling),
            );
        } else if after.desired_count > 0 && before.desired_count == 0 {
            self.wakes += 1;
            let now = (after.desired_count, after.autoscaling);
            match self.saved.get(service) {
                Some(saved) if *saved == now => {}
                Some(saved) => self.violation(format!(
                    "service {service} woke with {now:?} (count, autoscaling bounds); it had {saved:?} before it slept"
                )),
                None => {}
            }
        }
    }

    /// Every run that ended was announced with its final status, never with another, and more than once only after
    /// a fault that could make its outbox be sent again. `runs`: the table at the end.
    pub fn check_announcements(&mut self, runs: &[Run]) {
        let mut by_run: BTreeMap<&str, Vec<&Announcement>> = BTreeMap::new();
        for a in &self.announcements {
            by_run.entry(a.run.as_str()).or_default().push(a);
        }
        let mut found = Vec::new();
        for run in runs {
            let id = run.id.to_string();
            let said = by_run.remove(id.as_str()).unwrap_or_default();
            let Some(want) = final_detail(run) else {
                if let Some(a) = said.first() {
                    found.push(format!(
                        "run {id} is {} but was announced `{}`",
                        run.status.as_str(),
                        a.detail_type
                    ));
                }
                continue;
            };
            if said.is_empty() {
                found.push(format!(
                    "run {id} ended {} and was never announced",
                    run.status.as_str()
                ));
            }
            // A corrected run announces both ends; EventBridge does not order events, and two senders of one outbox
            // may interleave, so only that the record's end is among them is checked.
            let corrected = self.corrected.contains(&id);
            if !said.is_empty() && !said.iter().any(|a| a.detail_type == want) {
                found.push(format!(
                    "run {id} ended {} but was never announced so",
                    run.status.as_str()
                ));
            }
            for (i, a) in said.iter().enumerate() {
                if a.detail_type != want && !corrected {
                    found.push(format!(
                        "run {id} ended {} but was announced `{}`",
                        run.status.as_str(),
                        a.detail_type
                    ));
                }
                // A repeat is allowed after a fault that left the outbox unemptied, or from two senders of the same
                // outbox at once: the recorder and the dispatcher finding the outbox due, or, within one tick, a
                // job's overlap check and the run's own check both closing the run from ECS's answer (the loser
                // of the write carries the winner's outbox and sends it too). At least once, with the same
                // content, which consumers and the trigger deduplicate.
                let earlier = &said[i.saturating_sub(1)];
                // Two senders in the same minute, not one sender sending it twice in a row.
                let (by, call) = a.sent_by;
                let again = earlier.sent_by.0 == by && call <= earlier.sent_by.1 + 1;
                let concurrent = earlier.at == a.at && !again;
                // A corrected end is announced again, "Run Retrying" both times when it was retried.
                if i > 0
                    && earlier.detail_type == a.detail_type
                    && !earlier.may_repeat
                    && !concurrent
                    && !corrected
                {
                    found.push(format!(
                        "run {id}: `{}` announced again at {} with no fault that could repeat it",
                        a.detail_type, a.at
                    ));
                }
            }
        }
        for (run, said) in by_run {
            found.push(format!(
                "`{}` announced for run {run}, which is not in the table",
                said[0].detail_type
            ));
        }
        for f in found {
            self.violation(f);
        }
    }
}
