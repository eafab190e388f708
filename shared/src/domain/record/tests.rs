use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::domain::job::JobName;
use crate::domain::run::{RunId, Trigger};
use crate::domain::task::tests::report;

const LIFE: [&str; 4] = ["provisioning", "pending", "running", "stopped-success"];

fn launched_run() -> Run {
    let at = Utc.with_ymd_and_hms(2020, 1, 23, 17, 57, 0).unwrap();
    let id = RunId::scheduled(&JobName::new("sample").unwrap(), at);
    let mut run = Run::claimed(id, Trigger::Schedule, at, at);
    run.status = RunStatus::Pending;
    run.task_arn = Some(report("running").task_arn);
    run.capacity = Some(Capacity::Fargate);
    run.launched_at = Some(at);
    run
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 23, 18, 10, 0).unwrap()
}

/// Feeds reports in order, as the recorder does: each one that changes something is written.
fn replay(order: &[&str]) -> Run {
    let mut run = launched_run();
    for name in order {
        if let Some(o) = observe(&run, &report(name), &Prices::default(), now()) {
            run = o.run;
        }
    }
    run
}

#[test]
fn a_whole_life_in_order_gives_the_full_record() {
    let run = replay(&LIFE);
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.check_at, None);
    let task = run.task.as_ref().unwrap();
    assert_eq!(task.version, 5);
    assert!(task.created_at.is_some() && task.pull_stopped_at.is_some());
    // 17:57:52.103 pull start -> 18:04:12.000 stop = 379.897 s -> 380 s billed (hand-computed in cost.rs).
    let cost = run.cost.as_ref().unwrap();
    assert_eq!(cost.billed_seconds, 380);
    assert_eq!(run.start_delay().unwrap().num_milliseconds(), 58_103);
    // Due 17:57:00, created (RunTask accepted) 17:57:34.402, running 17:57:58.103: fsched's part, then ECS's.
    assert_eq!(run.launch_delay().unwrap().num_milliseconds(), 34_402);
    assert_eq!(run.provisioning().unwrap().num_milliseconds(), 23_701);
    assert_eq!(run.runtime().unwrap().num_milliseconds(), 373_897);
    assert_eq!(run.exit_code(), Some(0));
}

fn permutations(items: &[&'static str]) -> Vec<Vec<&'static str>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

#[test]
fn every_order_of_the_same_reports_gives_the_same_record() {
    let expected = replay(&LIFE);
    let orders = permutations(&LIFE);
    assert_eq!(orders.len(), 24);
    for order in orders {
        assert_eq!(replay(&order), expected, "{order:?}");
        // Delivered twice over (at-least-once), the second time reversed.
        let mut twice = order.clone();
        twice.extend(order.iter().rev());
        assert_eq!(replay(&twice), expected, "{twice:?}");
    }
}

proptest! {
    #[test]
    fn any_delivery_with_duplicates_converges(extra in proptest::collection::vec(0usize..4, 0..12), seed in any::<u64>()) {
        let mut order: Vec<&str> = LIFE.to_vec();
        order.extend(extra.iter().map(|i| LIFE[*i]));
        // A seeded shuffle: proptest shrinks the seed and the extras.
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(replay(&order), replay(&LIFE));
    }
}

#[test]
fn stale_and_duplicate_reports_change_nothing() {
    let run = replay(&LIFE);
    for name in LIFE {
        assert_eq!(
            observe(&run, &report(name), &Prices::default(), now()),
            None,
            "{name}"
        );
    }
    let running = replay(&["running"]);
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.check_at.is_some());
    assert_eq!(
        observe(&running, &report("pending"), &Prices::default(), now()),
        None
    );
}

#[test]
fn only_the_report_that_ends_an_open_run_closes_it() {
    let running = replay(&["running"]);
    let o = observe(
        &running,
        &report("stopped-exit-code"),
        &Prices::default(),
        now(),
    )
    .unwrap();
    assert!(o.closed);
    assert_eq!(o.run.status, RunStatus::Failed);
    assert_eq!(o.run.exit_code(), Some(1));
    assert_eq!(
        o.run.reason.as_deref(),
        Some("container `FargateApp` exited with code 1")
    );
}

#[test]
fn a_run_fsched_timed_out_keeps_its_status_and_gains_the_facts() {
    let mut run = replay(&["running"]);
    run.status = RunStatus::TimedOut;
    run.reason = Some("exceeded max_runtime (5m)".to_owned());
    run.check_at = None;
    let mut end = report("stopped-by-user");
    end.stopped_reason = Some(stop_reason(&run.id, "exceeded max_runtime (5m)"));
    let o = observe(&run, &end, &Prices::default(), now()).unwrap();
    assert!(
        !o.announces(),
        "already closed with this status: no second event"
    );
    assert_eq!(o.run.status, RunStatus::TimedOut);
    assert_eq!(o.run.reason, run.reason);
    assert_eq!(o.run.exit_code(), Some(143));
    assert!(o.run.cost.is_some());
}

#[test]
fn a_run_timed_out_whose_task_had_ended_on_its_own_is_corrected_and_announced_again() {
    let mut run = replay(&["running"]);
    run.status = RunStatus::TimedOut;
    run.reason = Some("exceeded max_runtime (5m)".to_owned());
    run.check_at = None;
    // The task exited 0 by itself before fsched's StopTask reached it: ECS reports its own end.
    let o = observe(&run, &report("stopped-success"), &Prices::default(), now()).unwrap();
    assert_eq!(o.run.status, RunStatus::Succeeded);
    assert!(!o.closed && o.corrected && o.announces());
}

#[test]
fn lost_runs_are_corrected_and_runs_without_tasks_are_left_alone() {
    let mut lost = replay(&["running"]);
    lost.status = RunStatus::Unknown;
    let o = observe(&lost, &report("stopped-success"), &Prices::default(), now()).unwrap();
    assert_eq!(o.run.status, RunStatus::Succeeded);
    assert!(o.corrected, "the corrected end is announced");

    let mut failed = launched_run();
    failed.status = RunStatus::LaunchFailed;
    assert_eq!(
        observe(
            &failed,
            &report("stopped-success"),
            &Prices::default(),
            now()
        ),
        None
    );
    let mut other = launched_run();
    other.task_arn = Some("arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/other".into());
    assert_eq!(
        observe(&other, &report("running"), &Prices::default(), now()),
        None
    );
}
