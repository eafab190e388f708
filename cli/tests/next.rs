//! `fsched next` as scripts use it: the binary, its stdout, stderr and exit code.

use std::process::{Command, Output};

fn fsched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(args)
        .output()
        .expect("run fsched")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn prints_the_next_fires_in_the_zone_one_per_line_and_nothing_else() {
    let o = fsched(&[
        "next",
        "cron(0 2 * * ? *)",
        "--tz",
        "Europe/Berlin",
        "--after",
        "2027-03-26T12:00:00Z",
        "--count",
        "3",
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        stdout(&o),
        "2027-03-27T02:00:00+01:00\n2027-03-29T02:00:00+02:00\n2027-03-30T02:00:00+02:00\n"
    );
    assert!(o.stderr.is_empty());
}

#[test]
fn defaults_to_five_fires_in_utc_after_now() {
    let o = fsched(&["next", "rate(1 minute)"]);
    assert!(o.status.success(), "{o:?}");
    let lines: Vec<_> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l.ends_with(":00+00:00")), "{lines:?}");
    let first = chrono::DateTime::parse_from_rfc3339(&lines[0]).unwrap();
    let delta = first.signed_duration_since(chrono::Utc::now());
    assert!(
        delta > chrono::Duration::zero() && delta <= chrono::Duration::minutes(1),
        "{delta}"
    );
}

#[test]
fn prints_fewer_lines_when_the_schedule_ends() {
    let o = fsched(&[
        "next",
        "at(2027-01-31T09:30:00)",
        "--tz",
        "Asia/Kolkata",
        "--after",
        "2026-11-29T00:00:00Z",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "2027-01-31T09:30:00+05:30\n");
    let o = fsched(&[
        "next",
        "at(2027-01-31T09:30:00)",
        "--after",
        "2028-01-01T00:00:00Z",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "");
}

#[test]
fn honours_rate_anchors_and_run_after_for_skipped_times() {
    let o = fsched(&[
        "next",
        "rate(2 hours)",
        "--start",
        "2026-11-29T00:30:00Z",
        "--after",
        "2026-11-29T01:00:00Z",
        "--count",
        "2",
    ]);
    assert_eq!(
        stdout(&o),
        "2026-11-29T02:30:00+00:00\n2026-11-29T04:30:00+00:00\n"
    );
    let o = fsched(&[
        "next",
        "cron(30 2 * * ? *)",
        "--tz",
        "Europe/Berlin",
        "--after",
        "2027-03-27T12:00:00Z",
        "--count",
        "1",
        "--run-skipped-times",
    ]);
    assert_eq!(stdout(&o), "2027-03-28T03:00:00+02:00\n");
}

#[test]
fn invalid_expressions_zones_and_instants_exit_2_with_the_message_on_stderr() {
    for (args, message) in [
        (
            vec!["next", "cron(0 24 * * ? *)"],
            "hours: 24 is outside 0-23",
        ),
        (
            vec!["next", "cron(0 2 * * ? *)", "--tz", "Mars/Olympus"],
            "`Mars/Olympus` is not a time zone",
        ),
        (
            vec!["next", "rate(1 minutes)"],
            "rate: with value 1 the unit is `minute`",
        ),
        (
            vec!["next", "rate(5 minutes)", "--after", "yesterday"],
            "--after `yesterday`: expected a duration ago such as 24h or 7d, a date such as 2026-11-28",
        ),
    ] {
        let o = fsched(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[test]
fn after_takes_a_plain_date_or_wall_time_in_the_schedules_zone() {
    let o = fsched(&[
        "next",
        "cron(0 2 * * ? *)",
        "--tz",
        "Europe/Berlin",
        "--after",
        "2027-01-01",
        "--count",
        "1",
    ]);
    assert_eq!(stdout(&o), "2027-01-01T02:00:00+01:00\n");
    let o = fsched(&[
        "next",
        "cron(0 2 * * ? *)",
        "--tz",
        "Europe/Berlin",
        "--after",
        "2027-01-01 02:00",
        "--count",
        "1",
    ]);
    assert_eq!(stdout(&o), "2027-01-02T02:00:00+01:00\n");
}

#[test]
fn a_schedule_that_never_fires_is_valid_and_says_so_on_stderr() {
    for expr in ["cron(0 0 31 2 ? *)", "at(2020-01-01T00:00:00)"] {
        let o = fsched(&["next", expr, "--after", "2026-11-29T00:00:00Z"]);
        assert!(o.status.success(), "{o:?}");
        assert_eq!(stdout(&o), "", "{expr}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("never fires after 2026-11-29 00:00:00Z"),
            "{expr}: {err}"
        );
    }
    let leap = fsched(&["next", "at(2026-12-31T23:59:60)"]);
    assert_eq!(leap.status.code(), Some(2), "a leap second is no schedule");
}
