//! Templates, resolution and inbound parsing; hostile payloads by property tests: nothing undeclared reaches a
//! task, nothing panics.

use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

use std::collections::BTreeMap;

use super::*;
use crate::domain::job::{ContainerOverride, JobSpec, Network};

fn spec() -> JobSpec {
    let mut environment = BTreeMap::new();
    environment.insert("REPORT_ID".to_owned(), "$.detail.id".to_owned());
    environment.insert("BUCKET".to_owned(), "{{ $.detail.bucket.name }}".to_owned());
    environment.insert("MODE".to_owned(), "full".to_owned());
    JobSpec {
        schedule: None,
        cluster: "batch".into(),
        task_definition: "report:3".into(),
        network: Network {
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: false,
        },
        containers: BTreeMap::from([(
            "app".to_owned(),
            ContainerOverride {
                command: Some(vec![
                    "report".into(),
                    "--key={{$.detail.object.key}}".into(),
                    "--size".into(),
                    "$.detail.object.size".into(),
                ]),
                environment,
                ..ContainerOverride::default()
            },
        )]),
        ..JobSpec::placeholder()
    }
}

fn upload() -> Value {
    json!({
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "source": "acme.uploads", "detail-type": "File Uploaded",
        "time": "2026-11-29T02:00:00Z",
        "detail": {"id": 42, "bucket": {"name": "inbox"}, "object": {"key": "in/2026-11-29.csv", "size": 1024}}
    })
}

#[test]
fn paths_read_keys_and_indexes_and_refuse_other_shapes() {
    let p = Path::parse("$.detail.files[1].key").unwrap();
    let event = json!({"detail": {"files": [{"key": "a"}, {"key": "b"}]}});
    assert_eq!(p.read(&event).unwrap(), "b");
    for bad in [
        "detail.id",
        "$",
        "$..id",
        "$.detail.",
        "$[x]",
        "$.a b",
        "$.detail[0",
    ] {
        assert!(Path::parse(bad).is_err(), "{bad}");
    }
    let deep = format!("${}", ".a".repeat(17));
    assert!(Path::parse(&deep)
        .unwrap_err()
        .to_string()
        .contains("deeper"));
}

#[test]
fn templates_fill_in_declared_places_only() {
    let resolved = resolve(&spec(), &upload(), &BTreeMap::new()).unwrap();
    let app = &resolved.containers["app"];
    assert_eq!(app.environment["REPORT_ID"], "42");
    assert_eq!(app.environment["BUCKET"], "inbox");
    assert_eq!(app.environment["MODE"], "full");
    assert_eq!(
        app.command.as_deref().unwrap(),
        ["report", "--key=in/2026-11-29.csv", "--size", "1024"]
    );
    let mut rest = resolved.clone();
    rest.containers = spec().containers;
    assert_eq!(rest, spec(), "nothing but the containers' values changed");
}

#[test]
fn missing_and_ill_typed_values_reject_the_run_with_the_reason() {
    let mut event = upload();
    event["detail"].as_object_mut().unwrap().remove("id");
    let err = resolve(&spec(), &event, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.0, "the event has no `$.detail.id`");
    let mut event = upload();
    event["detail"]["bucket"]["name"] = json!({"nested": true});
    let err = resolve(&spec(), &event, &BTreeMap::new()).unwrap_err();
    assert!(err.0.contains("is an object in the event"), "{err}");
    let mut event = upload();
    event["detail"]["object"]["key"] = json!("a\nFOO=bar");
    let err = resolve(&spec(), &event, &BTreeMap::new()).unwrap_err();
    assert!(err.0.contains("control character U+000A"), "{err}");
    let mut event = upload();
    event["detail"]["object"]["key"] = json!("k".repeat(VALUE_MAX + 1));
    assert!(resolve(&spec(), &event, &BTreeMap::new())
        .unwrap_err()
        .0
        .contains("at most 1024"));
}

#[test]
fn explicit_values_replace_declared_variables_and_nothing_else() {
    let values = BTreeMap::from([("REPORT_ID".to_owned(), "7".to_owned())]);
    let resolved = resolve(&spec(), &upload(), &values).unwrap();
    assert_eq!(resolved.containers["app"].environment["REPORT_ID"], "7");
    let values = BTreeMap::from([("AWS_SECRET_ACCESS_KEY".to_owned(), "x".to_owned())]);
    let err = resolve(&spec(), &upload(), &values).unwrap_err();
    assert_eq!(
        err.0,
        "the job does not declare the variable `AWS_SECRET_ACCESS_KEY` (it declares: BUCKET, MODE, REPORT_ID)"
    );
}

#[test]
fn scheduled_runs_can_take_their_scheduled_time() {
    let mut s = spec();
    s.containers.get_mut("app").unwrap().environment =
        BTreeMap::from([("RUN_DATE".to_owned(), "$.detail.scheduled_at".to_owned())]);
    s.containers.get_mut("app").unwrap().command = None;
    assert!(is_dynamic(&s));
    let at = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
    let event = schedule_event(&JobName::new("etl").unwrap(), at);
    let resolved = resolve(&s, &event, &BTreeMap::new()).unwrap();
    assert_eq!(
        resolved.containers["app"].environment["RUN_DATE"],
        "2026-11-29T01:00:00Z"
    );
    assert!(!is_dynamic(&JobSpec::placeholder()));
}

#[test]
fn bad_templates_are_found_before_apply() {
    let mut s = spec();
    s.containers
        .get_mut("app")
        .unwrap()
        .environment
        .insert("X".into(), "{{ $.a".into());
    s.containers
        .get_mut("app")
        .unwrap()
        .environment
        .insert("Y".into(), "$.a..b".into());
    let problems = check_templates(&s);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("containers.app.environment.X"),
        "{problems:?}"
    );
}

#[test]
fn rule_names_fit_eventbridge_and_differ_per_stack_and_job() {
    let a = rule_name(&stack_tag("table-a"), "etl");
    assert_eq!(a.len(), "fsched-".len() + 6 + 1 + 3);
    assert_ne!(a, rule_name(&stack_tag("table-b"), "etl"));
    let long = "j".repeat(64);
    let name = rule_name(&stack_tag("t"), &long);
    assert!(name.len() <= 64, "{name}");
    assert_ne!(
        name,
        rule_name(&stack_tag("t"), &format!("{}k", "j".repeat(63)))
    );
    assert!(name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
}

/// Received half a minute after the events' own time, by a clock that allows the default skew.
fn received() -> Receipt {
    Receipt::new(
        Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 30).unwrap(),
        crate::domain::clock::DEFAULT_SKEW,
    )
}

#[test]
fn a_senders_clock_is_believed_only_near_the_receipt() {
    // `Resume Job` at 9999 used to move a job's next fire past every real one; `Run Job` at 1971 filed a run where
    // no listing finds it. Both now take the time the delivery was received.
    for forged in ["9999-12-31T23:59:00Z", "1971-01-01T00:00:00Z"] {
        let mut resume = command(RESUME_JOB, json!({"job": "nightly"}));
        resume["time"] = json!(forged);
        let Inbound::Command { time, .. } = inbound(&resume, received()).unwrap() else {
            panic!()
        };
        assert_eq!(time, received().at, "{forged}");
        let mut upload = upload();
        upload["time"] = json!(forged);
        let Inbound::Event { time, .. } = inbound(
            &json!({"fsched_job": "import", "event": upload}),
            received(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(time, received().at, "{forged}");
    }
}

fn command(detail_type: &str, detail: Value) -> Value {
    json!({"id": "cmd-1", "source": COMMAND_SOURCE, "detail-type": detail_type,
           "time": "2026-11-29T02:00:00Z", "detail": detail})
}

#[test]
fn commands_and_deliveries_are_read_with_their_ids() {
    let run = inbound(&command(
        RUN_JOB,
        json!({"job": "report", "env": {"REPORT_ID": "7"}, "request_id": "r-1", "requested_by": "ana"}),
    ), received())
    .unwrap();
    let Inbound::Command {
        command:
            Command::RunJob {
                job,
                values,
                request_id,
                requested_by,
            },
        ..
    } = run
    else {
        panic!("{run:?}")
    };
    assert_eq!(
        (job.as_str(), request_id.as_str(), requested_by.as_str()),
        ("report", "r-1", "ana")
    );
    assert_eq!(values["REPORT_ID"], "7");

    let delivery = inbound(
        &json!({"fsched_job": "import", "event": upload()}),
        received(),
    )
    .unwrap();
    let Inbound::Event {
        job,
        source,
        id,
        time,
        ..
    } = delivery
    else {
        panic!()
    };
    assert_eq!((job.as_str(), source.as_str()), ("import", "acme.uploads"));
    assert_eq!(id, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
    assert_eq!(time, Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap());
    // The emulator writes the inner event's time as epoch seconds.
    let mut epoch = upload();
    epoch["time"] = json!(1_796_004_000.25);
    assert!(inbound(&json!({"fsched_job": "import", "event": epoch}), received()).is_ok());
}

#[test]
fn malformed_commands_say_what_is_wrong() {
    let cases = [
        (json!("run"), "`source` is missing"),
        (json!({"source": "acme", "id": "1"}), "got source `acme`"),
        (
            command("Delete Job", json!({"job": "a"})),
            "unknown command `Delete Job`",
        ),
        (command(RUN_JOB, json!({})), "`job` is missing"),
        (
            command(RUN_JOB, json!({"job": "../etc"})),
            "must start with a letter or digit",
        ),
        (
            command(RUN_JOB, json!({"job": "a", "env": {"K": 1}})),
            "env `K` must be a string",
        ),
        (
            command(RUN_JOB, json!({"job": "a", "env": ["K=V"]})),
            "`env` must be an object",
        ),
        (
            command(RESUME_JOB, json!({"job": "a", "replay": "yes"})),
            "`replay` must be true or false",
        ),
        (json!({"fsched_job": "a", "event": "x"}), "carry the event"),
        (json!({"fsched_job": 5, "event": {}}), "must be a job name"),
        (
            json!({"fsched_job": "a", "event": {"id": "1", "source": "s", "time": "yesterday"}}),
            "not an RFC 3339 time",
        ),
    ];
    for (body, expected) in cases {
        let err = inbound(&body, received()).unwrap_err().to_string();
        assert!(err.contains(expected), "{body}: {err}");
    }
}

/// Arbitrary JSON, deep and wide, with hostile strings.
fn hostile() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            ".{0,40}",
            Just("$(rm -rf /)".to_owned()),
            Just("\"; DROP TABLE runs; --".to_owned()),
            Just("a\u{0}b".to_owned()),
            Just("x\nAWS_SECRET_ACCESS_KEY=evil".to_owned()),
            Just("{{ $.detail.id }}".to_owned()),
            Just("k".repeat(5000)),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 256, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}|id|bucket|object|key|size|name", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hostile_events_never_reach_beyond_declared_values(detail in hostile(), env in prop::collection::btree_map("[A-Z_]{1,12}", ".{0,64}", 0..4)) {
        let event = json!({"id": "e", "source": "x", "time": "2026-11-29T02:00:00Z", "detail": detail});
        let declared: Vec<String> = spec().containers["app"].environment.keys().cloned().collect();
        match resolve(&spec(), &event, &env) {
            Ok(resolved) => {
                let app = &resolved.containers["app"];
                prop_assert_eq!(resolved.containers.len(), 1);
                prop_assert_eq!(app.environment.keys().cloned().collect::<Vec<_>>(), declared);
                prop_assert_eq!(app.command.as_ref().map(Vec::len), Some(4));
                for v in app.environment.values().chain(app.command.iter().flatten()) {
                    prop_assert!(v.len() <= VALUE_MAX + 16 && !v.chars().any(char::is_control));
                }
                let mut rest = resolved.clone();
                rest.containers = spec().containers;
                prop_assert_eq!(rest, spec());
            }
            Err(Rejection(reason)) => prop_assert!(!reason.is_empty()),
        }
        // Any body at all: an error or a reading, never a panic.
        let _ = inbound(&json!({"fsched_job": "job", "event": event}), received());
        let _ = inbound(&json!({"source": COMMAND_SOURCE, "id": "1", "time": "2026-11-29T02:00:00Z", "detail-type": RUN_JOB, "detail": event["detail"]}), received());
    }
}

#[test]
fn a_command_sets_event_values_and_params_but_never_another_fixed_value() {
    // MODE is a fixed value: a command may not change it unless the job lists it under `params`.
    let values = BTreeMap::from([("MODE".to_owned(), "drop-tables".to_owned())]);
    let err = resolve(&spec(), &upload(), &values).unwrap_err();
    assert!(
        err.0.contains("`MODE` has a fixed value in the job")
            && err.0.contains("BUCKET, REPORT_ID"),
        "{err}"
    );
    let mut with_params = spec();
    with_params.params = vec!["MODE".to_owned()];
    let resolved = resolve(&with_params, &upload(), &values).unwrap();
    assert_eq!(
        resolved.containers["app"].environment["MODE"],
        "drop-tables"
    );
    assert_eq!(
        settable(&spec()).into_iter().collect::<Vec<_>>(),
        ["BUCKET", "REPORT_ID"]
    );
}

#[test]
fn an_fsched_announcement_sent_twice_is_one_delivery_and_other_events_keep_their_ids() {
    let succeeded = |id: &str, run: &str| {
        json!({"fsched_job": "report", "event": {"id": id, "source": "fsched", "detail-type": "Run Succeeded",
            "time": "2026-11-29T02:00:00Z", "detail": {"job": "etl", "run": run}}})
    };
    let id_of = |body: Value| match inbound(&body, received()).unwrap() {
        Inbound::Event { id, .. } => id,
        other => panic!("{other:?}"),
    };
    let first = id_of(succeeded("e-1", "etl/20261129T020000Z"));
    assert_eq!(first, id_of(succeeded("e-2", "etl/20261129T020000Z")));
    assert_ne!(first, id_of(succeeded("e-1", "etl/20261130T020000Z")));
    assert_eq!(
        id_of(json!({"fsched_job": "import", "event": upload()})),
        "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "other sources keep EventBridge's id"
    );
}

#[test]
fn copies_of_an_announcement_delivered_days_late_agree_on_its_time_and_other_events_take_their_receipts(
) {
    // A run ended at 02:00 on the 29th; the bus was down for three days, and its outbox sent the end again each
    // minute: two copies arrive on the 2nd, a second apart.
    let copy = |id: &str| {
        json!({"fsched_job": "report", "event": {"id": id, "source": "fsched", "detail-type": "Run Succeeded",
            "time": "2026-11-29T02:00:00Z", "detail": {"job": "etl", "run": "etl/20261129T020000Z"}}})
    };
    let at = |s: u32| {
        Receipt::new(
            Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, s).unwrap(),
            crate::domain::clock::DEFAULT_SKEW,
        )
    };
    let read = |body: Value, receipt: Receipt| match inbound(&body, receipt).unwrap() {
        Inbound::Event { id, time, .. } => (id, time),
        other => panic!("{other:?}"),
    };
    let first = read(copy("e-1"), at(0));
    assert_eq!(first, read(copy("e-2"), at(1)));
    assert_eq!(
        first.1,
        Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap()
    );

    // Another sender's event as late takes each delivery's receipt, as before.
    let mut late = upload();
    late["time"] = json!("2026-11-29T02:00:00Z");
    let body = json!({"fsched_job": "import", "event": late});
    assert_eq!(read(body.clone(), at(0)).1, at(0).at);
    assert_eq!(read(body, at(1)).1, at(1).at);

    // An announcement from before the week its copies may take is one no outbox sends: the receipt stands.
    let mut ancient = copy("e-3");
    ancient["event"]["time"] = json!("2026-11-20T02:00:00Z");
    assert_eq!(read(ancient, at(0)).1, at(0).at);
}

#[test]
fn a_command_says_which_event_values_it_cannot_fill() {
    let command =
        json!({"source": "fsched.commands", "detail-type": "Run Job", "detail": {"job": "report"}});
    let given = BTreeMap::from([("BUCKET".to_owned(), "inbox".to_owned())]);
    let (vars, words) = unfilled(&spec(), &command, &given);
    assert_eq!(vars, [("REPORT_ID".to_owned(), "$.detail.id".to_owned())]);
    assert_eq!(
        words,
        ["--key={{$.detail.object.key}}", "$.detail.object.size"]
    );
    // The job's own event fills everything.
    assert_eq!(
        unfilled(&spec(), &upload(), &BTreeMap::new()),
        (vec![], vec![])
    );
}
