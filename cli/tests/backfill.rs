//! `fsched backfill` through the binary against the emulator: the missing times of a day claimed as WAITING runs in
//! lanes, the dispatcher launching each lane's head, the recorder's handling of an end releasing the next; a dry
//! run changing nothing; a second backfill finding nothing to do; mistakes exiting 2.

use std::process::{Command, Output};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fsched_core::domain::job::JobSpec;
use fsched_core::domain::run::{RunId, RunStatus, Trigger};
use fsched_core::ports::RunStore;
use fsched_tests::world::{world, World};

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

async fn tick(w: &World, now: DateTime<Utc>) -> usize {
    let report = w
        .dispatcher()
        .tick(
            now,
            tokio::time::Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    report.launched.len()
}

#[tokio::test]
async fn a_days_missing_hours_run_two_at_a_time_each_end_starting_the_next() {
    let w = world().await;
    let now = Utc::now();
    // Two days ago, in Berlin: the job runs hourly from 06:00 to 11:00 (6 times), and its 08:00 run exists.
    let day = (now - Duration::days(2)).date_naive();
    let spec = JobSpec {
        timezone: "Europe/Berlin".parse().unwrap(),
        ..w.spec("cron(0 6-11 * * ? *)")
    };
    let job = w.add("hourly", spec, now).await;
    let berlin = |h: u32| {
        chrono_tz::Europe::Berlin
            .from_local_datetime(&day.and_hms_opt(h, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    w.store
        .claim_run(&fsched_core::domain::run::Run::claimed(
            RunId::scheduled(&job, berlin(8)),
            Trigger::Schedule,
            berlin(8),
            berlin(8),
        ))
        .await
        .unwrap();
    let from = day.format("%Y-%m-%d").to_string();
    let to = (day + Duration::days(1)).format("%Y-%m-%d").to_string();

    let dry = stdout(&fsched(
        &w,
        &[
            "backfill",
            "hourly",
            "--from",
            &from,
            "--to",
            &to,
            "--dry-run",
        ],
    ));
    let would = dry
        .lines()
        .filter(|l| l.trim_end().ends_with("would run"))
        .count();
    assert_eq!(would, 5, "{dry}");
    assert!(dry.contains("has a run (CLAIMED)"), "{dry}");
    assert!(
        dry.contains("Dry run: 5 of 6 times would run, at most 1 at once."),
        "{dry}"
    );
    assert_eq!(w.runs(&job).await.len(), 1, "a dry run changes nothing");

    let json: serde_json::Value = serde_json::from_str(&stdout(&fsched(
        &w,
        &[
            "backfill",
            "hourly",
            "--from",
            &from,
            "--to",
            &to,
            "--max-parallel",
            "2",
            "-o",
            "json",
        ],
    )))
    .unwrap();
    // Midnight of the date in the job's zone.
    assert_eq!(json["from"], serde_json::json!(berlin(0)));
    assert_eq!(
        json["fires"][0]["scheduled_at"],
        serde_json::json!(berlin(6))
    );
    assert_eq!(json["claimed"].as_array().unwrap().len(), 5);
    let waiting: Vec<_> = w
        .runs(&job)
        .await
        .into_iter()
        .filter(|r| r.status == RunStatus::Waiting)
        .collect();
    assert_eq!(waiting.len(), 5);
    assert!(waiting
        .iter()
        .all(|r| matches!(&r.trigger, Trigger::Backfill { by } if by.contains("fsched backfill"))));
    assert_eq!(waiting.iter().filter(|r| !r.is_queued()).count(), 2);

    // The dispatcher starts the two lanes' heads; the first one's end releases the next in its lane.
    let soon = now + Duration::minutes(1);
    assert_eq!(tick(&w, soon).await, 2);
    assert_eq!(tick(&w, soon).await, 0, "the others wait their turn");
    let head = w.run(&job, berlin(6)).await;
    let event = w.report(&head, "stopped-success").await;
    fsched_recorder::handler::handle(&w.recorder(), event)
        .await
        .unwrap();
    // (The fixture's stop is 7m12s after the run was due: the next is released then.)
    assert_eq!(tick(&w, soon + Duration::minutes(10)).await, 1);
    assert_eq!(w.run(&job, berlin(9)).await.status, RunStatus::Pending);

    let again = stdout(&fsched(
        &w,
        &["backfill", "hourly", "--from", &from, "--to", &to],
    ));
    assert!(again.contains("nothing to backfill"), "{again}");

    for (args, expected) in [
        (
            vec!["backfill", "hourlly", "--from", &from, "--to", &to],
            "did you mean `hourly`",
        ),
        (
            vec!["backfill", "hourly", "--from", &from, "--to", "2099-01-01"],
            "is in the future",
        ),
        (
            vec!["backfill", "hourly", "--from", "yesterday", "--to", &to],
            "expected a duration ago",
        ),
    ] {
        let o = fsched(&w, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
