//! Schedule evaluation: zones, DST in both hemispheres, rates, one-offs, and property tests against brute force.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The next `n` fires after `after`, printed in the schedule's zone as `fsched next` prints them.
fn fires(schedule: &Schedule, after: &str, n: usize) -> Vec<String> {
    schedule
        .fires_after(utc(after))
        .take(n)
        .map(|t| t.with_timezone(&schedule.zone()).to_rfc3339())
        .collect()
}

fn sched(expr: &str, zone: &str) -> Schedule {
    Schedule::parse(expr, zone).unwrap_or_else(|e| panic!("{expr} in {zone}: {e}"))
}

#[test]
fn dst_gaps_are_skipped_and_repeated_times_fire_once_in_both_hemispheres() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // Europe/Berlin springs forward 2027-03-28 02:00 -> 03:00: 02:30 does not exist that day.
        (
            "cron(30 2 * * ? *)",
            "Europe/Berlin",
            "2027-03-26T12:00:00Z",
            &["2027-03-27T02:30:00+01:00", "2027-03-29T02:30:00+02:00"],
        ),
        // ... and falls back 2027-10-31 03:00 -> 02:00: 02:30 occurs twice and fires at the first.
        (
            "cron(30 2 * * ? *)",
            "Europe/Berlin",
            "2027-10-30T12:00:00Z",
            &["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"],
        ),
        // Hourly through the fall back: the repeated 02:00 fires once, so there are two hours between fires.
        (
            "cron(0 * * * ? *)",
            "Europe/Berlin",
            "2027-10-30T23:30:00Z",
            &["2027-10-31T02:00:00+02:00", "2027-10-31T03:00:00+01:00"],
        ),
        // America/New_York: 2027-03-14 02:00 -> 03:00; 2027-11-07 02:00 -> 01:00.
        (
            "cron(30 2 * * ? *)",
            "America/New_York",
            "2027-03-13T12:00:00Z",
            &["2027-03-15T02:30:00-04:00"],
        ),
        (
            "cron(30 1 * * ? *)",
            "America/New_York",
            "2027-11-06T12:00:00Z",
            &["2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"],
        ),
        // Australia/Sydney (southern hemisphere): DST ends 2027-04-04 03:00 -> 02:00, starts 2027-10-03 02:00 -> 03:00.
        (
            "cron(30 2 * * ? *)",
            "Australia/Sydney",
            "2027-04-03T00:00:00Z",
            &["2027-04-04T02:30:00+11:00", "2027-04-05T02:30:00+10:00"],
        ),
        (
            "cron(30 2 * * ? *)",
            "Australia/Sydney",
            "2027-10-01T00:00:00Z",
            &["2027-10-02T02:30:00+10:00", "2027-10-04T02:30:00+11:00"],
        ),
        // Australia/Lord_Howe moves by 30 minutes: 2027-10-03 02:00 -> 02:30, 2027-04-04 02:00 -> 01:30.
        (
            "cron(15 2 * * ? *)",
            "Australia/Lord_Howe",
            "2027-10-01T00:00:00Z",
            &["2027-10-02T02:15:00+10:30", "2027-10-04T02:15:00+11:00"],
        ),
        (
            "cron(45 1 * * ? *)",
            "Australia/Lord_Howe",
            "2027-04-02T20:00:00Z",
            &["2027-04-04T01:45:00+11:00", "2027-04-05T01:45:00+10:30"],
        ),
        // Pacific/Chatham (+12:45 / +13:45) springs forward 2027-09-26 02:45 -> 03:45.
        (
            "cron(0 3 * * ? *)",
            "Pacific/Chatham",
            "2027-09-24T00:00:00Z",
            &["2027-09-25T03:00:00+12:45", "2027-09-27T03:00:00+13:45"],
        ),
        // Asia/Kolkata: half-hour offset, no DST.
        (
            "cron(0 9 ? * MON-FRI *)",
            "Asia/Kolkata",
            "2026-11-27T00:00:00Z",
            &["2026-11-27T09:00:00+05:30", "2026-11-30T09:00:00+05:30"],
        ),
        // The issue's own example shape.
        (
            "cron(0 2 * * ? *)",
            "Europe/Berlin",
            "2027-03-28T12:00:00Z",
            &["2027-03-29T02:00:00+02:00"],
        ),
    ];
    for (expr, zone, after, want) in cases {
        assert_eq!(
            fires(&sched(expr, zone), after, want.len()),
            *want,
            "{expr} in {zone} after {after}"
        );
    }
}

#[test]
fn run_after_moves_skipped_times_to_the_end_of_the_gap_once() {
    let daily = sched("cron(30 2 * * ? *)", "Europe/Berlin").skipped_times(SkippedTimes::RunAfter);
    assert_eq!(
        fires(&daily, "2027-03-26T12:00:00Z", 3),
        [
            "2027-03-27T02:30:00+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-29T02:30:00+02:00"
        ]
    );
    // Every quarter hour of the gap lands on 03:00, which fires once, then the schedule goes on.
    let quarter =
        sched("cron(0/15 * * * ? *)", "Europe/Berlin").skipped_times(SkippedTimes::RunAfter);
    assert_eq!(
        fires(&quarter, "2027-03-28T00:40:00Z", 3),
        [
            "2027-03-28T01:45:00+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-28T03:15:00+02:00"
        ]
    );
    let lord_howe =
        sched("cron(15 2 * * ? *)", "Australia/Lord_Howe").skipped_times(SkippedTimes::RunAfter);
    assert_eq!(
        fires(&lord_howe, "2027-10-02T00:00:00Z", 1),
        ["2027-10-03T02:30:00+11:00"]
    );
}

#[test]
fn rates_count_elapsed_time_from_their_anchor_whatever_the_zone() {
    let every15 = sched("rate(15 minutes)", "Europe/Berlin");
    assert_eq!(
        fires(&every15, "2026-11-29T10:07:00Z", 2),
        ["2026-11-29T11:15:00+01:00", "2026-11-29T11:30:00+01:00"]
    );
    // A day is 24 hours of elapsed time, also across a DST change: the wall time moves.
    let daily = sched("rate(1 day)", "Europe/Berlin");
    assert_eq!(
        fires(&daily, "2027-03-27T12:00:00Z", 2),
        ["2027-03-28T01:00:00+01:00", "2027-03-29T02:00:00+02:00"]
    );
    let anchored = sched("rate(7 days)", "UTC").anchored_at(utc("2026-12-01T06:30:00Z"));
    assert_eq!(
        fires(&anchored, "2026-11-29T00:00:00Z", 2),
        ["2026-12-01T06:30:00+00:00", "2026-12-08T06:30:00+00:00"]
    );
    assert_eq!(
        fires(&anchored, "2026-12-01T06:30:00Z", 1),
        ["2026-12-08T06:30:00+00:00"],
        "strictly after"
    );
}

#[test]
fn at_fires_once_at_its_wall_time() {
    let once = sched("at(2027-01-31T09:30:00)", "America/New_York");
    assert_eq!(
        fires(&once, "2026-11-29T00:00:00Z", 5),
        ["2027-01-31T09:30:00-05:00"]
    );
    assert!(
        once.next_after(utc("2027-01-31T14:30:00Z")).is_none(),
        "not after its time"
    );
    let in_gap = sched("at(2027-03-14T02:30:00)", "America/New_York");
    assert!(
        in_gap.next_after(utc("2027-01-01T00:00:00Z")).is_none(),
        "a time that never exists never fires"
    );
    let moved = in_gap.skipped_times(SkippedTimes::RunAfter);
    assert_eq!(
        fires(&moved, "2027-01-01T00:00:00Z", 2),
        ["2027-03-14T03:00:00-04:00"]
    );
}

#[test]
fn schedules_end_when_their_years_do() {
    let s = sched("cron(0 12 1 1 ? 2198-2199)", "UTC");
    assert_eq!(
        fires(&s, "2150-01-01T00:00:00Z", 5),
        ["2198-01-01T12:00:00+00:00", "2199-01-01T12:00:00+00:00"]
    );
    let past = sched("cron(0 12 1 1 ? 2020)", "UTC");
    assert!(past.next_after(utc("2026-01-01T00:00:00Z")).is_none());
}

#[test]
fn expressions_and_zones_eventbridge_rejects_are_rejected_with_the_rule() {
    let cases = [
        ("cron(0 24 * * ? *)", "UTC", "hours: 24 is outside 0-23"),
        ("rate(1 minutes)", "UTC", "rate: with value 1 the unit is `minute`: rate(1 minute)"),
        ("rate(5 hour)", "UTC", "rate: with value 5 the unit is `hours`: rate(5 hours)"),
        ("rate(0 minutes)", "UTC", "rate: value `0` must be a positive whole number"),
        ("rate(-5 minutes)", "UTC", "rate: value `-5` must be a positive whole number"),
        ("rate(5 weeks)", "UTC", "rate: unit `weeks` must be minute(s), hour(s) or day(s)"),
        ("rate(5)", "UTC", "rate: `rate(5)` must be a value and a unit, e.g. rate(5 minutes) or rate(1 hour)"),
        ("at(2027-02-30T09:00:00)", "UTC", "at: `2027-02-30T09:00:00` is not a date and time: write it as yyyy-mm-ddThh:mm:ss between 1970 and 2199, e.g. at(2027-01-31T09:30:00)"),
        ("at(2027-01-31 09:00)", "UTC", "at: `2027-01-31 09:00` is not a date and time: write it as yyyy-mm-ddThh:mm:ss between 1970 and 2199, e.g. at(2027-01-31T09:30:00)"),
        ("0 2 * * *", "UTC", "`0 2 * * *` is not a schedule expression: write `cron(minutes hours day-of-month month day-of-week year)`, `rate(value unit)` or `at(yyyy-mm-ddThh:mm:ss)`"),
        ("cron(0 2 * * ? *)", "Europe/Berln", "time zone `Europe/Berln` is not an IANA time zone name (such as `UTC`, `Europe/Berlin` or `America/New_York`)"),
        ("cron(0 2 * * ? *)", "CEST+1", "time zone `CEST+1` is not an IANA time zone name (such as `UTC`, `Europe/Berlin` or `America/New_York`)"),
    ];
    for (expr, zone, want) in cases {
        assert_eq!(
            Schedule::parse(expr, zone).unwrap_err().to_string(),
            want,
            "{expr} in {zone}"
        );
    }
}

/// `L-n` (Quartz's "n days before the last day"), which EventBridge cron libraries accept and users ask for.
#[test]
fn days_before_the_last_follow_each_months_length_and_leap_years() {
    let two_before = sched("cron(0 9 L-2 * ? *)", "UTC");
    assert_eq!(
        fires(&two_before, "2028-01-31T00:00:00Z", 4),
        [
            "2028-02-27T09:00:00+00:00", // a leap February: 29 - 2
            "2028-03-29T09:00:00+00:00",
            "2028-04-28T09:00:00+00:00",
            "2028-05-29T09:00:00+00:00",
        ]
    );
    assert_eq!(
        fires(&two_before, "2027-02-01T00:00:00Z", 1),
        ["2027-02-26T09:00:00+00:00"],
        "28 - 2 in a common year"
    );
    // n days before the last day exists only in months longer than n days: L-30 is the 1st of 31-day months.
    let thirty = sched("cron(0 0 L-30 * ? 2027)", "UTC");
    assert_eq!(
        fires(&thirty, "2026-12-31T00:00:00Z", 8),
        [
            "2027-01-01T00:00:00+00:00",
            "2027-03-01T00:00:00+00:00",
            "2027-05-01T00:00:00+00:00",
            "2027-07-01T00:00:00+00:00",
            "2027-08-01T00:00:00+00:00",
            "2027-10-01T00:00:00+00:00",
            "2027-12-01T00:00:00+00:00",
        ]
    );
    for bad in [
        "cron(0 0 L-0 * ? *)",
        "cron(0 0 L-31 * ? *)",
        "cron(0 0 L-x * ? *)",
        "cron(0 0 L-2,5 * ? *)",
    ] {
        let err = Schedule::parse(bad, "UTC").unwrap_err().to_string();
        assert!(err.contains("day-of-month"), "{bad}: {err}");
    }
}

#[test]
fn what_eventbridge_accepts_is_accepted() {
    for expr in [
        "cron(0 10 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 12 L * ? *)",
        "cron(0 12 3W * ? *)",
        "cron(0 12 ? * 6L 2026-2030)",
        "cron(0 0 1 JAN,APR,JUL,OCT ? *)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(3 days)",
        "at(2027-01-31T09:30:00)",
    ] {
        assert!(Schedule::parse(expr, "UTC").is_ok(), "{expr}");
    }
}

/// The `cron` crate agrees with fsched on expressions both understand (no L, W, #, no wrapping ranges), in UTC.
/// Where they differ, EventBridge semantics win: the crate accepts both day fields set (it ANDs them) and
/// `/` in day-of-week, which EventBridge, and so fsched, refuse; and it stops at 2100, where EventBridge goes on
/// to 2199.
#[test]
fn agrees_with_the_cron_crate_where_both_apply_and_refuses_what_eventbridge_refuses() {
    use std::str::FromStr;
    let shared = [
        "0 2 * * ? *",
        "*/7 3-5 * * ? *",
        "15,45 */6 ? * MON-FRI *",
        "0 0 29 2 ? *",
        "30 23 31 * ? *",
        "5 4 1-7 JAN,JUL ? 2026-2031",
        "0 12 ? * SUN *",
        "10/20 8-17 ? 3-11 2,4,6 *",
    ];
    for expr in shared {
        let ours = sched(&format!("cron({expr})"), "UTC");
        let theirs = ::cron::Schedule::from_str(&format!("0 {expr}").replace('?', "*")).unwrap();
        let after = utc("2026-11-29T10:07:00Z");
        let a: Vec<_> = ours.fires_after(after).take(50).collect();
        let b: Vec<_> = theirs.after(&after).take(50).collect();
        let before_2100 = |v: Vec<DateTime<Utc>>| -> Vec<_> {
            v.into_iter().filter(|t| t.year() < 2100).collect()
        };
        assert_eq!(before_2100(a), before_2100(b), "cron({expr})");
    }
    assert!(::cron::Schedule::from_str("0 0 12 1 * MON *").is_ok());
    assert!(Schedule::parse("cron(0 12 1 * MON *)", "UTC").is_err());
    assert!(::cron::Schedule::from_str("0 0 12 ? * 1/2 *").is_ok());
    assert!(Schedule::parse("cron(0 12 ? * 1/2 *)", "UTC").is_err());
    let leap = sched("cron(0 0 29 2 ? *)", "UTC");
    assert_eq!(
        leap.fires_after(utc("2196-03-01T00:00:00Z")).count(),
        0,
        "2200 is not a leap year, and past 2199"
    );
    assert_eq!(
        leap.fires_after(utc("2096-03-01T00:00:00Z")).next(),
        Some(utc("2104-02-29T00:00:00Z"))
    );
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Asia/Kathmandu",
];

fn numeric_item(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{a}-{b}")), // may wrap
        (1..=(hi - lo).div_ceil(2)).prop_map(|s| format!("*/{s}")),
        (lo..=hi, 1..=(hi - lo).div_ceil(2)).prop_map(|(a, s)| format!("{a}/{s}")),
    ]
}

fn numeric_field(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop::collection::vec(numeric_item(lo, hi), 1..3).prop_map(|items| items.join(","))
}

fn day_fields() -> impl Strategy<Value = (String, String)> {
    let dom = prop_oneof![
        4 => numeric_field(1, 31),
        1 => Just("L".to_owned()),
        1 => Just("LW".to_owned()),
        1 => (1u32..=31).prop_map(|d| format!("{d}W")),
        1 => (1u32..=30).prop_map(|n| format!("L-{n}")),
    ];
    let dow = prop_oneof![
        4 => prop::collection::vec(
            prop_oneof![
                Just("*".to_owned()),
                (1u32..=7).prop_map(|d| d.to_string()),
                (1u32..=7, 1u32..=7).prop_map(|(a, b)| format!("{a}-{b}")),
            ],
            1..3
        ).prop_map(|v| v.join(",")),
        1 => (1u32..=7, 1u32..=5).prop_map(|(d, n)| format!("{d}#{n}")),
        1 => (1u32..=7).prop_map(|d| format!("{d}L")),
        1 => Just("L".to_owned()),
    ];
    prop_oneof![
        dom.prop_map(|d| (d, "?".to_owned())),
        dow.prop_map(|d| ("?".to_owned(), d))
    ]
}

fn cron_expr() -> impl Strategy<Value = String> {
    (
        numeric_field(0, 59),
        numeric_field(0, 23),
        day_fields(),
        numeric_field(1, 12),
    )
        .prop_map(|(mi, h, (dom, dow), mo)| format!("cron({mi} {h} {dom} {mo} {dow} *)"))
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2020-2035, on a minute or a few seconds past one.
    (1_577_836_800i64..2_082_758_400i64)
        .prop_map(|s| Utc.timestamp_opt(s - s % 60 + (s % 3) * 7, 0).unwrap())
}

/// The first UTC offset change of `zone` after `t` (within a year and a half), found by scanning hours.
fn next_transition(zone: chrono_tz::Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Offset;
    let offset = |t: DateTime<Utc>| t.with_timezone(&zone).offset().fix();
    let start = offset(t);
    (1..=13_000)
        .map(|h| t + Duration::hours(h))
        .find(|u| offset(*u) != start)
}

/// Every minute instant in (after, until) whose wall time the schedule names and which is that wall time's first
/// occurrence: what a correct evaluator must not skip.
fn brute_force_fires(
    s: &Schedule,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let zone = s.zone();
    let mut t = after - Duration::seconds(after.timestamp() % 60) + Duration::minutes(1);
    let mut out = Vec::new();
    while t < until {
        let wall: NaiveDateTime = t.with_timezone(&zone).naive_local();
        let first = zone
            .from_local_datetime(&wall)
            .earliest()
            .map(|x| x.with_timezone(&Utc));
        if first == Some(t) && s.names_wall_time(wall) {
            out.push(t);
        }
        t += Duration::minutes(1);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fires_are_strictly_increasing_named_by_the_expression_and_none_is_skipped(
        expr in cron_expr(),
        zone in prop::sample::select(ZONES),
        after in instant(),
        near_dst in any::<bool>(),
        lead in 0i64..48 * 60,
    ) {
        let s = Schedule::parse(&expr, zone).unwrap();
        // Half the cases start up to two days before one of the zone's DST changes, where mistakes hide.
        let after = match next_transition(s.zone(), after) {
            Some(change) if near_dst => change - Duration::minutes(lead),
            _ => after,
        };
        let window = after + Duration::days(3);
        let got: Vec<_> = s.fires_after(after).take_while(|t| *t < window).take(200).collect();
        let mut prev = after;
        for t in &got {
            prop_assert!(*t > prev, "{} is not after {}", t, prev);
            prev = *t;
            let wall = t.with_timezone(&s.zone()).naive_local();
            prop_assert!(s.names_wall_time(wall), "{} ({}) is not named by {}", t, wall, expr);
        }
        if got.len() < 200 {
            prop_assert_eq!(got, brute_force_fires(&s, after, window), "{} in {} after {}", expr, zone, after);
        }
    }

    #[test]
    fn rates_fire_on_their_grid_strictly_after(n in 1i64..500, unit in 0usize..3, after in instant()) {
        let (name, secs) = [("minute", 60), ("hour", 3600), ("day", 86400)][unit];
        let expr = if n == 1 { format!("rate(1 {name})") } else { format!("rate({n} {name}s)") };
        let s = Schedule::parse(&expr, "UTC").unwrap();
        let next = s.next_after(after).unwrap();
        prop_assert!(next > after && next - after <= Duration::seconds(n * secs));
        prop_assert_eq!(next.timestamp() % (n * secs), 0);
    }

    #[test]
    fn parsing_never_panics(text in "\\PC{0,40}", zone in "\\PC{0,20}") {
        let _ = Schedule::parse(&text, &zone);
        let _ = Schedule::parse(&format!("cron({text})"), "UTC");
    }
}

#[test]
fn no_schedule_fires_after_its_last_year_so_fire_times_keep_four_year_digits() {
    // A far-future "now" (a forged tick) gives no fire, never a five-digit year.
    for expr in ["rate(1 minute)", "rate(1 day)", "cron(0 0 * * ? *)"] {
        let s = sched(expr, "Europe/Berlin");
        assert_eq!(s.next_after(utc("9999-12-31T23:59:00Z")), None, "{expr}");
        assert_eq!(s.next_after(horizon()), None, "{expr}");
        let last = s.next_after(utc("2199-12-30T00:00:00Z")).unwrap();
        assert_eq!(last.year(), LAST_YEAR, "{expr}");
    }
    assert_eq!(
        sched("rate(1 minute)", "UTC").next_after(utc("2199-12-31T23:59:00Z")),
        None,
        "2200-01-01T00:00Z is past the last year"
    );
    for bad in [
        "at(10000-01-01T00:00:00)",
        "at(2200-01-01T00:00:00)",
        "at(1969-12-31T23:59:59)",
    ] {
        let err = bad.parse::<Expression>().unwrap_err().to_string();
        assert!(err.contains("between 1970 and 2199"), "{bad}: {err}");
    }
    assert!("at(2199-12-31T23:59:00)".parse::<Expression>().is_ok());
}
