//! `fsched run` and `on_event` rules through the binary: the command goes to the bus, the emulator's EventBridge
//! delivers it to the trigger queue, the trigger handler (driven here as Lambda's SQS poller would) starts the run,
//! ECS event fixtures end it, and `--wait` follows it to its exit code.

use std::process::{Command, Output, Stdio};
use std::time::Duration as StdDuration;

use fsched_core::domain::clock::DEFAULT_SKEW;
use fsched_core::domain::run::RunStatus;
use fsched_core::ports::RunStore;
use fsched_tests::world::{world, World};

fn fsched(w: &World, queue: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fsched"));
    c.env("FSCHED_TABLE", w.store.table())
        .env("FSCHED_EVENT_BUS", &w.bus)
        .env("FSCHED_TRIGGER_QUEUE", queue);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const JOBS: &str = "
defaults:
  cluster: CLUSTER
  network: { subnets: [SUBNET] }
jobs:
  report:
    schedule: cron(0 6 * * ? *)
    task_definition: TASKDEF
    params: [REPORT_ID]
    containers:
      app:
        environment: { REPORT_ID: latest }
  import:
    on_event:
      source: [acme.uploads]
      detail-type: [File Uploaded]
    task_definition: TASKDEF
    containers:
      app:
        environment: { FILE: $.detail.object.key }
";

fn jobs_file(w: &World, on_event_detail_type: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}-jobs.yaml", w.store.table()));
    let text = JOBS
        .replace("CLUSTER", &w.sandbox.cluster)
        .replace("SUBNET", &w.sandbox.subnets[0])
        .replace("TASKDEF", &w.task_definition)
        .replace("File Uploaded", on_event_detail_type);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn plan_and_apply_keep_the_on_event_rules() {
    let w = world().await;
    let (_, queue) = w.trigger_queue().await;
    let file = jobs_file(&w, "File Uploaded");
    let plan = fsched(&w, &queue).args(["plan", &file]).output().unwrap();
    let out = text(&plan.stdout);
    assert!(out.contains("+ import  (new: on event in UTC)"), "{out}");
    assert!(
        out.contains("+ rule fsched-") && out.contains("-import on bus"),
        "{out}"
    );
    let apply = fsched(&w, &queue).args(["apply", &file]).output().unwrap();
    assert!(apply.status.success(), "{}", text(&apply.stderr));
    assert!(
        text(&apply.stdout).contains("done     + rule fsched-"),
        "{}",
        text(&apply.stdout)
    );
    let again = fsched(&w, &queue).args(["plan", &file]).output().unwrap();
    assert!(
        !text(&again.stdout).contains("rule fsched-")
            && text(&again.stdout).starts_with("No changes"),
        "{}",
        text(&again.stdout)
    );

    let changed = jobs_file(&w, "File Replaced");
    let out = text(
        &fsched(&w, &queue)
            .args(["apply", &changed])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(
        out.contains("~ rule") && out.contains("its pattern changed"),
        "{out}"
    );

    // Without the stack's bus and queue, a file with on_event is refused before anything changes.
    let refused = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .env("FSCHED_TABLE", w.store.table())
        .env_remove("FSCHED_EVENT_BUS")
        .env_remove("FSCHED_TRIGGER_QUEUE")
        .env_remove("FSCHED_STACK")
        .args(["plan", &file])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = text(&refused.stderr);
    assert!(
        said.contains("(on_event) need the stack's event bus and trigger queue"),
        "{said}"
    );
}

/// Plays Lambda's SQS poller and ECS until `child` ends: commands become runs, runs end with `ending`.
async fn serve(w: &World, queue_url: &str, ending: &str, child: std::process::Child) -> Output {
    serve_chain(w, queue_url, &[ending], child).await
}

/// Like `serve`, for a chain of attempts: each run launched ends with the next of `endings`, and a retry waiting
/// is launched by a dispatcher tick at its time (a back-off after its fixture's stop).
async fn serve_chain(
    w: &World,
    queue_url: &str,
    endings: &[&str],
    mut child: std::process::Child,
) -> Output {
    let triggers = w.triggers();
    let recorder = w.recorder();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(60);
    let mut ended: Vec<String> = Vec::new();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fsched run --wait did not end"
        );
        let delivered = w.receive(queue_url).await;
        if !delivered.records.is_empty() {
            fsched_trigger::handler::batch(&triggers, delivered, DEFAULT_SKEW, deadline).await;
        }
        let runs = w.store.runs_of_job(&"report".parse_job(), 5).await.unwrap();
        for run in runs.iter().filter(|r| r.status == RunStatus::Pending) {
            let id = run.id.to_string();
            if ended.contains(&id) || ended.len() == endings.len() {
                continue;
            }
            for name in ["running", endings[ended.len()]] {
                let event = w.report(run, name).await;
                fsched_recorder::handler::handle(&recorder, event)
                    .await
                    .unwrap();
            }
            ended.push(id);
        }
        if let Some(at) = runs
            .iter()
            .filter(|r| r.status == RunStatus::Waiting)
            .find_map(|r| r.check_at)
        {
            w.dispatcher()
                .tick(at, tokio::time::Instant::now() + StdDuration::from_secs(30))
                .await
                .unwrap();
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn run_wait_follows_a_failed_run_to_its_retry_and_exits_with_the_chains_outcome() {
    use fsched_core::ports::JobStore;
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let file = jobs_file(&w, "File Uploaded");
    assert!(fsched(&w, &queue)
        .args(["apply", &file])
        .output()
        .unwrap()
        .status
        .success());
    let mut job = w
        .store
        .get_job(&"report".parse_job())
        .await
        .unwrap()
        .unwrap();
    job.spec.retry = Some(fsched_core::domain::retry::RetryPolicy::new(2));
    job.version += 1;
    w.store.put_job(&job, Some(job.version - 1)).await.unwrap();

    let child = fsched(&w, &queue)
        .args(["run", "report", "--wait", "--poll", "200ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = serve_chain(
        &w,
        &queue_url,
        &["stopped-exit-code", "stopped-success"],
        child,
    )
    .await;
    let out = text(&done.stdout);
    assert!(done.status.success(), "{out}\n{}", text(&done.stderr));
    let first = out.lines().next().unwrap();
    assert!(
        out.contains(&format!("retrying as {first}-r2 (attempt 2)")),
        "{out}"
    );
    assert!(
        out.contains("FAILED  container `app` exited with code 1")
            && out.trim_end().lines().last().unwrap().contains("SUCCEEDED"),
        "{out}"
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

#[tokio::test]
async fn run_wait_follows_the_run_and_exits_with_its_outcome() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let file = jobs_file(&w, "File Uploaded");
    assert!(fsched(&w, &queue)
        .args(["apply", &file])
        .output()
        .unwrap()
        .status
        .success());

    let spawn = |w: &World| {
        fsched(w, &queue)
            .args([
                "run",
                "report",
                "--env",
                "REPORT_ID=42",
                "--wait",
                "--poll",
                "200ms",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let ok = serve(&w, &queue_url, "stopped-success", spawn(&w)).await;
    let out = text(&ok.stdout);
    assert!(ok.status.success(), "{out}\n{}", text(&ok.stderr));
    let id = out.lines().next().unwrap();
    assert!(id.starts_with("report/") && id.contains("-m"), "{out}");
    // Which open statuses it sees depends on timing; the end is always printed.
    assert!(
        out.contains("SUCCEEDED  every essential container exited 0, exit code 0"),
        "{out}"
    );
    let run = w
        .store
        .get_run(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.overrides.unwrap()["app"].environment["REPORT_ID"], "42");
    // Who asked is the caller's AWS identity, as STS names it (the emulator's user), not the machine's login.
    match &run.trigger {
        fsched_core::domain::run::Trigger::Manual { by } => assert!(
            by.starts_with("arn:aws:") && by.ends_with(" (fsched run)"),
            "{by}"
        ),
        other => panic!("a manual run's trigger: {other:?}"),
    }

    // The same wait for a run that fails exits 1 and says how it ended.
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    let failed = serve(&w, &queue_url, "stopped-exit-code", spawn(&w)).await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stdout));
    assert!(
        text(&failed.stdout).contains("FAILED  container `app` exited with code 1"),
        "{}",
        text(&failed.stdout)
    );
    assert!(text(&failed.stderr).contains("ended FAILED"));

    // A variable the job does not declare: refused with exit 2, nothing sent.
    let refused = fsched(&w, &queue)
        .args(["run", "report", "--env", "PATH=/evil"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("does not declare the variable `PATH`"),
        "{}",
        text(&refused.stderr)
    );
    assert!(w.receive(&queue_url).await.records.is_empty());
    // A variable the job fills from its triggering event: a manual run is told which to give.
    let missing = fsched(&w, &queue).args(["run", "import"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains(
            "job `import` fills FILE (`$.detail.object.key`) from the event that triggers it; a manual run has no \
             such event: give it with --env FILE=VALUE"
        ),
        "{}",
        text(&missing.stderr)
    );
    let given = fsched(&w, &queue)
        .args(["run", "import", "--env", "FILE=orders.csv"])
        .output()
        .unwrap();
    assert!(given.status.success(), "{}", text(&given.stderr));
    let unknown = fsched(&w, &queue).args(["run", "nope"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}
