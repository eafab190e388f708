//! The dispatcher end to end: the function's handler with the real DynamoDB, ECS and EventBridge adapters against
//! the local emulator, driven by EventBridge scheduled events. Only the clock and the delivery are simulated.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::domain::clock::{Receipt, DEFAULT_SKEW};
use fsched_core::domain::duration::Span;
use fsched_core::domain::job::Overlap;
use fsched_core::domain::run::{Run, RunId, RunStatus};
use fsched_core::domain::task::TaskSnapshot;
use fsched_core::ports::{
    EcsError, JobStore, LaunchError, LaunchRequest, Launched, TaskDefinitionFacts, TaskLauncher,
};
use fsched_core::service::dispatch::{Dispatcher, Settings, TickReport};
use fsched_dispatcher::handler::{self, HandlerError};
use fsched_tests::world::{world, Recording};
use tokio::time::Instant;

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

/// The tick at `time` as the dispatcher's EventBridge Scheduler schedule delivers it (template.yaml's `Input`).
fn scheduled_event(time: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": format!("tick-{}", time.timestamp()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": time.to_rfc3339(),
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/fsched-DispatcherTick"],
        "detail": {"attempt": "1"}
    })
}

/// One tick as Lambda runs it: an invocation that leaves work undone (the emulator, like AWS, now and then answers a
/// call with a transient error) is invoked again with the same event, up to twice, as Lambda retries an asynchronous
/// invocation; the attempts' reports add up. Claims make the retries harmless, which is what the tests check.
async fn tick<L: TaskLauncher>(
    d: &Dispatcher<DynamoStore, L, Recording>,
    time: DateTime<Utc>,
) -> TickReport {
    const LAMBDA_ATTEMPTS: u32 = 3;
    let mut total = TickReport::default();
    for attempt in 1..=LAMBDA_ATTEMPTS {
        let deadline = Instant::now() + StdDuration::from_secs(120);
        // Received on time: the function's clock agrees with the tick's.
        let receipt = Receipt::new(time, DEFAULT_SKEW);
        match handler::tick(d, scheduled_event(time), receipt, deadline).await {
            Ok(report) => {
                total.merge(report);
                return total;
            }
            Err(HandlerError::Incomplete { report, errors, .. }) if attempt < LAMBDA_ATTEMPTS => {
                eprintln!("tick at {time}, attempt {attempt}: {errors}; Lambda would retry it");
                total.merge(*report);
            }
            Err(e) => panic!("tick at {time}: {e}"),
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// The attack of a forged or far-future tick: one `time: 9999-12-31T23:59:00Z` used to count 163,219 missed fires,
/// push a rate job's next fire to +10000 and leave a cron job with none. Now it is refused and nothing changes.
#[tokio::test]
async fn a_tick_from_the_far_future_is_refused_and_changes_nothing() {
    let w = world().await;
    let now = Utc::now();
    let rate = w.add("every-minute", w.spec("rate(1 minute)"), now).await;
    let cron = w.add("nightly", w.spec("cron(0 2 * * ? *)"), now).await;
    let before = w.store.list_jobs().await.unwrap();
    let d = w.dispatcher();

    let forged = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 0).unwrap();
    let receipt = Receipt::new(now, DEFAULT_SKEW);
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let err = handler::tick(&d, scheduled_event(forged), receipt, deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::ClockSkew(_)), "{err}");

    assert_eq!(w.store.list_jobs().await.unwrap(), before, "no job changed");
    assert!(w.runs(&rate).await.is_empty() && w.runs(&cron).await.is_empty());
    assert!(w.tasks().await.is_empty() && w.events("Run Missed").is_empty());
    // The rate job's next fire, on time, still launches it.
    let due = before
        .iter()
        .find(|j| j.name == rate)
        .and_then(|j| j.next_fire)
        .unwrap();
    let on_time = tick(&d, due).await;
    assert_eq!(on_time.launched.len(), 1, "{on_time:?}");
    assert!(on_time.missed.is_empty(), "{on_time:?}");
}

#[tokio::test]
async fn a_simulated_day_of_ticks_launches_each_scheduled_time_exactly_once() {
    let w = world().await;
    let start = at(29, 0, 0);
    let quarter = w
        .add(
            "every-quarter",
            w.spec("rate(15 minutes)"),
            start - Duration::seconds(1),
        )
        .await;
    let mut nightly_spec = w.spec("cron(0 2 * * ? *)");
    nightly_spec.timezone = "Europe/Berlin".parse().unwrap();
    let nightly = w.add("nightly", nightly_spec, start).await;
    let once = w
        .add("once", w.spec("at(2026-11-29T13:30:00)"), start)
        .await;
    let d = w.dispatcher();

    let mut launched = 0;
    for minute in 0..24 * 60 {
        let report = tick(&d, start + Duration::minutes(minute)).await;
        assert!(
            report.missed.is_empty() && report.skipped.is_empty(),
            "{report:?}"
        );
        assert!(report.launch_failed.is_empty(), "{report:?}");
        launched += report.launched.len();
    }

    let times =
        |runs: Vec<Run>| -> Vec<DateTime<Utc>> { runs.iter().map(|r| r.scheduled_at).collect() };
    let quarters: Vec<_> = (0..96).map(|i| start + Duration::minutes(15 * i)).collect();
    assert_eq!(times(w.runs(&quarter).await), quarters);
    // 02:00 in Berlin is 01:00 UTC in winter.
    assert_eq!(times(w.runs(&nightly).await), [at(29, 1, 0)]);
    assert_eq!(times(w.runs(&once).await), [at(29, 13, 30)]);
    assert_eq!(launched, 98);
    assert_eq!(w.counter.count("RunTask"), 98);
    assert_eq!(w.tasks().await.len(), 98);
    assert_eq!(w.events("Run Started").len(), 98);
    let once_job = w.store.get_job(&once).await.unwrap().unwrap();
    assert_eq!(
        once_job.next_fire, None,
        "a one-off job has no next fire after it ran"
    );
}

#[tokio::test]
async fn ten_concurrent_deliveries_of_one_tick_launch_one_task_per_scheduled_time() {
    let w = world().await;
    let now = at(29, 9, 0);
    let mut names = Vec::new();
    for i in 0..5 {
        names.push(
            w.add(
                &format!("job-{i}"),
                w.spec("rate(1 hour)"),
                now - Duration::minutes(1),
            )
            .await,
        );
    }
    let d = w.dispatcher();
    let reports = futures_util::future::join_all((0..10).map(|_| tick(&d, now))).await;

    let launched: usize = reports.iter().map(|r| r.launched.len()).sum();
    assert_eq!(launched, 5, "{reports:?}");
    assert_eq!(w.counter.count("RunTask"), 5);
    assert_eq!(w.tasks().await.len(), 5);
    for name in &names {
        let run = w.run(name, now).await;
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!(run.attempts, 1);
    }
}

/// A launcher that dies where told: before calling RunTask, or after it and before the result is recorded.
#[derive(Clone)]
struct Crash {
    inner: EcsLauncher,
    after_run_task: bool,
}

impl TaskLauncher for Crash {
    fn started_by(&self, run: &RunId) -> String {
        self.inner.started_by(run)
    }
    async fn launch(&self, request: &LaunchRequest) -> Result<Launched, LaunchError> {
        if self.after_run_task {
            self.inner.launch(request).await?;
        }
        std::future::pending().await
    }
    async fn stop(&self, cluster: &str, arn: &str, reason: &str) -> Result<(), EcsError> {
        self.inner.stop(cluster, arn, reason).await
    }
    async fn find(&self, cluster: &str, run: &RunId) -> Result<Option<Launched>, EcsError> {
        self.inner.find(cluster, run).await
    }
    async fn describe(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<TaskSnapshot>, EcsError> {
        self.inner.describe(cluster, arns).await
    }
    async fn definition(&self, arn: &str) -> Result<TaskDefinitionFacts, EcsError> {
        self.inner.definition(arn).await
    }
}

async fn crash_then_recover(after_run_task: bool) {
    let w = world().await;
    let now = at(29, 9, 0);
    let name = w
        .add("etl", w.spec("rate(1 hour)"), now - Duration::minutes(1))
        .await;
    let crashing = w.dispatcher_with(
        Crash {
            inner: w.ecs.clone(),
            after_run_task,
        },
        Settings::default(),
    );
    // The invocation dies mid-launch: its future is dropped, as when Lambda kills a timed-out function.
    let died = tokio::time::timeout(StdDuration::from_secs(2), tick(&crashing, now)).await;
    assert!(died.is_err(), "the crashing tick must not finish");
    assert_eq!(w.run(&name, now).await.status, RunStatus::Claimed);
    let run_tasks_before = w.counter.count("RunTask");

    let d = w.dispatcher();
    let next = tick(&d, now + Duration::minutes(1)).await;
    assert!(
        next.launched.is_empty(),
        "the next tick leaves a fresh claim alone: {next:?}"
    );
    let after = tick(&d, now + Duration::minutes(2)).await;
    assert_eq!(after.launched, [format!("etl/{}", "20261129T090000Z")]);
    let later = tick(&d, now + Duration::minutes(3)).await;
    assert!(later.launched.is_empty());

    let run = w.run(&name, now).await;
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!(
        w.tasks().await.len(),
        1,
        "exactly one task for the scheduled time"
    );
    let recovery_run_tasks = w.counter.count("RunTask") - run_tasks_before;
    assert_eq!(recovery_run_tasks, usize::from(!after_run_task));
}

#[tokio::test]
async fn a_crash_between_claim_and_launch_is_launched_by_the_tick_after_next() {
    crash_then_recover(false).await;
}

#[tokio::test]
async fn a_crash_after_run_task_adopts_the_started_task_instead_of_starting_another() {
    crash_then_recover(true).await;
}

#[tokio::test]
async fn after_a_three_hour_outage_catch_up_decides_what_runs_and_what_is_missed() {
    let w = world().await;
    let down = at(29, 1, 0);
    let name = w
        .add(
            "sync",
            w.spec("rate(10 minutes)"),
            down - Duration::minutes(1),
        )
        .await;
    let d = w.dispatcher();
    let report = tick(&d, down + Duration::hours(3)).await;

    assert_eq!(
        report.launched.len(),
        2,
        "03:50 and 04:00 are within catch_up: {report:?}"
    );
    assert_eq!(report.missed_total, 17);
    assert_eq!(
        report.missed.len(),
        3,
        "only the most recent missed times are recorded"
    );
    let runs = w.runs(&name).await;
    let statuses: Vec<_> = runs.iter().map(|r| (r.scheduled_at, r.status)).collect();
    assert_eq!(
        statuses,
        [
            (at(29, 3, 20), RunStatus::Missed),
            (at(29, 3, 30), RunStatus::Missed),
            (at(29, 3, 40), RunStatus::Missed),
            (at(29, 3, 50), RunStatus::Pending),
            (at(29, 4, 0), RunStatus::Pending),
        ]
    );
    let last_missed = runs[2].reason.clone().unwrap();
    assert!(
        last_missed.contains("14 earlier scheduled times were missed too"),
        "{last_missed}"
    );
    let missed_events = w.events("Run Missed");
    assert_eq!(missed_events.len(), 3);
    assert!(
        missed_events.iter().any(|e| e["missed_count"] == 17),
        "{missed_events:?}"
    );
    let job = w.store.get_job(&name).await.unwrap().unwrap();
    assert_eq!(job.next_fire, Some(at(29, 4, 10)));
    assert_eq!(job.last_fire, Some(at(29, 4, 0)));

    // A repeated delivery of the same late tick changes nothing.
    let again = tick(&d, down + Duration::hours(3)).await;
    assert!(
        again.launched.is_empty() && again.missed.is_empty(),
        "{again:?}"
    );
}

#[tokio::test]
async fn overlap_forbid_skips_a_time_while_the_previous_run_is_in_progress() {
    let w = world().await;
    let t0 = at(29, 9, 0);
    let mut spec = w.spec("rate(1 minute)");
    spec.overlap = Overlap::Forbid;
    let name = w.add("report", spec, t0 - Duration::seconds(30)).await;
    let d = w.dispatcher();
    assert_eq!(tick(&d, t0).await.launched.len(), 1);
    let second = tick(&d, t0 + Duration::minutes(1)).await;
    assert_eq!(second.skipped.len(), 1, "{second:?}");
    let skipped = w.run(&name, t0 + Duration::minutes(1)).await;
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert_eq!(
        skipped.reason.as_deref(),
        Some("run report/20261129T090000Z was still in progress (overlap: forbid)")
    );
    assert_eq!(w.events("Run Skipped").len(), 1);
    assert_eq!(w.tasks().await.len(), 1);
}

#[tokio::test]
async fn overlap_replace_stops_the_previous_run_and_launches_the_new_one() {
    let w = world().await;
    let t0 = at(29, 9, 0);
    let mut spec = w.spec("rate(1 minute)");
    spec.overlap = Overlap::Replace;
    let name = w.add("refresh", spec, t0 - Duration::seconds(30)).await;
    let d = w.dispatcher();
    assert_eq!(tick(&d, t0).await.launched.len(), 1);
    let second = tick(&d, t0 + Duration::minutes(1)).await;
    assert_eq!(second.launched.len(), 1, "{second:?}");
    assert_eq!(w.counter.count("StopTask"), 1);
    let first = w.run(&name, t0).await;
    assert_eq!(first.status, RunStatus::Stopped);
    assert_eq!(
        first.reason.as_deref(),
        Some("replaced by run refresh/20261129T090100Z (overlap: replace)")
    );
    assert_eq!(
        w.run(&name, t0 + Duration::minutes(1)).await.status,
        RunStatus::Pending
    );
}

#[tokio::test]
async fn a_run_past_max_runtime_is_stopped_and_recorded_as_timed_out() {
    let w = world().await;
    let t0 = at(29, 9, 0);
    let mut spec = w.spec("rate(1 hour)");
    spec.max_runtime = Some(Span::from_secs(300));
    let name = w.add("slow", spec, t0 - Duration::seconds(30)).await;
    let d = w.dispatcher();
    tick(&d, t0).await;
    assert_eq!(
        w.run(&name, t0).await.timeout_at,
        Some(t0 + Duration::minutes(5))
    );
    let early = tick(&d, t0 + Duration::minutes(4)).await;
    assert!(early.closed.is_empty());
    let due = tick(&d, t0 + Duration::minutes(5)).await;
    assert_eq!(due.closed, ["slow/20261129T090000Z"], "{due:?}");
    let run = w.run(&name, t0).await;
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.reason.as_deref(), Some("exceeded max_runtime (5m)"));
    assert_eq!(w.counter.count("StopTask"), 1);
    assert_eq!(w.events("Run Timed Out").len(), 1);
}

#[tokio::test]
async fn a_broken_job_fails_its_own_run_and_never_blocks_the_others() {
    let w = world().await;
    let t0 = at(29, 9, 0);
    let mut broken = w.spec("rate(1 hour)");
    broken.task_definition = "deleted-family:3".into();
    let broken = w.add("broken", broken, t0 - Duration::seconds(30)).await;
    let fine = w
        .add("fine", w.spec("rate(1 hour)"), t0 - Duration::seconds(30))
        .await;
    let d = w.dispatcher();
    let report = tick(&d, t0).await;
    assert_eq!(report.launched, ["fine/20261129T090000Z"]);
    assert_eq!(report.launch_failed, ["broken/20261129T090000Z"]);
    let failed = w.run(&broken, t0).await;
    assert_eq!(failed.status, RunStatus::LaunchFailed);
    let reason = failed.reason.unwrap();
    assert!(reason.contains("deleted-family:3"), "{reason}");
    assert_eq!(w.run(&fine, t0).await.status, RunStatus::Pending);
    assert_eq!(w.events("Run Launch Failed").len(), 1);
}

#[tokio::test]
async fn budgets_an_idle_tick_reads_once_and_a_thousand_due_jobs_launch_in_one_invocation() {
    let w = world().await;
    let due_at = at(29, 12, 0);
    let names: Vec<String> = (0..1000).map(|i| format!("job-{i:04}")).collect();
    let world = &w;
    futures_util::future::join_all(names.chunks(50).map(|chunk| async move {
        for name in chunk {
            let spec = world.spec("rate(1 hour)");
            world.add(name, spec, due_at - Duration::minutes(30)).await;
        }
    }))
    .await;
    let settings = Settings::default();
    let d = w.dispatcher_with(w.ecs.clone(), settings.clone());

    w.counter.reset();
    let idle = tick(&d, due_at - Duration::minutes(1)).await;
    assert_eq!(idle.due, 0);
    let reads = w.counter.count("Query") + w.counter.count("GetItem");
    let writes = w.counter.count("PutItem") + w.counter.count("UpdateItem");
    println!("budget: idle tick with 1,000 jobs: {reads} read request(s), {writes} writes");
    assert!(reads <= 1, "{reads} reads");
    assert_eq!(writes, 0);

    w.counter.reset();
    let started = std::time::Instant::now();
    let busy = tick(&d, due_at).await;
    let elapsed = started.elapsed();
    // On a busy machine one invocation may run out of time: its claimed runs are deferred, and the next ticks launch
    // them, as in production. How many invocations it took is a speed figure, printed, not asserted.
    let mut launched = busy.launched.len();
    let mut invocations = 1;
    let mut deferred = busy.deferred.len();
    let mut deferrals = deferred;
    while deferred > 0 && invocations < 10 {
        invocations += 1;
        let next = tick(&d, due_at + Duration::minutes(i64::from(invocations))).await;
        launched += next.launched.len();
        deferred = next.deferred.len();
        deferrals += deferred;
    }
    assert_eq!(launched, 1000, "every due job launched");
    let run_tasks = w.counter.count("RunTask");
    let writes = w.counter.count("PutItem") + w.counter.count("UpdateItem");
    let peak = w.counter.max_per_second("RunTask");
    println!(
        "budget: 1,000 due jobs: {run_tasks} RunTask, {writes} DynamoDB writes ({:.2} per run), \
         peak {peak} RunTask/s as the emulator saw them, {} operations in flight at most, {:.1} s, \
         {invocations} invocation(s)",
        writes as f64 / 1000.0,
        w.counter.max_in_flight(),
        elapsed.as_secs_f64()
    );
    assert_eq!(run_tasks, 1000);
    // The claim, the PENDING update and the job's timer, and one write for each time a run had to wait for a later
    // tick (none when the machine keeps up).
    assert!(
        writes <= 3 * 1000 + deferrals,
        "{writes} writes, {deferrals} deferrals"
    );
    // The pacer's own guarantee (at most 20 starts in any second) is checked on a simulated clock in its unit
    // tests; here the count of calls in flight is what the machine's speed cannot change.
    assert!(w.counter.max_in_flight() <= settings.concurrency + 1);
    let distinct: BTreeSet<String> = w.tasks().await.into_iter().collect();
    assert_eq!(distinct.len(), 1000);
}
