use super::*;
use crate::domain::fargate::TaskStatus;
use crate::domain::task::tests::report;
use crate::domain::task::ContainerSnapshot;

fn stopped(containers: &[(&str, Option<i32>)], stop_code: Option<&str>) -> TaskSnapshot {
    TaskSnapshot {
        task_arn: "arn:aws:ecs:us-east-1:123456789012:task/c/abc".to_owned(),
        last_status: TaskStatus::Stopped,
        stop_code: stop_code.map(str::to_owned),
        stopped_reason: Some("Essential container in task exited".to_owned()),
        containers: containers
            .iter()
            .map(|(name, code)| ContainerSnapshot {
                name: (*name).to_owned(),
                exit_code: *code,
                ..ContainerSnapshot::default()
            })
            .collect(),
        ..TaskSnapshot::default()
    }
}

#[test]
fn reports_of_a_task_still_going_give_an_open_status() {
    let t = report("running");
    assert_eq!(outcome(&t), None);
    assert_eq!(open_status(&t), RunStatus::Running);
    assert_eq!(open_status(&report("provisioning")), RunStatus::Pending);
}

#[test]
fn each_documented_ending_gets_its_status_and_reason() {
    let cases = [
        (
            "stopped-success",
            RunStatus::Succeeded,
            "every essential container exited 0",
        ),
        (
            "stopped-exit-code",
            RunStatus::Failed,
            "container `FargateApp` exited with code 1",
        ),
        (
            "stopped-failed-to-start",
            RunStatus::Failed,
            "the task failed to start: CannotPullContainerError",
        ),
        (
            "stopped-spot-interruption",
            RunStatus::Interrupted,
            "Fargate Spot reclaimed the capacity",
        ),
        (
            "stopped-by-user",
            RunStatus::Stopped,
            "stopped outside fsched: Task stopped by user",
        ),
    ];
    for (name, status, words) in cases {
        let (got, reason) = outcome(&report(name)).unwrap();
        assert_eq!(got, status, "{name}: {reason}");
        assert!(reason.starts_with(words), "{name}: {reason}");
    }
}

#[test]
fn fscheds_own_stops_are_told_from_a_users() {
    let run: RunId = "etl/20261129T020000Z".parse().unwrap();
    let mut t = report("stopped-by-user");
    t.stopped_reason = Some(stop_reason(&run, "exceeded max_runtime (2h)"));
    assert_eq!(
        outcome(&t),
        Some((RunStatus::TimedOut, "exceeded max_runtime (2h)".to_owned()))
    );
    t.stopped_reason = Some(stop_reason(
        &run,
        "replaced by run etl/20261129T030000Z (overlap: replace)",
    ));
    assert_eq!(
        outcome(&t),
        Some((
            RunStatus::Stopped,
            "replaced by run etl/20261129T030000Z (overlap: replace)".to_owned()
        ))
    );
}

#[test]
fn only_essential_containers_decide() {
    // The sidecar is killed (143) after the essential container exits 0: the run succeeded.
    let mut t = stopped(
        &[("app", Some(0)), ("sidecar", Some(143))],
        Some("EssentialContainerExited"),
    );
    assert_eq!(
        outcome(&t).unwrap().0,
        RunStatus::Failed,
        "unknown = essential"
    );
    t.containers[1].essential = Some(false);
    assert_eq!(outcome(&t).unwrap().0, RunStatus::Succeeded);
    t.containers[0].exit_code = Some(2);
    assert_eq!(outcome(&t).unwrap().1, "container `app` exited with code 2");
    let silent = stopped(&[("app", None)], Some("EssentialContainerExited"));
    assert!(outcome(&silent)
        .unwrap()
        .1
        .starts_with("container `app` stopped without an exit code"));
}
