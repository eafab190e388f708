//! `fsched ui` looked at as a person would: the binary serves the dashboard over records the real dispatcher and
//! recorder wrote in the emulator (a few hours of two hourly jobs: successes, failures, missed fires) and a
//! declared service with a week of scale actions; Debian's headless Chromium, driven by tests/ui/check.mjs
//! (Playwright), opens every page, follows the links, and compares what it sees with the records. No console
//! error, no request outside the server. With FSCHED_UI_SCREENSHOTS set, it also saves each page as a PNG
//! (scripts/screenshots: the README's pictures).
//!
//! Needs Chromium and the driver: scripts/test installs both (scripts/lib/browser).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::service::{Phase, ScaleAction, ScaleTrigger, ServiceState};
use fsched_core::ports::{RunStore, ServiceStore};
use fsched_tests::world::{world, World};

/// Kills the dashboard when the test ends, however it ends.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Hours of two hourly jobs: `etl` succeeds, `import` exits 1, and the last fire of each is found too late (missed).
async fn hours_of_runs(w: &World, t0: DateTime<Utc>) -> String {
    let etl = w
        .add(
            "etl",
            w.spec("cron(0 * * * ? *)"),
            t0 - Duration::minutes(30),
        )
        .await;
    let import = w
        .add(
            "import",
            w.spec("cron(0 * * * ? *)"),
            t0 - Duration::minutes(30),
        )
        .await;
    let d = w.dispatcher();
    let recorder = w.recorder();
    for hour in 0..2 {
        let at = t0 + Duration::hours(hour);
        let report = d
            .tick(at, tokio::time::Instant::now() + StdDuration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(report.launched.len(), 2, "{report:?}");
        for (job, end) in [(&etl, "stopped-success"), (&import, "stopped-exit-code")] {
            let run = w.run(job, at).await;
            for fixture in ["running", end] {
                let event = w.report(&run, fixture).await;
                fsched_recorder::handler::handle(&recorder, event)
                    .await
                    .unwrap();
            }
        }
    }
    let late = t0 + Duration::hours(2) + Duration::minutes(20);
    let report = d
        .tick(
            late,
            tokio::time::Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(report.missed.len(), 2, "{report:?}");
    w.run(&import, t0).await.id.to_string()
}

/// A service asleep every night of the last week (its scale actions, as the sleeper records them).
async fn a_week_of_a_service(w: &World, now: DateTime<Utc>) -> String {
    let file = JobsFile::parse(
        "jobs: {}\nservices:\n  staging-api:\n    cluster: data\n    service: staging-api\n    awake: [daily 08:00-19:00]\n",
    )
    .unwrap();
    let (name, spec) = file.services.into_iter().next().unwrap();
    let state = ServiceState::declared(name.clone(), spec, now);
    w.store.put_service(&state, None).await.unwrap();
    let midnight = now.duration_trunc(Duration::days(1)).unwrap();
    for day in 0..7 {
        let night = midnight - Duration::days(day);
        for (at, to, from_count, to_count) in [
            (night - Duration::hours(5), Phase::Asleep, 2, 0),
            (night + Duration::hours(8), Phase::Awake, 0, 2),
        ] {
            if at >= now {
                continue;
            }
            let action = ScaleAction {
                service: name.clone(),
                at,
                to,
                from_count,
                to_count,
                trigger: ScaleTrigger::Schedule,
                task_cpu: Some(256),
                task_memory: Some(512),
                note: None,
                expires_at: None,
            };
            w.store.record_action(&action).await.unwrap();
        }
    }
    name.to_string()
}

#[tokio::test]
async fn every_page_loads_clean_in_chromium_and_shows_what_is_recorded() {
    let w = world().await;
    let now = Utc::now();
    let t0 = now.duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(3);
    let failed = hours_of_runs(&w, t0).await;
    let service = a_week_of_a_service(&w, now).await;
    let runs_24h = w
        .store
        .runs_between(
            now - Duration::hours(24),
            now + Duration::seconds(1),
            usize::MAX,
        )
        .await
        .unwrap()
        .len();
    assert_eq!(
        runs_24h, 6,
        "two jobs: two ended runs and one missed fire each"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(["ui", "--port", "0"])
        .env("FSCHED_TABLE", w.store.table())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _served = Served(child);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in `{first}`"))
        .to_owned();

    let expect = serde_json::json!({
        "jobs": ["etl", "import"], "runs_24h": runs_24h, "services": [service], "run": failed,
    });
    let dir = std::env::temp_dir().join(fsched_tests::unique_name("ui-check"));
    std::fs::create_dir_all(&dir).unwrap();
    let expect_file = dir.join("expect.json");
    std::fs::write(&expect_file, expect.to_string()).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut check = Command::new("node");
    check
        .arg(format!("{root}/tests/ui/check.mjs"))
        .arg(&url)
        .arg(&expect_file);
    if let Ok(shots) = std::env::var("FSCHED_UI_SCREENSHOTS") {
        check.arg(shots);
    }
    let out = check.output().unwrap_or_else(|e| {
        panic!("cannot run node ({e}): scripts/lib/browser installs what the browser check needs")
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "the browser check failed (scripts/lib/browser installs Chromium and the driver):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
