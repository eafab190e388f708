//! The store's contract: what fsched relies on from its table, as tests any `Store` must pass. `MemoryStore` runs
//! them in `cargo test -p fsched-core`; `DynamoStore` runs the same functions against the emulator in
//! `tests/tests/store.rs` (through `store_contract!`). Each function takes a fresh, empty store.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::job_spec;
use crate::domain::duration::Span;
use crate::domain::job::{Job, JobName, JobSpec, Launch, Overlap};
use crate::domain::run::{Pending, Run, RunId, RunStatus, Trigger};
use crate::domain::service::{
    Awake, Phase, Saved, ScaleAction, ScaleTrigger, ServiceName, ServiceSpec, ServiceState,
};
use crate::ports::{Claim, Due, Store, StoreError};

pub use super::rollups::a_days_rollup_is_kept_over_the_generation_read_and_reopened_by_late_run_writes;

/// A time on the contract's day.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0).unwrap()
}

/// A job with most spec fields set, so round trips are checked for them.
pub fn job(name: &str, next_fire: Option<DateTime<Utc>>) -> Job {
    Job {
        name: JobName::new(name).unwrap(),
        // A spec with most fields set, so round trips through the table are checked for them.
        spec: JobSpec {
            timezone: "Europe/Berlin".parse().unwrap(),
            launch: Launch::SpotWithFallback,
            cpu: Some(1024),
            memory: Some(2048),
            tags: [("team".to_owned(), "data".to_owned())].into(),
            overlap: Overlap::Forbid,
            max_runtime: Some(Span::from_secs(3600)),
            ..job_spec("cron(0 2 * * ? *)")
        },
        version: 1,
        next_fire,
        last_fire: None,
        health: Default::default(),
    }
}

pub async fn jobs_round_trip_with_optimistic_versions<S: Store>(store: S) {
    let etl = job("etl", Some(at(1, 0)));
    store.put_job(&etl, None).await.unwrap();
    assert_eq!(store.get_job(&etl.name).await.unwrap(), Some(etl.clone()));

    // Creating it again, or writing over a version nobody read, must fail and change nothing.
    assert!(matches!(
        store.put_job(&etl, None).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut stale = etl.clone();
    stale.version = 3;
    stale.spec.cluster = "other".into();
    let err = store.put_job(&stale, Some(2)).await.unwrap_err();
    assert!(err.to_string().contains("job `etl`"), "{err}");
    assert_eq!(
        store
            .get_job(&etl.name)
            .await
            .unwrap()
            .unwrap()
            .spec
            .cluster,
        "batch"
    );

    let mut next = etl.clone();
    next.version = 2;
    next.spec.paused = true;
    store.put_job(&next, Some(1)).await.unwrap();
    assert_eq!(store.get_job(&etl.name).await.unwrap(), Some(next.clone()));

    assert!(matches!(
        store.delete_job(&etl.name, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    store.delete_job(&etl.name, 2).await.unwrap();
    assert_eq!(store.get_job(&etl.name).await.unwrap(), None);
}

pub async fn listing_index_returns_every_job_by_name<S: Store>(store: S) {
    for name in ["sync", "etl", "report"] {
        store.put_job(&job(name, None), None).await.unwrap();
    }
    let names: Vec<_> = store
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.name.to_string())
        .collect();
    assert_eq!(names, ["etl", "report", "sync"]);
}

pub async fn timers_index_finds_only_what_is_due<S: Store>(store: S) {
    store
        .put_job(&job("early", Some(at(1, 0))), None)
        .await
        .unwrap();
    store
        .put_job(&job("exact", Some(at(1, 5))), None)
        .await
        .unwrap();
    store
        .put_job(&job("later", Some(at(1, 6))), None)
        .await
        .unwrap();
    store.put_job(&job("paused", None), None).await.unwrap();
    let mut open = Run::claimed(
        RunId::scheduled(&JobName::new("early").unwrap(), at(0, 0)),
        Trigger::Schedule,
        at(0, 0),
        at(0, 0),
    );
    open.check_at = Some(at(1, 2));
    store.claim_run(&open).await.unwrap();
    let mut svc = ServiceState::declared(
        ServiceName::new("staging").unwrap(),
        service_spec(),
        at(1, 3),
    );
    store.put_service(&svc, None).await.unwrap();
    svc.check_at = None;
    let mut idle = svc.clone();
    idle.name = ServiceName::new("idle").unwrap();
    store.put_service(&idle, None).await.unwrap();

    let due = store.due(at(1, 5)).await.unwrap();
    let names: Vec<String> = due
        .iter()
        .map(|d| match d {
            Due::Job(j) => format!("job {}", j.name),
            Due::Service(s) => format!("service {}", s.name),
            Due::Run(r) => format!("run {}", r.id),
        })
        .collect();
    assert_eq!(
        names,
        [
            "job early",
            "run early/20261129T000000Z",
            "service staging",
            "job exact"
        ]
    );
    assert!(store.due(at(0, 59)).await.unwrap().is_empty());
}

pub async fn advancing_a_job_moves_its_timer_only_from_the_one_it_was_read_with<S: Store>(
    store: S,
) {
    let read = job("etl", Some(at(1, 0)));
    store.put_job(&read, None).await.unwrap();

    store
        .advance_job(&read, Some(at(2, 0)), Some(at(1, 0)))
        .await
        .unwrap();
    let moved = store.get_job(&read.name).await.unwrap().unwrap();
    assert_eq!(
        (moved.next_fire, moved.last_fire),
        (Some(at(2, 0)), Some(at(1, 0)))
    );
    assert_eq!(
        moved.version, 2,
        "a tick bumps the version, so a writer that read the job before it conflicts"
    );
    let mut late_apply = read.clone();
    late_apply.version = 2;
    assert!(
        matches!(
            store.put_job(&late_apply, Some(1)).await,
            Err(StoreError::Conflict { .. })
        ),
        "an apply that read version 1 cannot write back the old fire times"
    );
    assert!(store.due(at(1, 30)).await.unwrap().is_empty());
    assert_eq!(store.due(at(2, 0)).await.unwrap().len(), 1);

    // A second tick that read the old timer loses.
    let stale = store
        .advance_job(&read, Some(at(3, 0)), Some(at(2, 0)))
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );

    // No next fire: the timer goes, the last fire stays.
    store
        .advance_job(&moved, None, Some(at(2, 0)))
        .await
        .unwrap();
    let done = store.get_job(&read.name).await.unwrap().unwrap();
    assert_eq!((done.next_fire, done.last_fire), (None, Some(at(2, 0))));
    assert!(store.due(at(23, 0)).await.unwrap().is_empty());
}

pub async fn a_run_is_claimed_once_and_updated_by_revision<S: Store>(store: S) {
    let name = JobName::new("etl").unwrap();
    let id = RunId::scheduled(&name, at(2, 0));
    let run = Run::claimed(id.clone(), Trigger::Schedule, at(2, 0), at(2, 0));
    assert_eq!(store.claim_run(&run).await.unwrap(), Claim::Won);

    let mut duplicate = run.clone();
    duplicate.claimed_at = at(2, 1);
    match store.claim_run(&duplicate).await.unwrap() {
        Claim::Lost(stored) => assert_eq!(stored.claimed_at, at(2, 0), "the first claim stays"),
        Claim::Won => panic!("a second claim of the same scheduled time must lose"),
    }

    let mut pending = run.clone();
    pending.revision = 1;
    pending.status = RunStatus::Pending;
    pending.task_arn = Some("arn:aws:ecs:us-east-1:123456789012:task/batch/abc".into());
    store.update_run(&pending).await.unwrap();
    // A writer that read revision 0 too loses.
    let mut racer = run.clone();
    racer.revision = 1;
    racer.status = RunStatus::LaunchFailed;
    assert!(matches!(
        store.update_run(&racer).await,
        Err(StoreError::Conflict { .. })
    ));

    assert_eq!(store.get_run(&id).await.unwrap(), Some(pending.clone()));
    assert_eq!(
        store
            .run_by_task("arn:aws:ecs:us-east-1:123456789012:task/batch/abc")
            .await
            .unwrap(),
        Some(pending)
    );
    assert_eq!(
        store
            .run_by_task("arn:aws:ecs:us-east-1:123456789012:task/batch/zzz")
            .await
            .unwrap(),
        None
    );
}

pub async fn runs_are_listed_newest_first_by_job_and_by_time_range<S: Store>(store: S) {
    let etl = JobName::new("etl").unwrap();
    let sync = JobName::new("sync").unwrap();
    let day0 = at(23, 30) - Duration::days(1);
    for (job, t) in [
        (&etl, day0),
        (&etl, at(2, 0)),
        (&sync, at(2, 0)),
        (&sync, at(2, 15)),
        (&etl, at(3, 0)),
    ] {
        let run = Run::claimed(RunId::scheduled(job, t), Trigger::Schedule, t, t);
        store.claim_run(&run).await.unwrap();
    }
    let etl_runs: Vec<_> = store
        .runs_of_job(&etl, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(
        etl_runs,
        [
            "etl/20261129T030000Z",
            "etl/20261129T020000Z",
            "etl/20261128T233000Z"
        ]
    );
    assert_eq!(store.runs_of_job(&etl, 1).await.unwrap().len(), 1);

    let range: Vec<_> = store
        .runs_between(day0, at(3, 0), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(
        range,
        [
            "sync/20261129T021500Z",
            "sync/20261129T020000Z",
            "etl/20261129T020000Z",
            "etl/20261128T233000Z"
        ],
        "newest first across days, `to` excluded"
    );
    assert_eq!(
        store.runs_between(day0, at(3, 1), 2).await.unwrap().len(),
        2
    );
}

pub async fn open_runs_are_the_open_and_the_blocked_among_the_newest<S: Store>(store: S) {
    let etl = JobName::new("etl").unwrap();
    let other = JobName::new("other").unwrap();
    let id = |h: u32| RunId::scheduled(&etl, at(h, 0));
    // Oldest first: open, closed, running, skipped behind the running one, failed, open; another job's open run.
    let shapes = [
        (1, RunStatus::Claimed, None),
        (2, RunStatus::Succeeded, None),
        (3, RunStatus::Running, None),
        (4, RunStatus::Skipped, Some(id(3))),
        (5, RunStatus::Failed, None),
        (6, RunStatus::Claimed, None),
    ];
    for (h, status, blocked_by) in shapes {
        let mut run = Run::claimed(id(h), Trigger::Schedule, at(h, 0), at(h, 0));
        store.claim_run(&run).await.unwrap();
        if status != RunStatus::Claimed {
            run.status = status;
            run.blocked_by = blocked_by;
            run.revision += 1;
            store.update_run(&run).await.unwrap();
        }
    }
    let elsewhere = Run::claimed(
        RunId::scheduled(&other, at(7, 0)),
        Trigger::Schedule,
        at(7, 0),
        at(7, 0),
    );
    store.claim_run(&elsewhere).await.unwrap();

    let open = |reach: usize| {
        let store = &store;
        let etl = &etl;
        async move {
            store
                .open_runs_of_job(etl, reach)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.id, r.status))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        open(5).await,
        [
            (id(6), RunStatus::Claimed),
            (id(4), RunStatus::Skipped),
            (id(3), RunStatus::Running)
        ],
        "the newest five: closed runs left out, the skip kept for its blocker"
    );
    assert_eq!(
        open(6).await.len(),
        4,
        "the oldest open run is within reach"
    );
    assert_eq!(open(2).await, [(id(6), RunStatus::Claimed)]);
    assert_eq!(open(0).await, []);
}

fn service_spec() -> ServiceSpec {
    ServiceSpec {
        cluster: "staging".into(),
        service: "api".into(),
        timezone: "Europe/Berlin".parse().unwrap(),
        awake: Awake::Periods(vec!["weekdays 07:30-20:00".parse().unwrap()]),
        awake_count: None,
        enforce: false,
        idle: None,
        wake_on: None,
        event_bus: None,
        wake_on_request: Some(crate::domain::service::WakeOnRequest {
            hosts: vec!["staging.example.com".into()],
            listener_rule:
                "arn:aws:elasticloadbalancing:eu-central-1:1:listener-rule/app/web/1/2/3".into(),
            target_group: "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api/4".into(),
            hold: crate::domain::service::DEFAULT_HOLD,
        }),
    }
}

pub async fn services_are_versioned_and_their_actions_listed_by_time<S: Store>(store: S) {
    let name = ServiceName::new("staging").unwrap();
    let mut state = ServiceState::declared(name.clone(), service_spec(), at(1, 0));
    store.put_service(&state, None).await.unwrap();
    assert!(matches!(
        store.put_service(&state, None).await,
        Err(StoreError::Conflict { .. })
    ));
    state.version = 2;
    state.phase = Phase::Asleep;
    state.saved = Some(Saved {
        desired_count: 3,
        autoscaling: Some((2, 6)),
    });
    // What a request-woken service keeps: where its rule points, and when a wake was last asked for.
    state.routing = Some(crate::domain::service::Routing::Waker);
    state.wake_requested_at = Some(at(1, 0));
    store.put_service(&state, Some(1)).await.unwrap();
    assert!(matches!(
        store.put_service(&state, Some(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.get_service(&name).await.unwrap().unwrap(), state);
    assert_eq!(store.list_services().await.unwrap().len(), 1);

    let action = |m: u32, to: Phase| ScaleAction {
        service: name.clone(),
        at: at(1, m),
        to,
        from_count: 3,
        to_count: 0,
        trigger: ScaleTrigger::Schedule,
        task_cpu: Some(256),
        task_memory: Some(512),
        note: None,
        expires_at: None,
    };
    for (m, to) in [(10, Phase::Asleep), (20, Phase::Awake), (30, Phase::Asleep)] {
        store.record_action(&action(m, to)).await.unwrap();
        // Recording the same action again is one record.
        store.record_action(&action(m, to)).await.unwrap();
    }
    let found = store.actions_between(at(1, 15), at(1, 31)).await.unwrap();
    assert_eq!(
        found.iter().map(|a| a.at).collect::<Vec<_>>(),
        [at(1, 20), at(1, 30)]
    );
    store.delete_service(&name, 2).await.unwrap();
    assert!(store.get_service(&name).await.unwrap().is_none());
}

pub async fn writes_to_items_that_do_not_exist_conflict<S: Store>(store: S) {
    let ghost = job("ghost", Some(at(1, 0)));
    assert!(matches!(
        store.delete_job(&ghost.name, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.put_job(&ghost, Some(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.advance_job(&ghost, Some(at(2, 0)), None).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut run = Run::claimed(
        RunId::scheduled(&ghost.name, at(1, 0)),
        Trigger::Schedule,
        at(1, 0),
        at(1, 0),
    );
    run.revision = 1;
    assert!(matches!(
        store.update_run(&run).await,
        Err(StoreError::Conflict { .. })
    ));
    run.revision = 0;
    assert!(
        matches!(
            store.update_run(&run).await,
            Err(StoreError::Conflict { .. })
        ),
        "an update must bump the revision it read"
    );
    assert!(store.get_job(&ghost.name).await.unwrap().is_none());
    assert!(store.get_run(&run.id).await.unwrap().is_none());
    assert!(store.due(at(23, 0)).await.unwrap().is_empty());
}

/// An open run is on the timers index at its check time; a closed run leaves it, unless its announcements are still
/// to be sent (its outbox), and leaves it again once they are.
pub async fn a_closed_run_stays_due_only_while_its_outbox_holds_something<S: Store>(store: S) {
    let name = JobName::new("etl").unwrap();
    let mut run = Run::claimed(
        RunId::scheduled(&name, at(2, 0)),
        Trigger::Schedule,
        at(2, 0),
        at(2, 0),
    );
    run.check_at = Some(at(2, 5));
    store.claim_run(&run).await.unwrap();
    assert_eq!(store.due(at(2, 5)).await.unwrap().len(), 1);

    run.revision = 1;
    run.status = RunStatus::Succeeded;
    run.announce(
        [Pending {
            source: "fsched".into(),
            detail_type: "Run Succeeded".into(),
            detail: serde_json::json!({"run": run.id.to_string()}),
            time: at(2, 4),
        }],
        at(2, 4),
    );
    store.update_run(&run).await.unwrap();
    let due = store.due(at(3, 0)).await.unwrap();
    assert!(
        matches!(due.as_slice(), [Due::Run(r)] if r.status == RunStatus::Succeeded && !r.outbox.is_empty()),
        "{due:?}"
    );

    run.revision = 2;
    run.announced();
    store.update_run(&run).await.unwrap();
    assert!(store.due(at(23, 0)).await.unwrap().is_empty());
    assert_eq!(store.get_run(&run.id).await.unwrap(), Some(run));
}

/// A pool's slots: taken up to its size, once per run (asking again is harmless), given back once, and a full pool
/// names who holds it. Giving back a slot of a pool nobody used is harmless.
pub async fn a_pools_slots_are_taken_up_to_its_size_and_given_back<S: Store>(store: S) {
    use crate::domain::fan::Pool;
    use crate::domain::job::PoolName;
    use crate::ports::Slot;
    let pool = Pool {
        name: PoolName::new("warehouse").expect("a pool name"),
        size: 2,
    };
    let run = |n: &str| RunId::scheduled(&JobName::new(n).expect("a job name"), at(2, 0));
    let (a, b, c) = (run("a"), run("b"), run("c"));
    store
        .give_slot(&pool.name, &a)
        .await
        .expect("nothing to give back");
    assert!(store.holders(&pool.name).await.expect("read").is_empty());
    for r in [&a, &a, &b] {
        assert_eq!(store.take_slot(&pool, r).await.expect("take"), Slot::Taken);
    }
    assert_eq!(
        store.take_slot(&pool, &c).await.expect("take"),
        Slot::Full {
            holders: vec![a.clone(), b.clone()]
        }
    );
    assert_eq!(
        store.take_slot(&pool, &b).await.expect("take"),
        Slot::Taken,
        "a holder asks again"
    );
    store.give_slot(&pool.name, &a).await.expect("give");
    store.give_slot(&pool.name, &a).await.expect("give twice");
    assert_eq!(
        store.holders(&pool.name).await.expect("read"),
        vec![b.clone()]
    );
    assert_eq!(store.take_slot(&pool, &c).await.expect("take"), Slot::Taken);
    let bigger = Pool {
        size: 3,
        ..pool.clone()
    };
    assert_eq!(
        store.take_slot(&bigger, &a).await.expect("take"),
        Slot::Taken,
        "the size asked with counts"
    );
}
