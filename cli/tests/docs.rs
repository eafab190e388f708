//! Every shell snippet in the README and docs/, run, so none can rot. A block is found by its fence (`sh`,
//! `console`) and run by what it holds:
//! - a transcript (`$ fsched ...` followed by what it prints): run in a directory whose `jobs.yaml` is the nearest
//!   YAML block above it in the same page, and the output compared line by line;
//! - the README's "try the CLI" block: run as written (its own emulator, through `scripts/local-aws`), except its
//!   `cargo build` line (this test's build made the binaries) and with `target/debug/` where cargo put them;
//! - other `fsched` lines: run with `bash` against a table holding a job `nightly-etl` and one failed run of it with
//!   container output in CloudWatch Logs; the docs' example run id stands for that run; `fsched ui` is run until it
//!   prints its address;
//! - `scripts/...` lines: the script exists, is executable and knows each flag the line gives it (these are the
//!   demo, the test command itself and the deploy, run by CI and by hand, not from a test);
//! - `aws events put-events`: the AWS CLI is not installed here, so its entries are sent through the SDK to the
//!   stack's bus and each must be a command the trigger accepts.
//!
//! A block that fits none of these fails the test: a new kind of snippet needs a way to be run here first.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::{DurationRound, Utc};
use fsched_core::domain::job::JobSpec;
use fsched_tests::unique_name;
use fsched_tests::world::{world, World};

/// The run id the docs use as their example.
const EXAMPLE_RUN: &str = "nightly-etl/20261129T010000Z";

struct Block {
    page: String,
    line: usize,
    fence: String,
    text: String,
    /// The nearest YAML block above it on the same page.
    yaml: Option<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn blocks() -> Vec<Block> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut out = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let mut yaml = None;
        let mut open: Option<(usize, String, Vec<&str>)> = None;
        for (i, line) in text.lines().enumerate() {
            match (&mut open, line.strip_prefix("```")) {
                (None, Some(fence)) => open = Some((i + 1, fence.trim().to_owned(), Vec::new())),
                (Some(_), Some("")) => {
                    let Some((start, fence, lines)) = open.take() else {
                        continue;
                    };
                    let body = lines.join("\n");
                    match fence.as_str() {
                        "yaml" => yaml = Some(body),
                        "sh" | "console" | "bash" => out.push(Block {
                            page: name.clone(),
                            line: start,
                            fence,
                            text: body,
                            yaml: yaml.clone(),
                        }),
                        _ => {}
                    }
                }
                (Some((_, _, lines)), _) => lines.push(line),
                (None, None) => {}
            }
        }
    }
    out
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_fsched"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `PATH` with the directory of the `fsched` this test was built with first.
fn path() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A scratch directory holding `jobs.yaml` (when given).
fn scratch(jobs: Option<&str>) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("docs"));
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(jobs) = jobs {
        std::fs::write(dir.join("jobs.yaml"), jobs).unwrap();
    }
    dir
}

fn is_transcript(b: &Block) -> bool {
    b.fence == "console" && b.text.starts_with("$ ")
}

/// Runs each `$ command` of a transcript and compares what it prints (standard output, then standard error) with
/// the lines that follow it.
fn run_transcript(b: &Block) {
    let dir = scratch(b.yaml.as_deref());
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in b.text.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push((command.to_owned(), Vec::new())),
            None => steps.last_mut().unwrap().1.push(line.trim_end().to_owned()),
        }
    }
    for (command, expected) in steps {
        let o = Command::new("bash")
            .args(["-c", &command])
            .current_dir(&dir)
            .env("PATH", path())
            .output()
            .unwrap();
        let printed =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        let printed: Vec<String> = printed.lines().map(|l| l.trim_end().to_owned()).collect();
        assert_eq!(
            printed, expected,
            "{}:{}: `{command}` prints something else",
            b.page, b.line
        );
    }
}

/// What a block printed, once it exited 0 (else the test fails, naming the block and what it printed).
fn succeeded(b: &Block, o: &std::process::Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{}:{}: {out}{}",
        b.page,
        b.line,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The README's "try the CLI" block, as a newcomer runs it.
fn run_try_the_cli(b: &Block) {
    let debug = format!("{}/", bin_dir().display());
    let script: Vec<String> = b
        .text
        .lines()
        .filter(|l| !l.starts_with("cargo build"))
        .map(|l| l.replace("target/debug/", &debug))
        .collect();
    assert!(
        bin_dir().join("fsched-demo-setup").exists(),
        "{}:{}: build the demo's set-up tool first: cargo build -p fsched-tests --bins",
        b.page,
        b.line
    );
    let o = Command::new("bash")
        .args(["-c", &script.join("\n")])
        .current_dir(root())
        .output()
        .unwrap();
    let out = succeeded(b, &o);
    assert!(out.contains("nightly-etl"), "{out}");
}

/// A `scripts/NAME --flag ...` line: the script is there, executable, and mentions each flag it is given.
fn check_script_line(b: &Block, line: &str) {
    use std::os::unix::fs::PermissionsExt;
    let words: Vec<&str> = line.split('#').next().unwrap().split_whitespace().collect();
    let script = root().join(words[0]);
    let mode = std::fs::metadata(&script)
        .unwrap_or_else(|e| panic!("{}:{}: {}: {e}", b.page, b.line, words[0]))
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "{} is not executable", words[0]);
    let text = std::fs::read_to_string(&script).unwrap();
    for flag in words.iter().filter(|w| w.starts_with("--") && **w != "--") {
        assert!(
            text.contains(flag),
            "{}:{}: {} does not know {flag}",
            b.page,
            b.line,
            words[0]
        );
    }
}

/// The table the `fsched` lines run against: the job `nightly-etl`, one failed run of it an hour ago with its
/// container's output in CloudWatch Logs, and a jobs file the table is up to date with. Returns the run's id.
async fn a_failed_night(w: &World, dir: &Path) -> String {
    let group = format!("/ecs/{}", unique_name("etl"));
    let definition = fsched_tests::logs::logging_definition(&w.config, &group)
        .await
        .unwrap();
    let due = Utc::now()
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap()
        - chrono::Duration::hours(1);
    let spec = JobSpec {
        task_definition: definition.clone(),
        ..w.spec("cron(0 * * * ? *)")
    };
    let job = w
        .add("nightly-etl", spec, due - chrono::Duration::minutes(1))
        .await;
    let report = w
        .dispatcher()
        .tick(
            due,
            tokio::time::Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let run = w.run(&job, due).await;
    for name in ["pending", "running", "stopped-exit-code"] {
        let event = w.report(&run, name).await;
        fsched_recorder::handler::handle(&w.recorder(), event)
            .await
            .unwrap();
    }
    let task = run.task_arn.clone().unwrap();
    fsched_tests::logs::write(&w.config, &group, &task, &["starting", "failed"], due)
        .await
        .unwrap();
    // A file that declares what is stored, so that a plan of it finds nothing to change.
    let yaml = format!(
        "jobs:\n  nightly-etl:\n    schedule: cron(0 * * * ? *)\n    cluster: {}\n    task_definition: {definition}\n    \
         network:\n      subnets: [{}]\n      security_groups: [{}]\n",
        w.sandbox.cluster,
        w.sandbox.subnets.join(", "),
        w.sandbox.security_group
    );
    std::fs::write(dir.join("jobs.yaml"), yaml).unwrap();
    run.id.to_string()
}

/// Runs a block of `fsched` lines with bash against the world; `fsched ui` prints its address and is stopped.
fn run_fsched_block(b: &Block, w: &World, dir: &Path, run: &str) {
    let prelude = "fsched() { if [ \"$1\" = ui ]; then timeout 20 fsched \"$@\" | head -1; \
                   else command fsched \"$@\"; fi; }\n";
    let script = prelude.to_owned() + &b.text.replace(EXAMPLE_RUN, run);
    let o = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir)
        .env("PATH", path())
        .env("FSCHED_TABLE", w.store.table())
        .env("FSCHED_EVENT_BUS", &w.bus)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = succeeded(b, &o);
    if b.text.contains("fsched logs") {
        assert!(out.contains("starting"), "the run's output: {out}");
    }
    if b.text.contains("fsched ui") {
        assert!(
            out.contains("http://127.0.0.1:"),
            "the dashboard's address: {out}"
        );
    }
    if b.text.contains("--status failed") && b.text.contains("-o json") {
        assert!(out.contains(run), "the failed run's id: {out}");
    }
}

/// `aws events put-events --entries '[...]'`: each entry, sent through the SDK to the bus, is a command.
async fn send_put_events(b: &Block, w: &World) {
    let entries = b
        .text
        .split_once("--entries '")
        .and_then(|(_, rest)| rest.rsplit_once('\''))
        .map(|(json, _)| json)
        .unwrap_or_else(|| panic!("{}:{}: no --entries", b.page, b.line));
    let entries: Vec<serde_json::Value> = serde_json::from_str(entries).unwrap();
    let eb = aws_sdk_eventbridge::Client::new(&w.config);
    for e in entries {
        let kind = e["DetailType"].as_str().unwrap();
        let detail: serde_json::Value =
            serde_json::from_str(e["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(e["Source"], fsched_core::domain::trigger::COMMAND_SOURCE);
        fsched_core::domain::trigger::Command::from_event(kind, &detail, "docs")
            .unwrap_or_else(|err| panic!("{}:{}: {err}", b.page, b.line));
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&w.bus)
            .source(e["Source"].as_str().unwrap())
            .detail_type(kind)
            .detail(detail.to_string())
            .build();
        let sent = eb.put_events().entries(entry).send().await.unwrap();
        assert_eq!(sent.failed_entry_count(), 0, "{sent:?}");
    }
}

#[tokio::test]
async fn every_snippet_in_the_readme_and_docs_runs() {
    let all = blocks();
    assert!(all.len() >= 8, "the snippets were not found: {}", all.len());
    let w = world().await;
    let dir = scratch(None);
    let run = a_failed_night(&w, &dir).await;
    let mut ran = 0;
    for b in &all {
        let first = b.text.trim_start();
        if is_transcript(b) {
            run_transcript(b);
        } else if b.text.contains("fsched-demo-setup") {
            run_try_the_cli(b);
        } else if first.starts_with("scripts/") {
            for line in b.text.lines().filter(|l| !l.trim().is_empty()) {
                check_script_line(b, line);
            }
        } else if first.starts_with("aws events put-events") {
            send_put_events(b, &w).await;
        } else if b
            .text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .all(|l| l.contains("fsched ") || l.starts_with("if ") || l.starts_with("code="))
        {
            run_fsched_block(b, &w, &dir, &run);
        } else {
            panic!(
                "{}:{}: this test does not know how to run this block:\n{}",
                b.page, b.line, b.text
            );
        }
        ran += 1;
    }
    assert_eq!(ran, all.len());
}
