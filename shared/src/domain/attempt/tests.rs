use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::domain::duration::Span;
use crate::domain::job::JobName;
use crate::domain::run::Trigger;
use crate::domain::task::{ContainerSnapshot, TaskSnapshot};

fn spec(policy: RetryPolicy) -> JobSpec {
    JobSpec {
        retry: Some(policy),
        ..JobSpec::placeholder()
    }
}

fn ended(status: RunStatus, exit: Option<i32>) -> Run {
    let due = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
    let job = JobName::new("etl").unwrap();
    let mut run = Run::claimed(RunId::scheduled(&job, due), Trigger::Schedule, due, due);
    run.status = status;
    if let Some(code) = exit {
        run.task = Some(TaskSnapshot {
            task_arn: "arn:aws:ecs:eu-west-1:1:task/batch/abc".into(),
            containers: vec![ContainerSnapshot {
                name: "main".into(),
                exit_code: Some(code),
                ..ContainerSnapshot::default()
            }],
            ..TaskSnapshot::default()
        });
    }
    run
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap() + Duration::minutes(minutes)
}

#[test]
fn a_failed_run_is_retried_as_the_next_attempt_after_the_backoff() {
    let policy = RetryPolicy {
        backoff: Span::from_secs(120),
        ..RetryPolicy::new(3)
    };
    let first = ended(RunStatus::Failed, Some(1));
    let next = next(&spec(policy.clone()), &first, at(10)).expect("retried");
    assert_eq!(next.run.to_string(), "etl/20261129T020000Z-r2");
    assert_eq!((next.number, next.at), (2, at(12)));

    // The second attempt waits twice as long, and names the chain's first run.
    let mut second = first.next_attempt(&next, at(10));
    assert_eq!(second.status, RunStatus::Waiting);
    assert_eq!(second.retry_of.as_ref(), Some(&first.id));
    assert_eq!((second.check_at, second.due_at()), (Some(at(12)), at(12)));
    second.status = RunStatus::TimedOut;
    let third = next_attempt_of(&policy, &second, at(20)).expect("retried again");
    assert_eq!(third.run.to_string(), "etl/20261129T020000Z-r3");
    assert_eq!(third.at, at(24));

    // The third is the last.
    let mut last = second.next_attempt(&third, at(20));
    last.status = RunStatus::Failed;
    assert_eq!(next_attempt_of(&policy, &last, at(30)), None);
    assert_eq!(
        not_retried(&policy, &last, at(30)).as_deref(),
        Some("attempt 3 of 3: no attempts left")
    );
}

fn next_attempt_of(policy: &RetryPolicy, run: &Run, now: DateTime<Utc>) -> Option<NextAttempt> {
    next(&spec(policy.clone()), run, now)
}

#[test]
fn waits_double_up_to_max_backoff() {
    let policy = RetryPolicy {
        backoff: Span::from_secs(60),
        max_backoff: Span::from_secs(300),
        ..RetryPolicy::new(10)
    };
    let waits: Vec<u64> = (1..=6).map(|n| policy.wait_after(n).as_secs()).collect();
    assert_eq!(waits, [60, 120, 240, 300, 300, 300]);
}

#[test]
fn exit_codes_and_endings_decide_what_is_retried() {
    let policy = RetryPolicy {
        on: vec![Ending::Failed, Ending::Interrupted],
        never_exit_codes: vec![2],
        ..RetryPolicy::new(3)
    };
    let s = spec(policy.clone());
    assert!(next(&s, &ended(RunStatus::Failed, Some(1)), at(5)).is_some());
    assert!(next(&s, &ended(RunStatus::Interrupted, None), at(5)).is_some());
    assert_eq!(next(&s, &ended(RunStatus::Failed, Some(2)), at(5)), None);
    assert_eq!(
        not_retried(&policy, &ended(RunStatus::Failed, Some(2)), at(5)).as_deref(),
        Some("exit code 2 is in retry.never_exit_codes")
    );
    assert_eq!(next(&s, &ended(RunStatus::TimedOut, None), at(5)), None);
    // Endings retry never applies to: not even an explanation.
    for status in [
        RunStatus::Succeeded,
        RunStatus::Stopped,
        RunStatus::LaunchFailed,
        RunStatus::Skipped,
    ] {
        assert_eq!(next(&s, &ended(status, Some(0)), at(5)), None, "{status}");
        assert_eq!(not_retried(&policy, &ended(status, Some(0)), at(5)), None);
    }

    let only = spec(RetryPolicy {
        only_exit_codes: vec![137],
        ..RetryPolicy::new(3)
    });
    assert!(next(&only, &ended(RunStatus::Failed, Some(137)), at(5)).is_some());
    assert_eq!(next(&only, &ended(RunStatus::Failed, Some(1)), at(5)), None);
    assert_eq!(next(&only, &ended(RunStatus::Failed, None), at(5)), None);
    // Exit codes narrow FAILED runs only: a timeout is retried whatever its container said.
    assert!(next(&only, &ended(RunStatus::TimedOut, Some(143)), at(5)).is_some());
}

#[test]
fn no_attempt_starts_after_max_age() {
    let policy = RetryPolicy {
        backoff: Span::from_secs(600),
        max_age: Span::from_secs(3600),
        ..RetryPolicy::new(5)
    };
    let s = spec(policy.clone());
    let run = ended(RunStatus::Failed, Some(1));
    assert!(next(&s, &run, at(50)).is_some(), "starts at 03:00 exactly");
    assert_eq!(next(&s, &run, at(51)), None);
    assert!(not_retried(&policy, &run, at(51))
        .unwrap()
        .contains("max_age (1h)"));
}

#[test]
fn jobs_without_retry_never_retry() {
    let run = ended(RunStatus::Failed, Some(1));
    assert_eq!(next(&JobSpec::placeholder(), &run, at(5)), None);
}

#[test]
fn stop_reason_patterns_decide_over_any_ending() {
    let mut pull = ended(RunStatus::Failed, None);
    pull.task = Some(TaskSnapshot {
        stopped_reason: Some(
            "CannotPullContainerError: pull image manifest has been retried 5 time(s)".into(),
        ),
        ..TaskSnapshot::default()
    });
    let mut oom = ended(RunStatus::Failed, Some(137));
    if let Some(task) = oom.task.as_mut() {
        task.containers[0].reason =
            Some("OutOfMemoryError: Container killed due to memory usage".into());
    }
    let never = RetryPolicy {
        never_reasons: vec!["CannotPullContainerError*".into()],
        ..RetryPolicy::new(3)
    };
    assert_eq!(
        not_retried(&never, &pull, at(5)).as_deref(),
        Some("its stop reason matches retry.never_reasons `CannotPullContainerError*`")
    );
    assert!(next(&spec(never.clone()), &oom, at(5)).is_some());
    let only = RetryPolicy {
        only_reasons: vec!["*OutOfMemory*".into()],
        ..RetryPolicy::new(3)
    };
    assert!(next(&spec(only.clone()), &oom, at(5)).is_some());
    assert_eq!(
        not_retried(&only, &ended(RunStatus::Failed, Some(1)), at(5)).as_deref(),
        Some("no stop reason of it matches retry.only_reasons")
    );
    // fsched's own words count too: a timeout's reason names max_runtime.
    let mut slow = ended(RunStatus::TimedOut, None);
    slow.reason = Some("stopped by fsched: max_runtime exceeded (2h)".into());
    let never_slow = RetryPolicy {
        never_reasons: vec!["*max_runtime*".into()],
        ..RetryPolicy::new(3)
    };
    assert!(next(&spec(never_slow), &slow, at(5)).is_none());
}
