//! Run retries: whether a run that just ended is run again under its job's `retry`, as which attempt and when.
//! Each attempt is a run of its own (`RunId::attempt`), so it is claimed exactly once and shows in the history with
//! its own task, exit code and cost; only the last attempt's ending is announced as the job's outcome.

use chrono::{DateTime, Utc};

use super::job::JobSpec;
use super::retry::{Ending, RetryPolicy};
use super::run::{NextAttempt, Run, RunId, RunStatus};

/// The ending `retry.on` names for a final status, if `retry` can apply to it at all.
pub fn ending(status: RunStatus) -> Option<Ending> {
    match status {
        RunStatus::Failed => Some(Ending::Failed),
        RunStatus::TimedOut => Some(Ending::TimedOut),
        RunStatus::Interrupted => Some(Ending::Interrupted),
        RunStatus::Unknown => Some(Ending::Lost),
        _ => None,
    }
}

/// Why a run that ended badly is not retried (for `fsched show`), or `None` when it is (or cannot be: no policy,
/// an ending `retry` never applies to).
pub fn not_retried(policy: &RetryPolicy, run: &Run, now: DateTime<Utc>) -> Option<String> {
    let ending = ending(run.status)?;
    if !policy.on.contains(&ending) {
        return Some(format!("retry.on does not name {}", ending.as_str()));
    }
    if ending == Ending::Failed {
        let code = run.exit_code();
        if let Some(c) = code.filter(|c| policy.never_exit_codes.contains(c)) {
            return Some(format!("exit code {c} is in retry.never_exit_codes"));
        }
        if !policy.only_exit_codes.is_empty()
            && !code.is_some_and(|c| policy.only_exit_codes.contains(&c))
        {
            let code = code.map_or("no exit code".to_owned(), |c| format!("exit code {c}"));
            return Some(format!("{code} is not in retry.only_exit_codes"));
        }
    }
    let reasons = stop_reasons(run);
    let matched = |patterns: &[String]| {
        patterns
            .iter()
            .find(|p| reasons.iter().any(|r| super::retry::matches(p, r)))
            .cloned()
    };
    if let Some(p) = matched(&policy.never_reasons) {
        return Some(format!("its stop reason matches retry.never_reasons `{p}`"));
    }
    if !policy.only_reasons.is_empty() && matched(&policy.only_reasons).is_none() {
        return Some("no stop reason of it matches retry.only_reasons".to_owned());
    }
    if run.attempt >= policy.attempts {
        return Some(format!(
            "attempt {} of {}: no attempts left",
            run.attempt, policy.attempts
        ));
    }
    let at = now + policy.wait_after(run.attempt).to_chrono();
    let oldest = run.scheduled_at + policy.max_age.to_chrono();
    if at > oldest {
        return Some(format!(
            "the next attempt would start after retry.max_age ({}) from the time the run was due",
            policy.max_age
        ));
    }
    None
}

/// What a run's end says about why: ECS's reason for stopping the task, each container's reason, and fsched's own.
fn stop_reasons(run: &Run) -> Vec<&str> {
    let task = run.task.as_ref();
    let containers = task.into_iter().flat_map(|t| t.containers.iter());
    task.and_then(|t| t.stopped_reason.as_deref())
        .into_iter()
        .chain(containers.filter_map(|c| c.reason.as_deref()))
        .chain(run.reason.as_deref())
        .collect()
}

/// The attempt that follows `run`, which just ended at `now`, if the job's `retry` asks for one.
pub fn next(spec: &JobSpec, run: &Run, now: DateTime<Utc>) -> Option<NextAttempt> {
    let policy = spec.retry.as_ref()?;
    ending(run.status)?;
    if not_retried(policy, run, now).is_some() {
        return None;
    }
    let first = run.retry_of.as_ref().unwrap_or(&run.id);
    let number = run.attempt + 1;
    Some(NextAttempt {
        run: RunId::attempt(first, number),
        number,
        at: now + policy.wait_after(run.attempt).to_chrono(),
    })
}

#[cfg(test)]
mod tests;
