//! `fsched runs / show / cost` end to end: runs launched by the real dispatcher in the emulator and recorded by the
//! real recorder from ECS event fixtures, then read back by the binary from the same table.

use std::process::{Command, Output};
use std::time::Duration as StdDuration;

use chrono::{DateTime, TimeZone, Utc};
use fsched_core::domain::run::Run;
use fsched_tests::world::{world, World};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, h, m, 0).unwrap()
}

fn fsched(w: &World, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(args)
        .env("FSCHED_TABLE", w.store.table())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two jobs due at 02:00; the dispatcher launches both; ECS then reports one success and one exit code 1.
async fn a_night(w: &World) -> (Run, Run) {
    let ok = w.add("etl", w.spec("cron(0 2 * * ? *)"), at(1, 0)).await;
    let bad = w.add("import", w.spec("cron(0 2 * * ? *)"), at(1, 0)).await;
    let tick = serde_json::json!({
        "version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": at(2, 0).to_rfc3339(), "region": "us-east-1", "resources": [], "detail": {}
    });
    let d = w.dispatcher();
    fsched_dispatcher::handler::tick(
        &d,
        tick,
        fsched_core::domain::clock::Receipt::new(
            at(2, 0),
            fsched_core::domain::clock::DEFAULT_SKEW,
        ),
        tokio::time::Instant::now() + StdDuration::from_secs(60),
    )
    .await
    .unwrap();
    let recorder = w.recorder();
    let mut runs = Vec::new();
    for (job, end) in [(&ok, "stopped-success"), (&bad, "stopped-exit-code")] {
        let run = w.run(job, at(2, 0)).await;
        for name in ["pending", "running", end] {
            let event = w.report(&run, name).await;
            fsched_recorder::handler::handle(&recorder, event)
                .await
                .unwrap();
        }
        runs.push(w.run(job, at(2, 0)).await);
    }
    let bad = runs.pop().unwrap();
    (runs.pop().unwrap(), bad)
}

#[tokio::test]
async fn runs_show_and_cost_read_what_the_recorder_wrote() {
    let w = world().await;
    let (ok, bad) = a_night(&w).await;
    let window = [
        "--since",
        "2026-11-28T00:00:00Z",
        "--until",
        "2026-11-29T00:00:00Z",
    ];

    let json: serde_json::Value = serde_json::from_str(&stdout(&fsched(
        &w,
        &[&["runs", "--output", "json"][..], &window].concat(),
    )))
    .unwrap();
    assert_eq!(json["apiVersion"], "fsched/v1");
    assert_eq!(json["kind"], "RunList");
    let rows = json["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(json["total"], 2);
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    let failed = by_id(&bad.id.to_string());
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["exit_code"], 1);
    assert_eq!(failed["runtime_seconds"], 373, "whole seconds");
    assert_eq!(failed["start_delay_seconds"], 58);
    assert_eq!(by_id(&ok.id.to_string())["cost"]["billed_seconds"], 380);

    let table = stdout(&fsched(
        &w,
        &[&["runs", "--status", "failed"][..], &window].concat(),
    ));
    assert!(table.contains(&bad.id.to_string()), "{table}");
    assert!(!table.contains(&ok.id.to_string()), "{table}");
    assert!(
        table.contains("container `app` exited with code 1"),
        "{table}"
    );
    assert!(table.contains("$0.0013"), "{table}");
    // On an 80-column terminal the table fits, wrapping the reason rather than cutting its end off.
    let narrow = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args([&["runs", "--status", "failed"][..], &window].concat())
        .env("FSCHED_TABLE", w.store.table())
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let narrow = stdout(&narrow);
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(narrow.contains("code 1"), "{narrow}");
    // Times say their zone: each job's own by default, or the one --tz names.
    assert!(table.contains("SCHEDULED (JOB'S ZONE)"), "{table}");
    let berlin = stdout(&fsched(
        &w,
        &[&["runs", "--tz", "Europe/Berlin"][..], &window].concat(),
    ));
    assert!(
        berlin.contains("SCHEDULED (EUROPE/BERLIN)") && berlin.contains("2026-11-28 03:00:00 CET"),
        "{berlin}"
    );
    let typo = fsched(&w, &["runs", "--tz", "europe/berlin"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("did you mean `Europe/Berlin`?"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );

    let page = stdout(&fsched(&w, &["show", &bad.id.to_string()]));
    for expected in [
        "status           FAILED",
        "exit code        1",
        "image pull started",
        "containers running",
        "stopped",
    ] {
        assert!(
            page.contains(expected),
            "`{expected}` missing from:\n{page}"
        );
    }

    let cost = stdout(&fsched(&w, &[&["cost"][..], &window].concat()));
    let total = cost
        .lines()
        .find(|l| l.trim_start().starts_with("TOTAL"))
        .unwrap();
    // Two runs of 380 s at 0.25 vCPU / 0.5 GB on-demand x86: 2 x $0.0013028 = $0.0026.
    assert!(
        total.contains("$0.0026") && total.contains("12m 40s"),
        "{cost}"
    );
    // The 28th is long settled: the first report read its runs and rolled it up, the next reads the rollup alone.
    assert!(
        cost.contains("Read: 0 day(s) from their rollups; 2 run(s) of the other days (1 settled day(s) among them rolled up now)."),
        "{cost}"
    );
    let again = stdout(&fsched(&w, &[&["cost"][..], &window].concat()));
    assert!(
        again.contains("Read: 1 day(s) from their rollups; 0 run(s) of the other days.")
            && again.contains("$0.0026"),
        "{again}"
    );
}

#[tokio::test]
async fn unknown_and_malformed_run_ids_are_clear_errors() {
    let w = world().await;
    let missing = fsched(&w, &["show", "etl/20261128T020000Z"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "an unknown name is invalid input"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run `etl/20261128T020000Z`"));
    let bad = fsched(&w, &["show", "etl-yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected JOB/YYYYMMDDTHHMMSSZ"));
}

async fn tick(w: &World, now: DateTime<Utc>) {
    let report = w
        .dispatcher()
        .tick(
            now,
            tokio::time::Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
}

#[tokio::test]
async fn show_prints_every_attempt_of_a_retried_run_and_runs_lists_the_waiting_one() {
    use fsched_core::domain::retry::RetryPolicy;
    use fsched_core::ports::RunStore;
    let w = world().await;
    let spec = fsched_core::domain::job::JobSpec {
        retry: Some(RetryPolicy::new(3)),
        ..w.spec("cron(0 2 * * ? *)")
    };
    let job = w.add("import", spec, at(1, 0)).await;
    tick(&w, at(2, 0)).await;
    let first = w.run(&job, at(2, 0)).await;
    let report = w.report(&first, "stopped-exit-code").await;
    fsched_recorder::handler::handle(&w.recorder(), report)
        .await
        .unwrap();
    let first = w.run(&job, at(2, 0)).await;
    let next = first.retried_as.clone().expect("retried");

    let waiting = stdout(&fsched(
        &w,
        &["runs", "--job", "import", "--since", "2026-11-28T00:00:00Z"],
    ));
    assert!(
        waiting.contains(&next.run.to_string()) && waiting.contains("WAITING"),
        "{waiting}"
    );

    tick(&w, next.at).await;
    let second = w.store.get_run(&next.run).await.unwrap().unwrap();
    let report = w.report(&second, "stopped-success").await;
    fsched_recorder::handler::handle(&w.recorder(), report)
        .await
        .unwrap();

    let limited = stdout(&fsched(
        &w,
        &[
            "runs",
            "--job",
            "import",
            "--since",
            "2026-11-28T00:00:00Z",
            "--limit",
            "1",
        ],
    ));
    assert!(
        limited.contains("Showing the newest 1 of 2 runs: --limit 2 shows them all."),
        "{limited}"
    );
    let none = stdout(&fsched(&w, &["runs", "--job", "import", "--since", "1h"]));
    let empty = none
        .lines()
        .find(|l| l.starts_with("No runs scheduled between"))
        .unwrap_or_else(|| panic!("an empty state: {none}"));
    // Times to the second, and the next step.
    assert!(
        !empty.contains(" UTC") && empty.ends_with("(e.g. --since 7d)."),
        "{empty}"
    );
    let shown = stdout(&fsched(&w, &["show", &first.id.to_string()]));
    assert!(
        shown.lines().any(
            |l| l.starts_with("retried as") && l.contains(&format!("{} (attempt 2)", next.run))
        ),
        "{shown}"
    );
    let shown = stdout(&fsched(&w, &["show", &next.run.to_string()]));
    assert!(
        shown.contains(&format!("2, a retry of {}", first.id)),
        "{shown}"
    );
    let table: Vec<&str> = shown
        .split("attempts\n")
        .nth(1)
        .expect("an attempts table")
        .lines()
        .collect();
    assert!(
        table[1].contains("FAILED") && table[1].contains(&first.id.to_string()),
        "{table:?}"
    );
    assert!(
        table[2].contains("SUCCEEDED") && table[2].contains(&next.run.to_string()),
        "{table:?}"
    );
}

#[tokio::test]
async fn a_parallel_run_is_one_row_in_runs_and_show_prints_its_tasks() {
    use fsched_core::domain::fan::Together;
    use fsched_core::domain::run::RunId;
    use fsched_core::ports::RunStore;
    let w = world().await;
    let spec = fsched_core::domain::job::JobSpec {
        together: Together {
            parallel: Some(3),
            ..Together::default()
        },
        ..w.spec("cron(0 2 * * ? *)")
    };
    let job = w.add("shards", spec, at(1, 0)).await;
    tick(&w, at(2, 0)).await;
    let run = w.run(&job, at(2, 0)).await;
    for index in 0..3 {
        let task = w
            .store
            .get_run(&RunId::task(&run.id, index))
            .await
            .unwrap()
            .unwrap();
        let end = if index == 1 {
            "stopped-exit-code"
        } else {
            "stopped-success"
        };
        let report = w.report(&task, end).await;
        fsched_recorder::handler::handle(&w.recorder(), report)
            .await
            .unwrap();
    }
    let listed = stdout(&fsched(
        &w,
        &["runs", "--job", "shards", "--since", "2026-11-28T00:00:00Z"],
    ));
    let rows: Vec<&str> = listed
        .lines()
        .filter(|l| l.trim_start().starts_with("shards/"))
        .collect();
    assert_eq!(rows.len(), 1, "{listed}");
    assert!(rows[0].contains("FAILED"), "{listed}");
    let shown = stdout(&fsched(&w, &["show", &run.id.to_string()]));
    assert!(
        shown.contains("1 of 3 tasks did not succeed: task 1 FAILED (exit 1)"),
        "{shown}"
    );
    let tasks: Vec<&str> = shown
        .split("tasks (3 of 3 ended)\n")
        .nth(1)
        .expect("a tasks table")
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.contains("shards/"))
        .collect();
    assert_eq!(tasks.len(), 3, "{shown}");
    assert!(
        tasks[1].contains("FAILED") && tasks[1].contains(" 1 "),
        "{shown}"
    );
    let task = stdout(&fsched(&w, &["show", &format!("{}-t1", run.id)]));
    assert!(
        task.contains(&format!("1 of 3, of run {}", run.id)),
        "{task}"
    );
    assert!(task.contains("FSCHED_INDEX=1"), "{task}");
}

#[tokio::test]
async fn show_says_why_a_failed_run_was_not_retried() {
    use fsched_core::domain::retry::RetryPolicy;
    let w = world().await;
    let spec = fsched_core::domain::job::JobSpec {
        retry: Some(RetryPolicy {
            never_exit_codes: vec![1],
            ..RetryPolicy::new(3)
        }),
        ..w.spec("cron(0 2 * * ? *)")
    };
    let job = w.add("import", spec, at(1, 0)).await;
    tick(&w, at(2, 0)).await;
    let run = w.run(&job, at(2, 0)).await;
    let report = w.report(&run, "stopped-exit-code").await;
    fsched_recorder::handler::handle(&w.recorder(), report)
        .await
        .unwrap();
    let shown = stdout(&fsched(&w, &["show", &run.id.to_string()]));
    assert!(
        shown.contains("not retried: exit code 1 is in retry.never_exit_codes"),
        "{shown}"
    );
}
