//! `fsched logs` and the logs line of `fsched show` end to end: a run launched by the real dispatcher in the
//! emulator from a task definition that logs with `awslogs`, its container's output written to the stream ECS would
//! write (the emulator runs no containers), then read back by the binary; `--follow` until the recorder closes the
//! run.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration as StdDuration;

use chrono::{DateTime, TimeZone, Utc};
use fsched_core::domain::logs::task_id;
use fsched_core::domain::run::Run;
use fsched_tests::unique_name;
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn logging_definition(w: &World, group: &str) -> String {
    fsched_tests::logs::logging_definition(&w.config, group)
        .await
        .unwrap()
}

/// A run of a job on that definition, launched by the dispatcher at 02:00.
async fn launched(w: &World, definition: &str) -> Run {
    let mut spec = w.spec("cron(0 2 * * ? *)");
    spec.task_definition = definition.to_owned();
    let job = w.add(&unique_name("etl"), spec, at(1, 0)).await;
    let report = w
        .dispatcher()
        .tick(
            at(2, 0),
            tokio::time::Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    w.run(&job, at(2, 0)).await
}

async fn write(w: &World, group: &str, run: &Run, lines: &[&str], from: DateTime<Utc>) {
    let task = run.task_arn.as_deref().unwrap();
    fsched_tests::logs::write(&w.config, group, task, lines, from)
        .await
        .unwrap();
}

#[tokio::test]
async fn logs_prints_the_containers_output_and_show_says_where_it_is() {
    let w = world().await;
    let group = format!("/ecs/{}", unique_name("etl"));
    let definition = logging_definition(&w, &group).await;
    let run = launched(&w, &definition).await;
    let id = run.id.to_string();
    write(
        &w,
        &group,
        &run,
        &["starting", "loaded 1200 rows", "done"],
        at(2, 1),
    )
    .await;

    let out = fsched(&w, &["logs", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "2026-11-28T02:01:00Z starting\n2026-11-28T02:01:01Z loaded 1200 rows\n2026-11-28T02:01:02Z done\n"
    );
    // For scripts: one `LogLine` document per line, the same lines.
    let json = fsched(&w, &["logs", &id, "-o", "json"]);
    let lines: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    insta::assert_snapshot!(
        "log_lines",
        fsched_tests::sorted_json(&serde_json::json!(lines)).replace(&id, "[run]")
    );
    let recent = fsched(&w, &["logs", &id, "--since", "2026-11-28T02:01:01Z"]);
    assert_eq!(
        text(&recent.stdout).lines().count(),
        2,
        "{}",
        text(&recent.stdout)
    );

    let proxy = fsched(&w, &["logs", &id, "--container", "proxy"]);
    assert_eq!(proxy.status.code(), Some(1));
    assert!(
        text(&proxy.stderr).contains("`proxy` logs with the `splunk` driver"),
        "{}",
        text(&proxy.stderr)
    );
    let typo = fsched(&w, &["logs", &id, "--container", "ap"]);
    assert!(
        text(&typo.stderr).contains("no container `ap` (it has: app, proxy)"),
        "{}",
        text(&typo.stderr)
    );

    let page = fsched(&w, &["show", &id]);
    let page = text(&page.stdout);
    let stream = format!("etl/app/{}", task_id(run.task_arn.as_deref().unwrap()));
    assert!(page.contains(&format!("app: {group} {stream}")), "{page}");
    assert!(page.contains(&format!("fsched logs {id}")), "{page}");
}

#[tokio::test]
async fn follow_prints_new_lines_until_the_run_ends() {
    let w = world().await;
    let group = format!("/ecs/{}", unique_name("etl"));
    let definition = logging_definition(&w, &group).await;
    let run = launched(&w, &definition).await;
    write(&w, &group, &run, &["first"], at(2, 1)).await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(["logs", &run.id.to_string(), "--follow", "--poll", "100ms"])
        .env("FSCHED_TABLE", w.store.table())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    write(&w, &group, &run, &["second"], at(2, 2)).await;
    for fixture in ["running", "stopped-success"] {
        let event = w.report(&run, fixture).await;
        fsched_recorder::handler::handle(&w.recorder(), event)
            .await
            .unwrap();
    }
    // Bounded by attempts, not time: the command ends once it sees the run closed and nothing new.
    let mut status = None;
    for _ in 0..600 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    if status.is_none() {
        child.kill().unwrap();
    }
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "still following: {printed}"
    );
    assert_eq!(
        printed,
        "2026-11-28T02:01:00Z first\n2026-11-28T02:02:00Z second\n"
    );
}
