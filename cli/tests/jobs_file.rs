//! `fsched validate / plan / apply / jobs / pause / resume`: the binary against the local AWS emulator, on a fresh
//! table made from template.yaml.

use std::path::PathBuf;
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::plan::plan;
use fsched_core::ports::{JobStore, Timers};
use fsched_core::service::apply::{apply_jobs as apply, Outcome};
use fsched_tests::{fresh_table, local_sdk_config};

const EXAMPLE: &str = include_str!("../../examples/jobs.yaml");

struct Env {
    table: String,
    /// The stack's bus and trigger queue: the example's on_event jobs need them.
    bus: String,
    queue: String,
    dir: PathBuf,
    store: DynamoStore,
}

async fn env() -> Env {
    let config = local_sdk_config().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = fresh_table(&client).await.unwrap();
    let dir = std::env::temp_dir().join(&table);
    std::fs::create_dir_all(&dir).unwrap();
    let bus = format!("{table}-bus");
    aws_sdk_eventbridge::Client::new(&config)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let (_, queue) = fsched_tests::sqs_queue(&config, &format!("{table}-trigger"))
        .await
        .unwrap();
    Env {
        store: DynamoStore::new(client, table.clone()),
        table,
        bus,
        queue,
        dir,
    }
}

impl Env {
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    async fn job(&self, name: &str) -> Option<fsched_core::domain::job::Job> {
        self.store.get_job(&name.parse_job()).await.unwrap()
    }

    fn fsched(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fsched"))
            .args(args)
            .env("FSCHED_TABLE", &self.table)
            .env("FSCHED_EVENT_BUS", &self.bus)
            .env("FSCHED_TRIGGER_QUEUE", &self.queue)
            .output()
            .unwrap()
    }
}

/// The 1-based line of the example that contains `needle`.
fn line_of(needle: &str) -> usize {
    EXAMPLE.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn apply_plan_change_prune_pause_and_resume() {
    let env = env().await;
    let example = env.file("jobs.yaml", EXAMPLE);

    let o = env.fsched(&["validate", &example]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).ends_with("valid, 9 job(s)\n"));

    let o = env.fsched(&["apply", &example]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("+ nightly-etl  (new: cron(0 2 * * ? *) in Europe/Berlin)"),
        "{out}"
    );
    assert!(
        out.contains(
            "Plan: 15 to add, 0 to change, 0 to remove (jobs +9; services +3; rules +3); 0 unchanged."
        ),
        "{out}"
    );
    // The two on_event jobs get their rules on the stack's bus, pointing at the trigger queue; the alerts'
    // destination gets one.
    assert_eq!(out.matches("done     + rule fsched-").count(), 3, "{out}");
    assert!(
        out.contains("(alerts to arn:aws:sqs:eu-central-1:123456789012:data-alerts)"),
        "{out}"
    );
    for job in [
        "compact-events",
        "crm-sync",
        "daily-report",
        "kpi-dashboard",
        "import-upload",
        "migrate-orders-v2",
        "month-end-report",
        "nightly-etl",
    ] {
        assert!(out.contains(&format!("created  {job}")), "{out}");
    }

    // Stored with the next fire the dispatcher will find on the timers index.
    let etl = env.job("nightly-etl").await.unwrap();
    let next = etl.next_fire.expect("an active job has a next fire");
    assert!(next > Utc::now() && next - Utc::now() <= chrono::Duration::days(1));
    assert_eq!(
        next.with_timezone(&chrono_tz::Europe::Berlin)
            .format("%H:%M")
            .to_string(),
        "02:00"
    );

    // One job in full: its next fires in its own zone, its health, alerts and stored definition.
    let o = env.fsched(&["job", "nightly-etl"]);
    let page = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        page.contains("runs on     cron(0 2 * * ? *) in Europe/Berlin"),
        "{page}"
    );
    let fires = page
        .split("next fires")
        .nth(1)
        .unwrap()
        .split("health")
        .next()
        .unwrap();
    assert_eq!(
        fires.matches(" 02:00 CET").count(),
        5,
        "five next fires at 02:00 Berlin: {page}"
    );
    assert!(
        page.contains("health      ok: expected to succeed within 1d 2h"),
        "{page}"
    );
    assert!(
        page.contains("alerts      arn:aws:sqs:eu-central-1:123456789012:data-alerts on failed"),
        "{page}"
    );
    assert!(page.contains("  max_runtime: 3h\n"), "{page}");
    assert!(
        page.contains("none yet: `fsched run nightly-etl` starts one now"),
        "{page}"
    );
    let o = env.fsched(&["job", "nightly-etl", "-o", "json"]);
    let described: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(described["kind"], "Job");
    assert_eq!(described["name"], "nightly-etl");
    assert_eq!(described["next_fires"].as_array().map(Vec::len), Some(5));
    let o = env.fsched(&["job", "nightly-et"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("did you mean `nightly-etl`?"));

    let up_to_date =
        "No changes: 9 job(s) and 3 service(s) up to date, EventBridge rules as wanted.\n";
    let o = env.fsched(&["plan", &example, "--detailed-exitcode"]);
    assert_eq!(text(&o.stdout), up_to_date);
    assert_eq!(o.status.code(), Some(0), "no drift: 0");
    let o = env.fsched(&["apply", &example]);
    assert!(o.status.success());
    assert_eq!(
        text(&o.stdout),
        up_to_date,
        "a second apply changes nothing"
    );
    assert_eq!(env.job("nightly-etl").await.unwrap().version, 1);

    let o = env.fsched(&["jobs"]);
    let listing = text(&o.stdout);
    assert!(listing.contains("NAME"), "{listing}");
    let row = listing
        .lines()
        .find(|l| l.trim_start().starts_with("nightly-etl"))
        .unwrap();
    assert!(
        row.contains("cron(0 2 * * ? *)")
            && row.contains("Europe/Berlin")
            && row.contains("02:00 +01:00")
            && row.trim_end().ends_with("no"),
        "{row}"
    );

    // A change is shown field by field, then applied.
    let changed = env.file(
        "changed.yaml",
        &EXAMPLE
            .replace("rate(15 minutes)", "rate(10 minutes)")
            .replace("cpu: 2048\n    memory: 8192", "cpu: 4096\n    memory: 8192"),
    );
    let o = env.fsched(&["plan", &changed, "--detailed-exitcode"]);
    assert_eq!(
        text(&o.stdout),
        "~ crm-sync\n    schedule: rate(15 minutes) -> rate(10 minutes)\n~ nightly-etl\n    cpu: 2048 -> 4096\n\
         Plan: 0 to add, 2 to change, 0 to remove (jobs ~2); 10 unchanged.\n"
    );
    assert_eq!(o.status.code(), Some(3), "drift: 3");
    let o = env.fsched(&["plan", &changed, "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["changed"], true);
    assert_eq!(
        plan["summary"]["jobs"],
        serde_json::json!({"add": 0, "change": 2, "remove": 0, "unchanged": 7})
    );
    assert_eq!(plan["summary"]["rules"]["add"], 0);
    let o = env.fsched(&["apply", &changed, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = env.fsched(&["apply", &changed]);
    assert!(
        text(&o.stdout).contains("updated  crm-sync\nupdated  nightly-etl\n"),
        "{}",
        text(&o.stdout)
    );
    let sync = env.job("crm-sync").await.unwrap();
    assert_eq!(
        (sync.spec.schedule.as_deref().unwrap(), sync.version),
        ("rate(10 minutes)", 2)
    );
    assert_eq!(
        sync.next_fire.unwrap().timestamp() % 600,
        0,
        "next fire recomputed on the new rate"
    );

    // A job dropped from the file is kept unless pruned.
    let changed_text = EXAMPLE
        .replace("rate(15 minutes)", "rate(10 minutes)")
        .replace("cpu: 2048\n    memory: 8192", "cpu: 4096\n    memory: 8192");
    let without_migration = changed_text.split("  # One-off migration").next().unwrap();
    let fewer = env.file("fewer.yaml", without_migration);
    let o = env.fsched(&["plan", &fewer]);
    assert!(
        text(&o.stdout)
            .contains("  migrate-orders-v2  (not in the file; kept, --prune would remove it)"),
        "{}",
        text(&o.stdout)
    );
    // The summary counts everything --prune removes: jobs, services and rules (not "No changes" over jobs alone).
    let o = env.fsched(&["plan", &fewer, "--prune"]);
    assert!(
        text(&o.stdout).contains("to remove (jobs -3; services -3; rules -2)"),
        "{}",
        text(&o.stdout)
    );
    let o = env.fsched(&["apply", &fewer, "--prune"]);
    assert!(
        o.status.success() && text(&o.stdout).contains("removed  migrate-orders-v2"),
        "{}",
        text(&o.stdout)
    );
    assert!(env.job("migrate-orders-v2").await.is_none());
    // The on_event jobs went with it (they follow it in the file), and so did their rules.
    assert!(env.job("import-upload").await.is_none());
    assert_eq!(
        text(&o.stdout).matches("done     - rule fsched-").count(),
        2,
        "{}",
        text(&o.stdout)
    );

    // Pause takes the job off the timers; resume puts it back from now, without replaying the paused window.
    let o = env.fsched(&["pause", "nightly-etl"]);
    assert_eq!(text(&o.stdout), "paused nightly-etl\n");
    let paused = env.job("nightly-etl").await.unwrap();
    assert!(paused.spec.paused && paused.next_fire.is_none());
    assert!(env
        .store
        .due(Utc.with_ymd_and_hms(2199, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap()
        .iter()
        .all(
            |d| !matches!(d, fsched_core::ports::Due::Job(j) if j.name.as_str() == "nightly-etl")
        ));
    let o = env.fsched(&["resume", "nightly-etl"]);
    assert!(
        text(&o.stdout).starts_with("resumed nightly-etl; next fire "),
        "{}",
        text(&o.stdout)
    );
    let resumed = env.job("nightly-etl").await.unwrap();
    assert!(!resumed.spec.paused && resumed.next_fire.unwrap() > Utc::now());

    let o = env.fsched(&["pause", "no-such-job"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no job `no-such-job` is stored (`fsched jobs` lists them)"));
    // Every lookup of a job by name says the same, with the nearest stored name.
    for args in [
        &["pause", "nightly-et"][..],
        &["resume", "nightly-et"],
        &["run", "nightly-et"],
        &["runs", "--job", "nightly-et"],
    ] {
        let o = env.fsched(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("no job `nightly-et` is stored (did you mean `nightly-etl`?)"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    // A job with no runs yet is an empty history, not an error.
    let o = env.fsched(&["runs", "--job", "nightly-etl"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[tokio::test]
async fn an_invalid_file_reports_every_problem_and_writes_nothing() {
    let env = env().await;
    let bad = env.file(
        "bad.yaml",
        &EXAMPLE
            .replace("cron(0 18 L * ? *)", "cron(0 18 L * * *)")
            .replace("task_definition: crm-sync", "task_defintion: crm-sync"),
    );
    for command in ["validate", "plan", "apply"] {
        let o = env.fsched(&[command, &bad]);
        assert_eq!(o.status.code(), Some(2), "{command}");
        let err = text(&o.stderr);
        let schedule = line_of("cron(0 18 L * ? *)");
        let key = line_of("task_definition: crm-sync");
        assert!(err.contains(&format!("{bad}:{schedule}:15: job `month-end-report`: schedule: day-of-month and day-of-week: one of them must be '?'")), "{err}");
        assert!(err.contains(&format!("{bad}:{key}:5: job `crm-sync`: unknown key `task_defintion` in a job (did you mean `task_definition`?)")), "{err}");
        assert!(err.contains("problem(s); nothing was changed"), "{err}");
        // Each problem shows its line, with a caret under the column.
        assert!(
            err.contains("    |     task_defintion: crm-sync\n    |     ^"),
            "{err}"
        );
    }
    // The common type mistakes are told with the fix.
    let typed = env.file(
        "typed.yaml",
        &EXAMPLE
            .replace("memory: 8192", "memory: 8 GB")
            .replace("catch_up: 2h", "catch_up: 2"),
    );
    let o = env.fsched(&["validate", &typed]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("memory is a plain number of MiB: write `8192` for 8 GB"),
        "{err}"
    );
    assert!(
        err.contains("a number needs a unit: `2m` is 2 minutes"),
        "{err}"
    );
    // Scripts get the problems as data on standard output (`-o json`), with the same exit code.
    let o = env.fsched(&["validate", &bad, "-o", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{report}");
    assert!(problems.iter().any(|p| p["job"] == "crm-sync"
        && p["line"] == line_of("task_definition: crm-sync")
        && p["column"] == 5
        && p["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `task_definition`?")
        && p["file"] == bad.as_str()));
    assert!(
        env.store.list_jobs().await.unwrap().is_empty(),
        "an invalid file applies nothing"
    );
}

#[tokio::test]
async fn two_racing_applies_one_wins_and_the_other_reports_a_conflict() {
    let env = env().await;
    let base = JobsFile::parse(EXAMPLE).unwrap();
    let now = Utc::now();
    apply(&env.store, &plan(&base.jobs, &[], false), now).await;

    // Both read the same stored versions, then write in turn.
    let stored = env.store.list_jobs().await.unwrap();
    let a = JobsFile::parse(&EXAMPLE.replace("rate(15 minutes)", "rate(10 minutes)")).unwrap();
    let b = JobsFile::parse(&EXAMPLE.replace("rate(15 minutes)", "rate(20 minutes)")).unwrap();
    let (plan_a, plan_b) = (plan(&a.jobs, &stored, false), plan(&b.jobs, &stored, false));
    let first = apply(&env.store, &plan_a, now).await;
    let second = apply(&env.store, &plan_b, now).await;
    assert_eq!(first, [("crm-sync".parse_job(), Outcome::Updated)]);
    assert!(
        matches!(&second[..], [(job, Outcome::Conflict(why))] if job.as_str() == "crm-sync" && why.contains("run plan and apply again")),
        "{second:?}"
    );
    let sync = env.job("crm-sync").await.unwrap();
    assert_eq!(
        sync.spec.schedule.as_deref(),
        Some("rate(10 minutes)"),
        "the winner's definition stands, whole"
    );
}

trait ParseJob {
    fn parse_job(&self) -> fsched_core::domain::job::JobName;
}

impl ParseJob for str {
    fn parse_job(&self) -> fsched_core::domain::job::JobName {
        fsched_core::domain::job::JobName::new(self).unwrap()
    }
}

/// A file that lost its jobs by mistake (emptied, or a second YAML document where the first was meant) cannot wipe
/// what is stored: the multi-document file is refused at its `---`, and a prune that would remove every job needs
/// `--yes`, saying what it would remove.
#[tokio::test]
async fn a_prune_that_would_remove_everything_needs_yes_and_a_second_document_is_refused() {
    let env = env().await;
    let example = env.file("jobs.yaml", EXAMPLE);
    assert!(env.fsched(&["apply", &example]).status.success());

    let two = env.file("two.yaml", &format!("jobs: {{}}\n---\n{EXAMPLE}"));
    let o = env.fsched(&["apply", &two, "--prune"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("two.yaml:2:1: a second YAML document starts here"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        env.store.list_jobs().await.unwrap().len(),
        9,
        "nothing removed"
    );

    let empty = env.file("empty.yaml", "jobs: {}\n");
    let plan = env.fsched(&["plan", &empty, "--prune"]);
    assert!(
        text(&plan.stdout).contains("apply will refuse without --yes"),
        "{}",
        text(&plan.stdout)
    );
    let o = env.fsched(&["apply", &empty, "--prune"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("--prune would remove every stored job (9)")
            && err.contains("job crm-sync")
            && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(
        env.store.list_jobs().await.unwrap().len(),
        9,
        "nothing removed"
    );

    let o = env.fsched(&["apply", &empty, "--prune", "--yes"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(env.store.list_jobs().await.unwrap().is_empty());
}

/// What a far-future tick left before clocks were checked (a rate job due in 9999, a cron job with no next fire)
/// is shown by `plan` and repaired by `apply`; after that the file is up to date again.
#[tokio::test]
async fn apply_repairs_fire_times_a_far_future_clock_left() {
    let env = env().await;
    let file = env.file(
        "two.yaml",
        "version: 1\ndefaults:\n  cluster: c\n  network: {subnets: [subnet-1]}\njobs:\n  every-minute:\n    \
         task_definition: t\n    schedule: rate(1 minute)\n  nightly:\n    task_definition: t\n    \
         schedule: cron(0 2 * * ? *)\n",
    );
    let o = env.fsched(&["apply", &file]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let forged = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 0).unwrap();
    for (name, next) in [("every-minute", Some(forged)), ("nightly", None)] {
        let mut job = env.job(name).await.unwrap();
        let version = job.version;
        (job.next_fire, job.last_fire, job.version) = (next, Some(forged), version + 1);
        env.store.put_job(&job, Some(version)).await.unwrap();
    }

    let plan = env.fsched(&["plan", &file]);
    let shown = text(&plan.stdout);
    assert!(
        shown.contains("next_fire (repaired)") && shown.contains("9999-12-31"),
        "{shown}"
    );
    let o = env.fsched(&["apply", &file]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let now = Utc::now();
    for name in ["every-minute", "nightly"] {
        let job = env.job(name).await.unwrap();
        let next = job.next_fire.unwrap();
        assert!(
            next > now - chrono::Duration::minutes(1) && next <= now + chrono::Duration::days(1),
            "{job:?}"
        );
        assert_eq!(job.last_fire, None, "{job:?}");
    }
    let again = env.fsched(&["plan", &file]);
    assert!(
        text(&again.stdout).contains("No changes"),
        "{}",
        text(&again.stdout)
    );
}
