use chrono::TimeZone;

use super::*;

fn berlin(periods: &[&str]) -> ServiceSpec {
    ServiceSpec {
        cluster: "staging".into(),
        service: "api".into(),
        timezone: "Europe/Berlin".parse().unwrap(),
        awake: Awake::Periods(periods.iter().map(|p| p.parse().unwrap()).collect()),
        awake_count: None,
        enforce: false,
        idle: None,
        wake_on: None,
        event_bus: None,
        wake_on_request: None,
    }
}

fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

#[test]
fn periods_read_the_way_people_write_them() {
    for ok in [
        "weekdays 07:30-20:00",
        "mon-fri 7:30-20:00",
        "sat,sun 10:00-14:00",
        "daily 22:00-06:00",
        "Friday 09:00-24:00",
        "fri-mon 08:00-09:00",
    ] {
        assert!(ok.parse::<Period>().is_ok(), "{ok}");
    }
    for (bad, words) in [
        ("weekdays", "not a period"),
        ("someday 07:00-08:00", "`someday` is not a day"),
        ("mon 7-8", "not a time of day"),
        ("mon 08:00-08:00", "must not start and end at the same time"),
        ("mon 25:00-26:00", "not a time of day"),
    ] {
        let err = bad.parse::<Period>().unwrap_err().to_string();
        assert!(err.contains(words), "{bad}: {err}");
    }
}

#[test]
fn weekday_office_hours_in_berlin() {
    // 2026-11-27 is a Friday; Berlin is UTC+1 in November.
    let spec = berlin(&["weekdays 07:30-20:00"]);
    assert_eq!(spec.phase_at(utc(27, 6, 30)), Phase::Awake);
    assert_eq!(spec.phase_at(utc(27, 6, 29)), Phase::Asleep);
    assert_eq!(spec.phase_at(utc(27, 19, 0)), Phase::Asleep);
    assert_eq!(spec.phase_at(utc(28, 12, 0)), Phase::Asleep, "Saturday");
    // Friday evening: asleep until Monday 07:30 Berlin.
    assert_eq!(
        spec.next_transition(utc(27, 19, 0)),
        Some((utc(30, 6, 30), Phase::Awake))
    );
    assert_eq!(
        spec.next_transition(utc(30, 6, 30)),
        Some((utc(30, 19, 0), Phase::Asleep))
    );
}

#[test]
fn overnight_and_touching_periods() {
    let night = berlin(&["daily 22:00-06:00"]);
    assert_eq!(night.phase_at(utc(28, 22, 0)), Phase::Awake, "23:00 Berlin");
    assert_eq!(night.phase_at(utc(29, 4, 59)), Phase::Awake, "05:59 Berlin");
    assert_eq!(night.phase_at(utc(29, 5, 0)), Phase::Asleep);
    // Two periods that touch are one awake stretch: no transition at 12:00.
    let day = berlin(&["daily 08:00-12:00", "daily 12:00-18:00"]);
    assert_eq!(
        day.next_transition(utc(29, 8, 0)),
        Some((utc(29, 17, 0), Phase::Asleep))
    );
    let always = berlin(&["daily 00:00-24:00"]);
    assert_eq!(always.phase_at(utc(29, 3, 0)), Phase::Awake);
    assert_eq!(always.next_transition(utc(29, 3, 0)), None);
}

#[test]
fn transitions_follow_daylight_saving_time() {
    // Berlin springs forward on 2027-03-28: 07:30 is then 05:30 UTC, the day before 06:30 UTC.
    let spec = berlin(&["daily 07:30-20:00"]);
    let before = Utc.with_ymd_and_hms(2027, 3, 27, 19, 0, 0).unwrap();
    assert_eq!(
        spec.next_transition(before),
        Some((
            Utc.with_ymd_and_hms(2027, 3, 28, 5, 30, 0).unwrap(),
            Phase::Awake
        ))
    );
}

#[test]
fn explicit_sleep_and_wake_schedules() {
    let mut spec = berlin(&[]);
    spec.awake = Awake::Schedules {
        sleep: "cron(0 20 ? * MON-FRI *)".parse().unwrap(),
        wake: "cron(30 7 ? * MON-FRI *)".parse().unwrap(),
    };
    assert_eq!(spec.phase_at(utc(27, 12, 0)), Phase::Awake);
    assert_eq!(
        spec.phase_at(utc(28, 12, 0)),
        Phase::Asleep,
        "slept Friday 20:00"
    );
    assert_eq!(
        spec.next_transition(utc(28, 12, 0)),
        Some((utc(30, 6, 30), Phase::Awake))
    );
}

#[test]
fn a_hold_keeps_it_awake_and_checks_come_at_the_right_times() {
    let spec = berlin(&["weekdays 07:30-20:00"]);
    let now = utc(28, 12, 0);
    let mut state = ServiceState::declared(ServiceName::new("staging-api").unwrap(), spec, now);
    state.phase = Phase::Asleep;
    state.hold_until = Some(utc(28, 14, 0));
    state.transition_at = state.spec.next_transition(now).map(|(t, _)| t);
    assert_eq!(wanted(&state, now), Phase::Awake);
    assert_eq!(wanted(&state, utc(28, 14, 0)), Phase::Asleep);
    assert_eq!(check_after(&state, now), Some(utc(28, 14, 0)));
    state.hold_until = None;
    assert_eq!(check_after(&state, now), Some(utc(30, 6, 30)));
    state.spec.enforce = true;
    assert_eq!(check_after(&state, now), Some(utc(28, 12, 1)));
    state.spec.enforce = false;
    state.phase = Phase::Awake;
    assert!(state.awake_off_hours(now), "Saturday noon");
    state.spec.idle = Some(Idle {
        after: Span::from_secs(7200),
        metric: IdleMetric::Queue {
            queue: "jobs".into(),
        },
    });
    assert_eq!(check_after(&state, now), Some(utc(28, 12, 5)));
}

#[test]
fn savings_price_the_tasks_a_sleep_stopped_until_it_woke() {
    let name = ServiceName::new("staging-api").unwrap();
    let action = |at: DateTime<Utc>, to: Phase, from_count: u32| ScaleAction {
        service: name.clone(),
        at,
        to,
        from_count,
        to_count: 0,
        trigger: ScaleTrigger::Schedule,
        task_cpu: Some(512),
        task_memory: Some(1024),
        note: None,
        expires_at: None,
    };
    // Asleep from Friday 19:00 UTC (before the window) to Monday 06:30, with 3 tasks of 0.5 vCPU / 1 GB.
    let actions = [
        action(utc(27, 19, 0), Phase::Asleep, 3),
        action(utc(30, 6, 30), Phase::Awake, 0),
        action(utc(30, 19, 0), Phase::Asleep, 3),
    ];
    let from = utc(28, 0, 0);
    let to = utc(30, 20, 0);
    let got = savings(&actions, from, to, &crate::domain::cost::Prices::default());
    let s = &got[&name];
    // In the window: Sat 00:00 .. Mon 06:30 (54.5 h) and Mon 19:00 .. 20:00 (1 h) = 55.5 h asleep.
    assert_eq!(s.asleep_seconds, 55 * 3600 + 1800);
    assert!((s.task_hours - 166.5).abs() < 1e-9, "3 tasks x 55.5 h");
    // By hand: 166.5 task-hours x (0.5 x 0.04048 + 1 x 0.004445) $/h = 166.5 x 0.024685 = $4.1100525.
    assert!((s.usd - 4.110_052_5).abs() < 1e-9, "{}", s.usd);
}
