//! The documents of `--output json` and `--output yaml`, command by command, through the binary against the
//! emulator: each command's JSON pinned by a snapshot (docs/output.md is their reference), its YAML the same document.
//! What differs from run to run (the sandbox's generated names, times taken from the clock, ids made from them) is
//! replaced by a placeholder before the comparison; everything else is what the command printed.

use std::process::{Command, Output};
use std::time::Duration as StdDuration;

use chrono::{DateTime, TimeZone, Utc};
use fsched_core::domain::job::JobSpec;
use fsched_tests::ecs::service;
use fsched_tests::world::{world, World};
use serde_json::Value;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, h, m, 0).unwrap()
}

struct Cli<'a> {
    w: &'a World,
    queue: String,
    /// Generated names and what stands for them in a snapshot.
    names: Vec<(String, &'static str)>,
}

impl Cli<'_> {
    fn call(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fsched"))
            .args(args)
            .env("FSCHED_TABLE", self.w.store.table())
            .env("FSCHED_EVENT_BUS", &self.w.bus)
            .env("FSCHED_TRIGGER_QUEUE", &self.queue)
            .output()
            .unwrap()
    }

    /// The command's document in JSON and in YAML (the same, or the test fails; for a command that changes what it
    /// reports, such as `apply`, the second call's YAML is checked for its kind only), with `varies` (fields whose
    /// value comes from the clock) replaced, as snapshot text.
    fn document(&self, args: &[&str], code: i32, varies: &[&str]) -> String {
        let mut docs = Vec::new();
        for format in ["json", "yaml"] {
            let o = self.call(&[args, &["-o", format]].concat());
            let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
            assert_eq!(
                o.status.code(),
                Some(code),
                "{args:?} -o {format}: {stdout}{}",
                String::from_utf8_lossy(&o.stderr)
            );
            let doc: Value = match format {
                "json" => {
                    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
                    serde_json::from_str(&stdout).unwrap()
                }
                _ => serde_yaml::from_str(&stdout).unwrap(),
            };
            docs.push(doc);
        }
        if ["apply", "pause", "resume"].contains(&args[0]) {
            assert_eq!(docs[0]["kind"], docs[1]["kind"], "{args:?}");
        } else {
            assert_eq!(docs[0], docs[1], "{args:?}: JSON and YAML differ");
        }
        let mut doc = docs.swap_remove(0);
        assert_eq!(doc["apiVersion"], "fsched/v1", "{doc}");
        redact(&mut doc, varies);
        let mut text = fsched_tests::sorted_json(&doc);
        for (name, stands_for) in &self.names {
            text = text.replace(name.as_str(), stands_for);
        }
        text
    }
}

/// Replaces the value of every field named in `keys`, at any depth, by `"[varies]"`.
fn redact(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(map) => {
            for (k, field) in map.iter_mut() {
                if keys.contains(&k.as_str()) && !field.is_null() {
                    *field = Value::from("[varies]");
                } else {
                    redact(field, keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact(i, keys)),
        _ => {}
    }
}

/// A night of `etl` (02:00 in Berlin) launched by the real dispatcher and recorded from ECS's events, so that the
/// run documents carry what a real run has.
async fn a_night(w: &World) {
    let spec = JobSpec {
        timezone: "Europe/Berlin".parse().unwrap(),
        ..w.spec("cron(0 2 * * ? *)")
    };
    let etl = w.add("etl", spec, at(0, 0)).await;
    let report = w
        .dispatcher()
        .tick(
            at(1, 0),
            tokio::time::Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let run = w.run(&etl, at(1, 0)).await;
    for name in ["pending", "running", "stopped-exit-code"] {
        let event = w.report(&run, name).await;
        fsched_recorder::handler::handle(&w.recorder(), event)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn every_commands_document_is_versioned_and_pinned() {
    let w = world().await;
    let (_, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    // The ECS service's name is the one given here: it needs no placeholder.
    let api = service(&w.config, &w.sandbox, "api", 2, Some((2, 4)))
        .await
        .unwrap();
    a_night(&w).await;
    let dir = std::env::temp_dir().join(w.store.table());
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jobs.yaml").display().to_string();
    std::fs::write(
        &file,
        format!(
            "defaults:\n  cluster: {cluster}\n  network:\n    subnets: [{subnets}]\n    security_groups: [{sg}]\n\
             jobs:\n  report:\n    schedule: cron(0 6 ? * MON *)\n    timezone: Europe/Berlin\n    task_definition: {td}\n\
             services:\n  staging-api:\n    cluster: {cluster}\n    service: {api}\n    timezone: Europe/Berlin\n    \
             awake: [weekdays 07:30-20:00]\n",
            cluster = w.sandbox.cluster,
            subnets = w.sandbox.subnets.join(", "),
            sg = w.sandbox.security_group,
            td = w.task_definition,
        ),
    )
    .unwrap();
    let bad = dir.join("bad.yaml").display().to_string();
    std::fs::write(
        &bad,
        "jobs:\n  a:\n    schedule: cron(0 2 * * ? *)\n    memory: 2 GB\n",
    )
    .unwrap();
    let mut names = vec![
        (file.clone(), "[file]"),
        (bad.clone(), "[bad file]"),
        (w.sandbox.cluster.clone(), "[cluster]"),
        (w.task_definition.clone(), "[task definition]"),
        (w.sandbox.security_group.clone(), "[security group]"),
        (w.bus.clone(), "[bus]"),
        (queue.clone(), "[queue]"),
    ];
    names.extend(w.sandbox.subnets.iter().map(|s| (s.clone(), "[subnet]")));
    let cli = Cli {
        w: &w,
        queue: queue.clone(),
        names,
    };

    // Times from the clock, and ids and ARNs the emulator makes up.
    let clock = [
        "next_fire",
        "next_fires",
        "next_transition",
        "hold_until",
        "requested_at",
        "task_arn",
        "claimed_at",
    ];
    let every: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "next",
            vec![
                "next",
                "cron(0 2 * * ? *)",
                "--tz",
                "Europe/Berlin",
                "--after",
                "2026-11-28",
                "--count",
                "2",
            ],
            0,
        ),
        ("validate", vec!["validate", &file], 0),
        ("validate_invalid", vec!["validate", &bad], 2),
        ("plan", vec!["plan", &file], 0),
        ("apply", vec!["apply", &file], 0),
        ("jobs", vec!["jobs"], 0),
        ("job", vec!["job", "etl"], 0),
        ("pause", vec!["pause", "report"], 0),
        ("resume", vec!["resume", "report"], 0),
        (
            "runs",
            vec!["runs", "--since", "2026-11-28", "--until", "2026-11-29"],
            0,
        ),
        ("show", vec!["show", "etl/20261128T010000Z"], 0),
        (
            "cost",
            vec!["cost", "--since", "2026-11-28", "--until", "2026-11-29"],
            0,
        ),
        (
            "backfill",
            vec![
                "backfill",
                "etl",
                "--from",
                "2026-11-26",
                "--to",
                "2026-11-28",
                "--dry-run",
            ],
            0,
        ),
        ("services", vec!["services"], 0),
        (
            "savings",
            vec!["savings", "--since", "2026-11-28", "--until", "2026-11-29"],
            0,
        ),
    ];
    for (name, args, code) in &every {
        let doc = cli.document(args, *code, &clock);
        insta::assert_snapshot!(*name, doc);
    }

    // Commands whose every answer is new: sent once each, the id made from the clock left out.
    let mut sent = Vec::new();
    for (name, args) in [
        ("run", vec!["run", "etl"]),
        ("wake", vec!["wake", "staging-api", "--for", "2h"]),
        ("sleep", vec!["sleep", "staging-api"]),
    ] {
        let o = cli.call(&[&args[..], &["-o", "json"]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        // Who asked is the caller's AWS identity (the emulator's user), with the command.
        let by = doc["requested_by"].as_str().unwrap_or_default().to_owned();
        assert!(by.starts_with("arn:aws:"), "{doc}");
        redact(&mut doc, &[&clock[..], &["run", "requested_by"]].concat());
        sent.push((name, doc));
    }
    for (name, doc) in sent {
        insta::assert_snapshot!(name, fsched_tests::sorted_json(&doc));
    }

    // People's tables say their zone: the job's own by default (02:00 in Berlin is 01:00 UTC), or --tz's.
    let page = |tz: &[&str]| {
        let o = cli.call(&[&["show", "etl/20261128T010000Z"][..], tz].concat());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let berlin = page(&[]);
    assert!(
        berlin.contains("timeline (Europe/Berlin, the job's)")
            && berlin.contains("2026-11-28 02:00:00.000 CET  +0s        due"),
        "{berlin}"
    );
    let utc = page(&["--tz", "utc"]);
    assert!(
        utc.contains("timeline (UTC)") && utc.contains("2026-11-28 01:00:00.000Z  +0s"),
        "{utc}"
    );
    let o = cli.call(&["services", "--tz", "UTC"]);
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.contains("NEXT TRANSITION (UTC)"), "{listing}");
}
