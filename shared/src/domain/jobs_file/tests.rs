//! The jobs file reader: the example, defaults, and every mistake reported at once with its position.

use super::*;
use crate::domain::cost::Prices;
use crate::domain::duration::Span as Duration;
use crate::domain::job::{Launch, Overlap, Retries};
use crate::domain::retry::{Ending, RetryPolicy};

const EXAMPLE: &str = include_str!("../../../../examples/jobs.yaml");

fn errors(text: &str) -> Vec<String> {
    JobsFile::parse(text)
        .unwrap_err()
        .into_iter()
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn the_example_parses_with_defaults_merged_into_each_job() {
    let file = JobsFile::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e:#?}"));
    let names: Vec<_> = file.jobs.keys().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "compact-events",
            "crm-sync",
            "daily-report",
            "import-upload",
            "kpi-dashboard",
            "migrate-orders-v2",
            "month-end-report",
            "nightly-etl",
            "warehouse-refresh"
        ]
    );

    let etl = &file.jobs[&JobName::new("nightly-etl").unwrap()];
    assert_eq!(etl.timezone, "Europe/Berlin", "from defaults");
    assert_eq!(etl.cluster, "data-platform");
    assert_eq!(
        etl.launch,
        Launch::SpotWithFallback,
        "the job's own value wins"
    );
    assert_eq!(etl.overlap, Overlap::Forbid);
    assert_eq!(etl.catch_up.as_secs(), 7200);
    assert_eq!(
        etl.retries,
        Retries {
            attempts: 3,
            backoff: Duration::from_secs(5)
        }
    );
    assert_eq!(etl.network.subnets.len(), 2);
    assert_eq!(
        etl.containers["etl"].environment["TARGET_SCHEMA"],
        "warehouse"
    );
    assert_eq!((etl.cpu, etl.memory), (Some(2048), Some(8192)));

    let report = &file.jobs[&JobName::new("month-end-report").unwrap()];
    assert_eq!(report.timezone, "America/New_York");
    assert_eq!(report.tags["team"], "finance", "tags merge key by key");
    assert_eq!(report.tags["cost-center"], "4711");
    assert_eq!(report.launch, Launch::Fargate);

    let sync = &file.jobs[&JobName::new("crm-sync").unwrap()];
    assert_eq!(sync.history.as_secs(), 14 * 86_400);
    assert_eq!(sync.max_runtime, Some(Duration::from_secs(14 * 60)));
}

#[test]
fn eleven_mistakes_are_reported_together_with_their_lines() {
    let text = "\
defaults:
  cluster: batch
  timezone: Europe/Berln
  network: { subnets: [subnet-1] }
jobs:
  etl:
    schedule: cron(0 24 * * ? *)
    task_definition: etl:0
    schedul: oops
  report:
    schedule: rate(1 minutes)
    timezone: UTC
    task_definition: report
    launch: spot-fallback
    cpu: 1024
    memory: 1024
  bad name:
    schedule: rate(5 minutes)
    task_definition: x
  sync:
    schedule: rate(5 minutes)
    task_definition: sync
    catch_up: soon
    overlap: never
    retries: { attempts: 0 }
";
    let got = errors(text);
    let want = [
        "3:13: timezone: time zone `Europe/Berln` is not an IANA time zone name (such as `UTC`, `Europe/Berlin` or `America/New_York`)",
        "7:15: job `etl`: schedule: hours: 24 is outside 0-23",
        "8:22: job `etl`: task_definition: task definition revision `0` must be a positive number, as in `etl:7`",
        "9:5: job `etl`: unknown key `schedul` in a job (did you mean `schedule`?)",
        "11:15: job `report`: schedule: rate: with value 1 the unit is `minute`: rate(1 minute)",
        "14:13: job `report`: launch must be one of `fargate`, `spot`, `spot-with-fallback`, found `spot-fallback`",
        "15:10: job `report`: memory 1024 MiB does not go with cpu 1024 on Fargate: use 2048, 3072, 4096, 5120 MiB ... 8192",
        "17:3: job `bad name`: job name `bad name` contains ` `: use only letters, digits, `-` and `_`",
        "23:15: job `sync`: catch_up: `soon` is not a duration: expected number at 0 (write it like `90s`, `10m`, `2h`, `1h 30m` or `90d`)",
        "24:14: job `sync`: overlap must be one of `allow`, `forbid`, `replace`, `queue`, found `never`",
        "25:26: job `sync`: retries.attempts must be a whole number 1-10, found `0`",
    ];
    assert_eq!(got, want);
}

#[test]
fn the_schedule_of_a_job_with_a_bad_zone_is_not_blamed_for_the_zone() {
    // The schedule is only checked once the zone is known; the zone error alone is reported.
    let got = errors("jobs:\n  a:\n    schedule: cron(0 2 * * ? *)\n    timezone: Nowhere\n    cluster: c\n    task_definition: t\n    network: {subnets: [subnet-1]}\n");
    assert_eq!(got.len(), 1, "{got:?}");
}

#[test]
fn missing_required_settings_point_at_the_job() {
    let got = errors("jobs:\n  lonely:\n    paused: true\n");
    assert_eq!(
        got,
        [
            "2:3: job `lonely`: schedule is missing: add e.g. `schedule: cron(0 2 * * ? *)`, `on_event:` for a job that runs on events, or `after:` for one that runs after others",
            "2:3: job `lonely`: cluster is missing: set it on the job or in `defaults`",
            "2:3: job `lonely`: task_definition is missing: add e.g. `task_definition: etl:7` (FAMILY, FAMILY:REVISION or an ARN)",
            "2:3: job `lonely`: network is missing: Fargate tasks use awsvpc networking; set `network.subnets` on the job or in `defaults`",
        ]
    );
}

#[test]
fn duplicate_names_invalid_yaml_and_job_only_keys_in_defaults_are_errors() {
    // A duplicate is one problem among the others, which are all reported with it.
    let dup = errors(
        "jobs:\n  etl: {}\n  etl: {}\n  bad: {schedule: rate(1 day), task_definition: t, overlap: sometimes}\n",
    );
    assert!(
        dup.iter()
            .any(|e| e == "3:3: `etl` is defined twice (first on line 2): names must be unique"),
        "{dup:#?}"
    );
    assert!(
        dup.iter().any(|e| e.contains("overlap must be one of")),
        "{dup:#?}"
    );
    let yaml = errors("jobs:\n  etl: [\n");
    assert!(yaml[0].starts_with("3:1: not valid YAML"), "{yaml:?}");
    let defaults = errors("defaults:\n  schedule: rate(1 hour)\njobs: {}\n");
    assert_eq!(defaults, ["2:3: unknown key `schedule` in defaults (which sets only keys shared by all jobs) (known keys: timezone, cluster, launch, platform_version, network, tags, group, overlap, catch_up, max_runtime, retries, history, run_skipped_times, prices, on_interruption, alerts, expect, retry, jitter, max_running, pool)"]);
    assert_eq!(
        errors("{}"),
        ["1:1: `jobs:` is missing: a jobs file declares its jobs under `jobs:`"]
    );
}

#[test]
fn start_and_end_are_wall_times_in_the_zone_or_instants() {
    let base = "defaults: {cluster: c, network: {subnets: [subnet-1]}}\njobs:\n  a:\n    schedule: rate(1 day)\n    task_definition: t\n    timezone: Europe/Berlin\n";
    let ok = JobsFile::parse(&format!(
        "{base}    start: 2027-01-01T06:00:00\n    end: 2027-02-01T00:00:00Z\n"
    ))
    .unwrap();
    let spec = ok.jobs.values().next().unwrap();
    assert_eq!(
        spec.start.unwrap().to_rfc3339(),
        "2027-01-01T05:00:00+00:00"
    );
    assert_eq!(spec.end.unwrap().to_rfc3339(), "2027-02-01T00:00:00+00:00");
    let backwards = errors(&format!(
        "{base}    start: 2027-02-01T00:00:00\n    end: 2027-01-01T00:00:00\n"
    ));
    assert_eq!(backwards, ["8:10: job `a`: end must be after start"]);
    let gap = errors(&format!("{base}    start: 2027-03-28T02:30:00\n"));
    assert_eq!(gap, ["7:12: job `a`: start: `2027-03-28T02:30:00` does not exist in Europe/Berlin (clocks skip it)"]);
}

#[test]
fn services_with_periods_schedules_and_idle_rules() {
    let text = "defaults: {cluster: staging, timezone: Europe/Berlin}\nservices:\n  staging-api:\n    service: api\n    awake: [weekdays 07:30-20:00, sat 10:00-14:00]\n    awake_count: 2\n    idle:\n      after: 2h\n      metric: {load_balancer: app/staging/1, target_group: targetgroup/api/2}\n  preview:\n    cluster: previews\n    sleep: cron(0 20 ? * MON-FRI *)\n    wake: cron(30 7 ? * MON-FRI *)\n    enforce: true\n    wake_on: {source: [acme.deploys]}\n    event_bus: default\n";
    let file = JobsFile::parse(text).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(file.jobs.is_empty());
    let api = &file.services[&crate::domain::service::ServiceName::new("staging-api").unwrap()];
    assert_eq!(
        (
            api.cluster.as_str(),
            api.service.as_str(),
            api.timezone.as_str()
        ),
        ("staging", "api", "Europe/Berlin")
    );
    assert!(matches!(&api.awake, crate::domain::service::Awake::Periods(p) if p.len() == 2));
    assert_eq!(api.awake_count, Some(2));
    assert_eq!(api.idle.as_ref().unwrap().after.as_secs(), 7200);
    let preview = &file.services[&crate::domain::service::ServiceName::new("preview").unwrap()];
    assert_eq!(
        preview.service, "preview",
        "the service name defaults to the key"
    );
    assert!(preview.enforce);
    assert_eq!(
        preview.wake_on,
        Some(serde_json::json!({"source": ["acme.deploys"]}))
    );
    assert_eq!(preview.event_bus.as_deref(), Some("default"));
}

const RULE: &str =
    "arn:aws:elasticloadbalancing:eu-central-1:1:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d0";
const GROUP: &str = "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api/73e2d6bc24d8a067";

#[test]
fn a_service_woken_by_requests_needs_no_periods_and_sleeps_by_its_target_groups_requests() {
    let text = format!(
        "services:\n  preview:\n    cluster: c\n    wake_on_request:\n      hosts: [preview.example.com]\n      \
         listener_rule: {RULE}\n      target_group: {GROUP}\n      hold: 1h\n"
    );
    let file = JobsFile::read(text.as_bytes()).unwrap();
    let preview = &file.services[&crate::domain::service::ServiceName::new("preview").unwrap()];
    assert!(matches!(&preview.awake, crate::domain::service::Awake::Periods(p) if p.is_empty()));
    assert_eq!(preview.awake_words(), "on request only");
    let wake = preview.wake_on_request.as_ref().unwrap();
    assert_eq!(wake.hold.as_secs(), 3600);
    assert!(wake.serves("Preview.Example.com:443"));
    let idle = preview.idle.as_ref().unwrap();
    assert_eq!(idle.after, crate::domain::service::DEFAULT_IDLE);
    assert_eq!(
        idle.metric,
        crate::domain::service::IdleMetric::TargetGroup {
            load_balancer: "app/web/50dc6c495c0c9188".into(),
            target_group: "targetgroup/api/73e2d6bc24d8a067".into(),
        }
    );
    // An idle rule of its own keeps its metric; one without a metric takes the target group's.
    let own = text.replace("      hold: 1h\n", "    idle: {after: 2h}\n");
    let file = JobsFile::read(own.as_bytes()).unwrap();
    let idle = file.services.values().next().unwrap().idle.clone().unwrap();
    assert_eq!(idle.after.as_secs(), 7200);
    assert!(matches!(
        idle.metric,
        crate::domain::service::IdleMetric::TargetGroup { .. }
    ));
}

#[test]
fn wake_on_request_mistakes_say_what_is_expected() {
    let got = errors(&format!(
        "services:\n  a:\n    cluster: c\n    wake_on_request:\n      hosts: [a.example.com/path]\n      \
         listener_rule: {RULE}\n      target_group: {RULE}\n"
    ));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter()
            .any(|e| e.contains("is not an ALB target group ARN")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("`hosts` lists the host names")),
        "{got:?}"
    );
    let got =
        errors("services:\n  a:\n    cluster: c\n    wake_on_request: {hosts: [a.example.com]}\n");
    assert!(
        got.iter().any(|e| e.contains("`listener_rule` is missing")),
        "{got:?}"
    );
}

#[test]
fn service_mistakes_are_reported_where_they_are() {
    let got = errors("services:\n  a:\n    cluster: c\n    awake: [weekdays 7:30-8]\n  b:\n    cluster: c\n    sleep: cron(0 20 * * ? *)\n  c:\n    cluster: c\n    awake: [daily 08:00-18:00]\n    idle: {after: 1m, metric: {queue: q}}\n");
    assert_eq!(
        got,
        [
            "4:12: service `a`: awake: `8` is not a time of day: write HH:MM (24-hour)",
            "5:3: service `b`: say when it is awake: `awake:` periods (e.g. `weekdays 07:30-20:00`), both `sleep:` and `wake:` schedules, or `wake_on_request:` (asleep until someone opens it)",
            "11:19: service `c`: idle.after: at least 5m (CloudWatch's period)",
        ]
    );
}

#[test]
fn on_event_jobs_need_no_schedule_and_their_patterns_keep_types() {
    let text = MINIMAL.replace(
        "    schedule: rate(1 hour)\n",
        "    on_event:\n      source: [acme.uploads]\n      detail:\n        size: [{numeric: [\">\", 0]}]\n        done: [true]\n        tag: [\"true\"]\n    event_bus: default\n    on_interruption: rerun\n",
    );
    let file = JobsFile::parse(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    let a = &file.jobs[&JobName::new("a").unwrap()];
    assert_eq!(a.schedule, None);
    assert_eq!(
        a.on_event.as_ref().unwrap(),
        &serde_json::json!({"source": ["acme.uploads"], "detail": {"size": [{"numeric": [">", 0]}], "done": [true], "tag": ["true"]}})
    );
    assert_eq!(a.event_bus.as_deref(), Some("default"));
    assert_eq!(a.on_interruption, crate::domain::job::OnInterruption::Rerun);
}

#[test]
fn event_mistakes_are_reported_where_they_are() {
    let empty = errors(&MINIMAL.replace("    schedule: rate(1 hour)\n", "    on_event: {}\n"));
    assert!(
        empty
            .iter()
            .any(|e| e.contains("an empty pattern would match every event")),
        "{empty:?}"
    );
    let bus = errors(&MINIMAL.replace(
        "    schedule: rate(1 hour)\n",
        "    schedule: rate(1 hour)\n    event_bus: default\n",
    ));
    assert!(
        bus[0].contains("event_bus is set without on_event"),
        "{bus:?}"
    );
    let template = errors(&MINIMAL.replace(
        "    schedule: rate(1 hour)\n",
        "    schedule: rate(1 hour)\n    containers:\n      app:\n        environment: {ID: \"$.detail..id\"}\n",
    ));
    assert!(
        template[0].contains("containers.app.environment.ID: `$.detail..id` is not a path"),
        "{template:?}"
    );
}

const MINIMAL: &str = "
defaults:
  cluster: c
  network: { subnets: [subnet-1] }
jobs:
  a:
    schedule: rate(1 hour)
    task_definition: td
";

#[test]
fn prices_override_the_built_in_figures_one_by_one() {
    let text = MINIMAL.replace(
        "defaults:\n",
        "defaults:\n  prices:\n    source: eu-central-1 2026-11\n    fargate: { vcpu_hour: 0.04656 }\n    discount_percent: 12.5\n",
    );
    let file = JobsFile::parse(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    let prices = file.jobs[&JobName::new("a").unwrap()]
        .prices
        .clone()
        .unwrap();
    assert_eq!(prices.source, "eu-central-1 2026-11");
    assert_eq!(prices.fargate_x86.vcpu_hour, 0.04656);
    assert_eq!(
        prices.fargate_x86.gb_hour,
        Prices::default().fargate_x86.gb_hour,
        "not overridden"
    );
    assert_eq!(prices.discount_percent, 12.5);
    assert_eq!(
        JobsFile::parse(MINIMAL).unwrap().jobs[&JobName::new("a").unwrap()].prices,
        None
    );
}

#[test]
fn bad_prices_are_reported_where_they_are() {
    let text = MINIMAL.replace(
        "defaults:\n",
        "defaults:\n  prices:\n    fargate: { vcpu_hour: -1 }\n    discount_percent: lots\n    fargat: {}\n",
    );
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|e| e
                .contains("prices.fargate.vcpu_hour must be a number from 0 to 100, found `-1`")),
        "{errs:#?}"
    );
    assert!(errs.iter().any(|e| e.contains("fargat")), "{errs:#?}");
}

/// Every key `defaults` may set reaches a job that does not set it, exactly as if the job had set it itself. A key
/// added to `SHARED_KEYS` without a sample here fails this test, and so does one the merge forgets.
#[test]
fn every_shared_key_is_inherited() {
    let samples = [
        ("timezone", "Europe/Berlin"),
        ("cluster", "other"),
        ("launch", "spot"),
        ("platform_version", "'1.4.0'"),
        ("network", "{subnets: [subnet-9]}"),
        ("tags", "{team: data}"),
        ("group", "g1"),
        ("overlap", "allow"),
        ("catch_up", "1h"),
        ("max_runtime", "2h"),
        ("retries", "{attempts: 3}"),
        ("history", "30d"),
        ("run_skipped_times", "true"),
        ("prices", "{discount_percent: 10}"),
        ("on_interruption", "rerun"),
        (
            "alerts",
            "[{to: 'arn:aws:sns:eu-west-1:123456789012:oncall', on: [failed]}]",
        ),
        ("expect", "{success_within: 26h}"),
        ("retry", "{attempts: 3, backoff: 5m, never_exit_codes: [2]}"),
        ("jitter", "5m"),
        ("max_running", "2"),
        ("pool", "w"),
    ];
    for key in SHARED_KEYS {
        // A pool is one the file declares.
        let pools = if *key == "pool" {
            "pools: {w: 2}\n"
        } else {
            ""
        };
        let (_, value) = samples
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no sample for shared key `{key}`: add one above"));
        let base: Vec<String> = [("cluster", "c"), ("network", "{subnets: [subnet-1]}")]
            .iter()
            .filter(|(k, _)| k != key)
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let job = "schedule: rate(1 day), task_definition: t";
        let from_defaults = format!(
            "{pools}defaults: {{{}}}\njobs:\n  a: {{{job}}}\n",
            base.iter()
                .cloned()
                .chain([format!("{key}: {value}")])
                .collect::<Vec<_>>()
                .join(", ")
        );
        let own = format!(
            "{pools}defaults: {{{}}}\njobs:\n  a: {{{job}, {key}: {value}}}\n",
            base.join(", ")
        );
        let inherited = JobsFile::parse(&from_defaults)
            .unwrap_or_else(|e| panic!("{key}: {e:?}\n{from_defaults}"));
        let set = JobsFile::parse(&own).unwrap_or_else(|e| panic!("{key}: {e:?}\n{own}"));
        assert_eq!(
            inherited.jobs, set.jobs,
            "`{key}` in defaults must reach the job"
        );
    }
}

#[test]
fn params_name_declared_variables_only() {
    let base = "jobs:\n  a:\n    schedule: rate(1 day)\n    cluster: c\n    task_definition: t\n    network: {subnets: [subnet-1]}\n    containers: {app: {environment: {FORMAT: pdf}}}\n";
    let ok = JobsFile::parse(&format!("{base}    params: [FORMAT]\n")).unwrap();
    assert_eq!(ok.jobs.values().next().unwrap().params, ["FORMAT"]);
    let got = errors(&format!("{base}    params: [FORMAT, DB_HOST]\n"));
    assert_eq!(
        got,
        ["8:13: job `a`: params: `DB_HOST` is not an environment variable of the job's containers: declare it there with its default value"]
    );
}

#[test]
fn alerts_and_expect_are_read_with_defaults_and_checked() {
    let text = "defaults:\n  cluster: c\n  network: {subnets: [subnet-1]}\n  alerts:\n    - to: arn:aws:sns:eu-west-1:123456789012:oncall\njobs:\n  etl:\n    schedule: cron(0 2 * * ? *)\n    task_definition: t\n    expect: {success_within: 26h}\n  quiet:\n    schedule: rate(1 hour)\n    task_definition: t\n    alerts: []\n";
    let file = JobsFile::parse(text).unwrap();
    let etl = &file.jobs[&JobName::new("etl").unwrap()];
    assert_eq!(etl.alerts.len(), 1);
    assert_eq!(
        etl.alerts[0].on,
        crate::domain::alert::Outcome::DEFAULT.to_vec()
    );
    assert_eq!(etl.expect.unwrap().success_within.as_secs(), 26 * 3600);
    assert!(file.jobs[&JobName::new("quiet").unwrap()].alerts.is_empty());

    let bad = errors(
        "jobs:\n  etl:\n    alerts:\n      - to: oncall\n      - on: [failed]\n      - to: arn:aws:sns:eu-west-1:123456789012:t\n        on: [failure]\n    expect: {success_within: 1m}\n",
    );
    for expected in [
        "4:13: job `etl`: alerts.to: `oncall` is not the ARN of an SNS topic or SQS queue",
        "5:11: job `etl`: an entry of alerts needs `to:`",
        "7:14: job `etl`: alerts.on must be one of `started`, `succeeded`, `failed`",
        "8:30: job `etl`: expect.success_within: at least 5m",
    ] {
        assert!(
            bad.iter().any(|e| e.starts_with(expected)),
            "{expected}\n{bad:#?}"
        );
    }
}

#[test]
fn retry_and_jitter_are_read_with_their_defaults_and_checked() {
    let text = "defaults: {cluster: c, network: {subnets: [subnet-1]}}\njobs:\n  a: {schedule: rate(1 day), task_definition: t, retry: 3, jitter: 90s}\n  b:\n    schedule: rate(1 day)\n    task_definition: t\n    retry: {attempts: 4, backoff: 2m, max_backoff: 10m, max_age: 6h, on: [failed, lost], only_exit_codes: [137, 1, 137]}\n";
    let file = JobsFile::parse(text).unwrap_or_else(|e| panic!("{e:#?}"));
    let a = &file.jobs[&JobName::new("a").unwrap()];
    let policy = a.retry.as_ref().expect("retry: 3");
    assert_eq!(policy, &RetryPolicy::new(3));
    assert_eq!(a.jitter, Some(Duration::from_secs(90)));
    let b = file.jobs[&JobName::new("b").unwrap()]
        .retry
        .as_ref()
        .expect("retry mapping");
    assert_eq!(
        (b.attempts, b.backoff, b.max_backoff, b.max_age),
        (
            4,
            Duration::from_secs(120),
            Duration::from_secs(600),
            Duration::from_secs(6 * 3600)
        )
    );
    assert_eq!(b.on, [Ending::Failed, Ending::Lost]);
    assert_eq!(b.only_exit_codes, [1, 137]);

    let bad = "defaults: {cluster: c, network: {subnets: [subnet-1]}}\njobs:\n  a:\n    schedule: rate(1 day)\n    task_definition: t\n    jitter: 2h\n    retry: {attempts: 1, backof: 1m}\n  b:\n    schedule: rate(1 day)\n    task_definition: t\n    retry: {attempts: 3, backoff: 10s, on: [exploded], only_exit_codes: [2], never_exit_codes: [2, 0]}\n  c: {schedule: rate(1 day), task_definition: t, retry: {backoff: 1m}}\n";
    let errs = errors(bad);
    for expected in [
        "jitter: at most 1h",
        "retry.attempts must be a whole number 2-10, found `1`",
        "unknown key `backof` in retry (did you mean `backoff`?)",
        "retry.backoff: at least 1m",
        "retry.on must be one of `failed`, `timed_out`, `interrupted`, `lost`, found `exploded`",
        "retry.never_exit_codes must be a whole number 1-255, found `0`",
        "retry needs `attempts:`",
    ] {
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{expected}: {errs:#?}"
        );
    }
}

#[test]
fn pools_parallel_and_after_are_read_and_tied_together() {
    let file = "pools: {warehouse: 2}\ndefaults: {cluster: c, network: {subnets: [subnet-1]}, pool: warehouse}\njobs:\n  extract-a: {schedule: rate(1 day), task_definition: t, parallel: 4}\n  extract-b: {schedule: rate(1 day), task_definition: t}\n  load:\n    task_definition: t\n    after: {jobs: [extract-a, extract-b], window: 6h}\n";
    let jobs = JobsFile::parse(file).unwrap().jobs;
    let spec = |n: &str| &jobs[&JobName::new(n).unwrap()].together;
    assert_eq!(spec("extract-a").pool.as_ref().map(|p| p.size), Some(2));
    assert_eq!(spec("extract-a").tasks(), 4);
    assert_eq!(spec("extract-a").feeds, [JobName::new("load").unwrap()]);
    assert_eq!(spec("extract-b").feeds, [JobName::new("load").unwrap()]);
    let after = spec("load").after.as_ref().unwrap();
    assert_eq!(after.jobs.len(), 2);
    assert_eq!(after.window.to_string(), "6h");
    assert!(spec("load").feeds.is_empty());
}

#[test]
fn unknown_pools_missing_jobs_and_loops_of_after_are_errors() {
    let base = "defaults: {cluster: c, network: {subnets: [subnet-1]}}\njobs:\n";
    let got = errors(&format!(
        "pools: {{warehouse: 2}}\n{base}  a: {{schedule: rate(1 day), task_definition: t, pool: warehous}}\n"
    ));
    assert_eq!(
        got,
        ["4:56: job `a`: pool: `warehous` is not in `pools:`; did you mean `warehouse`?"]
    );
    let got = errors(&format!(
        "{base}  a: {{task_definition: t, after: [b]}}\n  b: {{task_definition: t, after: [a]}}\n  c: {{task_definition: t, after: [c, extract]}}\n"
    ));
    assert!(
        got.iter()
            .any(|e| e.contains("job `c`: after: a job cannot wait for itself")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("after: no job `extract` in this file")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("a -> b -> a wait for each other")),
        "{got:#?}"
    );
    let got = errors(&format!(
        "pools: {{w: 0}}\n{base}  a: {{schedule: rate(1 day), task_definition: t, parallel: 1, after: {{jobs: []}}}}\n"
    ));
    assert!(
        got.iter()
            .any(|e| e.contains("pools.w must be a whole number 1-100")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("parallel must be a whole number 2-100")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("after.jobs: name at least one job")),
        "{got:#?}"
    );
}

#[test]
fn retry_reads_stop_reason_patterns() {
    let base = "jobs:\n  a:\n    schedule: rate(1 day)\n    cluster: c\n    task_definition: t\n    network: {subnets: [subnet-1]}\n";
    let ok = JobsFile::parse(&format!(
        "{base}    retry: {{attempts: 3, never_reasons: ['CannotPullContainerError*'], only_reasons: ['*OutOfMemory*']}}\n"
    ))
    .unwrap();
    let policy = ok.jobs.values().next().unwrap().retry.clone().unwrap();
    assert_eq!(policy.never_reasons, ["CannotPullContainerError*"]);
    assert_eq!(policy.only_reasons, ["*OutOfMemory*"]);
    let got = errors(&format!(
        "{base}    retry: {{attempts: 3, never_reasons: ['']}}\n"
    ));
    assert!(
        got[0].contains("retry.never_reasons: each pattern is 1-255 characters"),
        "{got:?}"
    );
}

#[test]
fn common_type_mistakes_get_the_fix_in_their_message() {
    let base = "jobs:\n  a:\n    schedule: rate(1 day)\n    cluster: c\n    task_definition: t\n    network: {subnets: [subnet-1]}\n";
    let got = errors(&format!(
        "{base}    memory: 2 GB\n    cpu: 1 vCPU\n    catch_up: 10\n    containers: {{app: {{command: ./run --full}}}}\n"
    ));
    let has = |needle: &str| got.iter().any(|e| e.contains(needle));
    assert!(
        has("memory is a plain number of MiB: write `2048` for 2 GB"),
        "{got:#?}"
    );
    assert!(
        has("cpu is a plain number of CPU units, 1024 = 1 vCPU: write `1024` for 1 vCPU"),
        "{got:#?}"
    );
    assert!(
        has("`10` is not a duration: a number needs a unit: `10m` is 10 minutes"),
        "{got:#?}"
    );
    assert!(
        has("containers.app.command is a list of words (ECS runs it without a shell): write `[\"./run\", \"--full\"]`"),
        "{got:#?}"
    );
    // A plain number still reads as before.
    let ok = JobsFile::parse(&format!("{base}    memory: 2048\n    cpu: 1024\n")).unwrap();
    assert_eq!(ok.jobs.values().next().unwrap().memory, Some(2048));
}
