//! A run's part in what goes together (domain::fan): the pool slot it holds, its place among a parallel run's
//! tasks, a parallel run's tally of its tasks' ends, and what a fan-in run waits for.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{RunId, RunStatus};
use crate::domain::cost::Cost;
use crate::domain::job::{JobName, PoolName};

/// A run's fan-out and fan-in state (flattened into the stored run).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunFan {
    /// The pool whose slot the run took (or asks for) when it launched: given back when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolName>,
    /// On a task of a parallel run: which one, and of which run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    /// On a parallel run: its tasks, and how those that ended did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Parts>,
    /// On a fan-in run: the day, the jobs it waits for, and the runs of theirs that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits: Option<Waits>,
    /// On a run that succeeded: the jobs whose `after` waits for its job (told by whoever sends its end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<JobName>,
}

/// One task of a parallel run, a run of its own (`RunId::task`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub of: RunId,
    pub index: u32,
    pub count: u32,
}

/// A parallel run's tasks: `count` of them, `ended` as each final end came in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Parts {
    pub count: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended: Vec<PartEnd>,
}

/// How one task of a parallel run ended (after its retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartEnd {
    pub index: u32,
    pub run: RunId,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
}

impl Parts {
    /// Counts a task's end once (a second report of it changes nothing); `true` when it was news.
    pub fn count_end(&mut self, end: PartEnd) -> bool {
        if self.ended.iter().any(|e| e.index == end.index) {
            return false;
        }
        self.ended.push(end);
        self.ended.sort_by_key(|e| e.index);
        true
    }

    pub fn all_ended(&self) -> bool {
        self.ended.len() as u32 >= self.count
    }

    /// The run's status once every task ended: SUCCEEDED when all did, else the first bad ending in order of
    /// what it says about the job (a failure before a timeout, before an interruption, ...), with why.
    pub fn outcome(&self) -> (RunStatus, String) {
        const WORST_FIRST: [RunStatus; 6] = [
            RunStatus::Failed,
            RunStatus::TimedOut,
            RunStatus::LaunchFailed,
            RunStatus::Interrupted,
            RunStatus::Unknown,
            RunStatus::Stopped,
        ];
        let bad: Vec<&PartEnd> = self
            .ended
            .iter()
            .filter(|e| e.status != RunStatus::Succeeded)
            .collect();
        let Some(status) = WORST_FIRST
            .into_iter()
            .find(|s| bad.iter().any(|e| e.status == *s))
            .or(bad.first().map(|e| e.status))
        else {
            return (
                RunStatus::Succeeded,
                format!("all {} tasks succeeded", self.count),
            );
        };
        let each: Vec<String> = bad
            .iter()
            .map(|e| match e.exit_code {
                Some(code) => format!("task {} {} (exit {code})", e.index, e.status),
                None => format!("task {} {}", e.index, e.status),
            })
            .collect();
        (
            status,
            format!(
                "{} of {} tasks did not succeed: {}",
                bad.len(),
                self.count,
                each.join(", ")
            ),
        )
    }

    /// What the tasks cost together (`None` until one reports a cost).
    pub fn cost(&self) -> Option<Cost> {
        self.ended
            .iter()
            .filter_map(|e| e.cost.clone())
            .reduce(|mut sum, c| {
                sum.usd += c.usd;
                sum.billed_seconds += c.billed_seconds;
                sum
            })
    }
}

/// What a fan-in run (`after:`) waits for: one success of each job for its day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waits {
    pub day: NaiveDate,
    pub jobs: Vec<JobName>,
    /// The successes counted so far, one per job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub met: Vec<RunId>,
}

impl Waits {
    /// Counts a success of one of the jobs once; `true` when it was news.
    pub fn meet(&mut self, run: &RunId) -> bool {
        if !self.jobs.contains(run.job()) || self.met.iter().any(|m| m.job() == run.job()) {
            return false;
        }
        self.met.push(run.clone());
        true
    }

    /// The jobs whose success has not come yet.
    pub fn missing(&self) -> Vec<&JobName> {
        self.jobs
            .iter()
            .filter(|j| !self.met.iter().any(|m| m.job() == *j))
            .collect()
    }
}
