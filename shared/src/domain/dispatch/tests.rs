use chrono::TimeZone;

use super::*;
use crate::domain::duration::Span;
use crate::domain::job::{JobSpec, Launch, Network, Retries};
use crate::domain::retry::jitter;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0).unwrap()
}

fn job(schedule: &str, catch_up_secs: u64) -> Job {
    let spec = JobSpec {
        schedule: Some(schedule.parse().unwrap()),
        timezone: "UTC".parse().unwrap(),
        start: None,
        end: None,
        paused: false,
        run_skipped_times: false,
        cluster: "c".to_owned(),
        task_definition: "td:1".to_owned(),
        launch: Launch::Fargate,
        platform_version: None,
        network: Network::default(),
        containers: Default::default(),
        cpu: None,
        memory: None,
        tags: Default::default(),
        group: None,
        overlap: Overlap::Allow,
        max_running: None,
        catch_up: Span::from_secs(catch_up_secs),
        max_runtime: None,
        retries: Retries::default(),
        history: JobSpec::DEFAULT_HISTORY,
        prices: None,
        on_event: None,
        event_bus: None,
        on_interruption: Default::default(),
        params: Vec::new(),
        alerts: Vec::new(),
        expect: None,
        retry: None,
        jitter: None,
        together: Default::default(),
    };
    Job {
        name: JobName::new("etl").unwrap(),
        spec,
        version: 1,
        next_fire: None,
        last_fire: None,
        health: Default::default(),
    }
}

#[test]
fn an_on_time_tick_runs_the_one_due_time_and_moves_to_the_next() {
    let mut j = job("rate(15 minutes)", 600);
    j.next_fire = Some(at(1, 0));
    let f = fires(&j, at(1, 0));
    assert_eq!(f.due, [at(1, 0)]);
    assert_eq!(f.missed, Missed::default());
    assert_eq!(f.next_fire, Some(at(1, 15)));
    assert_eq!(f.last_fire, Some(at(1, 0)));
}

#[test]
fn a_tick_before_the_next_fire_finds_nothing() {
    let mut j = job("rate(15 minutes)", 600);
    j.next_fire = Some(at(1, 15));
    let f = fires(&j, at(1, 14));
    assert!(f.due.is_empty());
    assert_eq!(f.next_fire, Some(at(1, 15)));
    assert_eq!(f.last_fire, None);
}

#[test]
fn after_an_outage_times_within_catch_up_run_and_older_ones_are_missed() {
    // Down from 01:00 to 04:00 with a 10-minute catch-up: 17 times missed (01:00-03:40), 03:50 and 04:00 run.
    let mut j = job("rate(10 minutes)", 600);
    j.next_fire = Some(at(1, 0));
    let f = fires(&j, at(4, 0));
    assert_eq!(f.due, [at(3, 50), at(4, 0)]);
    assert_eq!(f.missed.count, 17);
    assert_eq!(f.missed.recent, [at(3, 20), at(3, 30), at(3, 40)]);
    assert!(!f.missed.more);
    assert_eq!(f.next_fire, Some(at(4, 10)));
    assert_eq!(f.last_fire, Some(at(4, 0)));
}

#[test]
fn catch_up_zero_runs_only_a_time_found_exactly_on_time() {
    let mut j = job("cron(* * * * ? *)", 0);
    j.next_fire = Some(at(1, 0));
    let f = fires(&j, at(1, 2));
    assert_eq!(f.due, [at(1, 2)]);
    assert_eq!(f.missed.count, 2);
}

#[test]
fn a_very_long_outage_is_counted_up_to_the_limit_and_skipped_over() {
    let mut j = job("cron(* * * * ? *)", 600);
    j.next_fire = Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    let f = fires(&j, at(4, 0));
    assert!(f.missed.more);
    assert_eq!(f.missed.count, ENUMERATION_LIMIT);
    assert_eq!(f.due.len(), 11, "03:50..=04:00");
    assert_eq!(f.due.first(), Some(&at(3, 50)));
    assert_eq!(f.next_fire, Some(at(4, 1)));
}

#[test]
fn a_paused_job_or_one_without_next_fire_has_nothing_due() {
    let mut j = job("rate(10 minutes)", 600);
    assert_eq!(fires(&j, at(4, 0)), Fires::default());
    j.next_fire = Some(at(1, 0));
    j.spec.paused = true;
    assert_eq!(fires(&j, at(4, 0)), Fires::default());
}

#[test]
fn a_one_off_schedule_fires_once_then_has_no_next() {
    let mut j = job("at(2026-11-29T01:00:00)", 600);
    j.next_fire = Some(at(1, 0));
    let f = fires(&j, at(1, 1));
    assert_eq!(f.due, [at(1, 0)]);
    assert_eq!(f.next_fire, None);
}

fn name() -> JobName {
    JobName::new("etl").unwrap()
}

#[test]
fn allow_launches_everything() {
    let busy = [RunId::scheduled(&name(), at(0, 0))];
    let d = decide(
        &name(),
        (Overlap::Allow, None),
        &[at(1, 0), at(1, 1)],
        &busy,
        false,
    );
    assert_eq!(
        d.actions,
        [(at(1, 0), Action::Launch), (at(1, 1), Action::Launch)]
    );
    assert!(d.stop.is_empty());
}

#[test]
fn forbid_skips_while_a_run_is_in_progress_including_one_launched_in_the_same_tick() {
    let busy = [RunId::scheduled(&name(), at(0, 0))];
    let d = decide(&name(), (Overlap::Forbid, None), &[at(1, 0)], &busy, false);
    assert_eq!(
        d.actions,
        [(
            at(1, 0),
            Action::Skip("run etl/20261129T000000Z was still in progress (overlap: forbid)".into())
        )]
    );
    let d = decide(
        &name(),
        (Overlap::Forbid, None),
        &[at(1, 0), at(1, 1)],
        &[],
        false,
    );
    assert_eq!(d.actions[0], (at(1, 0), Action::Launch));
    assert!(
        matches!(&d.actions[1], (_, Action::Skip(r)) if r.contains("etl/20261129T010000Z")),
        "{:?}",
        d.actions
    );
}

#[test]
fn replace_stops_what_is_running_and_launches_only_the_latest_time() {
    let busy = [RunId::scheduled(&name(), at(0, 0))];
    let d = decide(
        &name(),
        (Overlap::Replace, None),
        &[at(1, 0), at(1, 1)],
        &busy,
        false,
    );
    assert!(matches!(&d.actions[0], (_, Action::Skip(r)) if r.contains("superseded")));
    assert_eq!(d.actions[1], (at(1, 1), Action::Launch));
    assert_eq!(d.stop, busy);
    assert!(decide(&name(), (Overlap::Replace, None), &[], &busy, false)
        .stop
        .is_empty());
}

#[test]
fn queue_waits_behind_the_newest_run_keeps_one_and_skips_the_rest() {
    let busy = [RunId::scheduled(&name(), at(0, 0))];
    let d = decide(
        &name(),
        (Overlap::Queue, None),
        &[at(1, 0), at(1, 1)],
        &busy,
        false,
    );
    assert_eq!(d.actions[0], (at(1, 0), Action::Queue(busy[0].clone())));
    assert!(
        matches!(&d.actions[1], (_, Action::Skip(r)) if r.contains("already queued")),
        "{:?}",
        d.actions
    );
    assert!(d.stop.is_empty());
    // Nothing going: the first launches, the next queues behind it.
    let d = decide(
        &name(),
        (Overlap::Queue, None),
        &[at(1, 0), at(1, 1)],
        &[],
        false,
    );
    assert_eq!(d.actions[0], (at(1, 0), Action::Launch));
    assert_eq!(
        d.actions[1],
        (at(1, 1), Action::Queue(RunId::scheduled(&name(), at(1, 0))))
    );
    // One already waits: this one is skipped.
    let d = decide(&name(), (Overlap::Queue, None), &[at(1, 0)], &busy, true);
    assert!(matches!(&d.actions[0], (_, Action::Skip(_))));
}

#[test]
fn max_running_skips_launches_beyond_the_limit_counting_what_goes() {
    let busy = [RunId::scheduled(&name(), at(0, 0))];
    let d = decide(
        &name(),
        (Overlap::Allow, Some(2)),
        &[at(1, 0), at(1, 1)],
        &busy,
        false,
    );
    assert_eq!(d.actions[0], (at(1, 0), Action::Launch));
    assert!(
        matches!(&d.actions[1], (_, Action::Skip(r)) if r == "max_running 2: 2 run(s) of the job were going"),
        "{:?}",
        d.actions
    );
    // `replace` stops what goes first: its one launch fits.
    let d = decide(
        &name(),
        (Overlap::Replace, Some(1)),
        &[at(1, 0)],
        &busy,
        false,
    );
    assert_eq!(d.actions[0], (at(1, 0), Action::Launch));
}

#[test]
fn tokens_are_stable_per_run_and_capacity_and_fit_ecs_limits() {
    let run = RunId::scheduled(&name(), at(1, 0));
    let other = RunId::scheduled(&name(), at(1, 1));
    let token = client_token(&run, Capacity::FargateSpot);
    assert_eq!(token, client_token(&run, Capacity::FargateSpot));
    assert_ne!(token, client_token(&run, Capacity::Fargate));
    assert_ne!(token, client_token(&other, Capacity::FargateSpot));
    assert!(token.len() <= 64 && token.bytes().all(|b| (33..=126).contains(&b)));

    let long = RunId::triggered(
        &JobName::new("a".repeat(64)).unwrap(),
        at(1, 0),
        'e',
        &"x".repeat(64),
    );
    let by = started_by(&long, "a1b2c3");
    assert_eq!(by.len(), 36, "{by}");
    assert!(by.starts_with("fsched/20261129T010000Z/"), "{by}");
    assert!(by
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)));
    assert_ne!(started_by(&run, "a1b2c3"), started_by(&other, "a1b2c3"));
    // Two stacks sharing a cluster, each with a job of this name: each finds only its own run's task.
    assert_ne!(started_by(&run, "a1b2c3"), started_by(&run, "d4e5f6"));
}

#[test]
fn jitter_stays_in_range_and_differs_between_runs() {
    let a = RunId::scheduled(&name(), at(1, 0));
    let b = RunId::scheduled(&name(), at(1, 1));
    for n in 0..50 {
        let j = jitter(&a.to_string(), n);
        assert!((0.5..1.0).contains(&j), "{j}");
    }
    assert!((0..10).any(|n| jitter(&a.to_string(), n) != jitter(&b.to_string(), n)));
}

#[test]
fn a_started_by_carries_its_runs_time_and_nothing_else_parses() {
    let at = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
    let id = RunId::scheduled(&JobName::new("etl").unwrap(), at);
    assert_eq!(started_by_time(&started_by(&id, "a1b2c3")), Some(at));
    assert_eq!(started_by_time("ecs-svc/1234567890"), None);
    assert_eq!(started_by_time("fsched/not-a-time/abc"), None);
}
