//! What a task's reports mean for its run: the open status while it goes, and the final status with a reason a user
//! can act on once it stopped. fsched's own stops are recognised by the reason it gave StopTask.

use super::super::run::{RunId, RunStatus};
use super::super::task::TaskSnapshot;

/// fsched's StopTask reasons start with this, so whoever sees the stopped task (the recorder, a later check) can tell
/// fsched's stops from a user's.
pub const STOP_REASON_PREFIX: &str = "fsched: ";
/// The words of a `max_runtime` stop.
pub const TIMEOUT_WORDS: &str = "exceeded max_runtime";

/// The reason fsched gives StopTask when it stops a run's task.
pub fn stop_reason(run: &RunId, why: &str) -> String {
    format!("{STOP_REASON_PREFIX}run {run} {why}")
}

/// The open status a run has while its task is not stopped yet.
pub fn open_status(task: &TaskSnapshot) -> RunStatus {
    if task.last_status.has_started() {
        RunStatus::Running
    } else {
        RunStatus::Pending
    }
}

/// The final status of a stopped task and the reason, in words a user can act on; `None` while it still goes.
///
/// - stopped by fsched: TIMED_OUT for `max_runtime`, STOPPED otherwise (replaced), with fsched's reason;
/// - stopped by someone else: STOPPED, with their reason;
/// - reclaimed by Fargate Spot or retired by Fargate: INTERRUPTED;
/// - never started (image pull, network, secrets): FAILED with ECS's reason;
/// - otherwise SUCCEEDED when every essential container exited 0, FAILED naming the first that did not.
pub fn outcome(task: &TaskSnapshot) -> Option<(RunStatus, String)> {
    if !task.is_stopped() {
        return None;
    }
    let why = task.stopped_reason.as_deref().unwrap_or("no reason given");
    if let Some(ours) = why.strip_prefix(STOP_REASON_PREFIX) {
        let status = if ours.contains(TIMEOUT_WORDS) {
            RunStatus::TimedOut
        } else {
            RunStatus::Stopped
        };
        // "run JOB/KEY <why>": the run is the record's own; keep the why.
        let words = ours.splitn(3, ' ').nth(2).unwrap_or(ours);
        return Some((status, words.to_owned()));
    }
    match task.stop_code.as_deref() {
        Some("UserInitiated") => {
            return Some((RunStatus::Stopped, format!("stopped outside fsched: {why}")))
        }
        Some("SpotInterruption") => {
            return Some((
                RunStatus::Interrupted,
                format!("Fargate Spot reclaimed the capacity: {why}"),
            ))
        }
        Some("TerminationNotice") => {
            return Some((
                RunStatus::Interrupted,
                format!("Fargate retired the task: {why}"),
            ))
        }
        Some("TaskFailedToStart") => {
            let detail = task
                .containers
                .iter()
                .find_map(|c| c.reason.as_deref().map(|r| format!(" ({}: {r})", c.name)))
                .unwrap_or_default();
            return Some((
                RunStatus::Failed,
                format!("the task failed to start: {why}{detail}"),
            ));
        }
        _ => {}
    }
    let essential = || task.containers.iter().filter(|c| c.is_essential());
    if let Some(failed) = essential().find(|c| c.exit_code.is_some_and(|code| code != 0)) {
        let code = failed.exit_code.unwrap_or_default();
        let detail = failed
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Some((
            RunStatus::Failed,
            format!(
                "container `{}` exited with code {code}{detail}",
                failed.name
            ),
        ));
    }
    if let Some(silent) = essential().find(|c| c.exit_code.is_none()) {
        let detail = silent
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Some((
            RunStatus::Failed,
            format!(
                "container `{}` stopped without an exit code{detail} ({why})",
                silent.name
            ),
        ));
    }
    if task.containers.is_empty() {
        return Some((
            RunStatus::Failed,
            format!("the task stopped without an exit code: {why}"),
        ));
    }
    Some((
        RunStatus::Succeeded,
        "every essential container exited 0".to_owned(),
    ))
}

#[cfg(test)]
mod tests;
