//! The dashboard's pages, rendered on the server from records (maud): jobs, timeline, one run, services, cost.
//! Every page refreshes itself and needs nothing from the network but this server.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::job::Job;
use fsched_core::domain::notify::local;
use fsched_core::domain::rollup::DayTally;
use fsched_core::domain::run::{Run, RunStatus};
use fsched_core::domain::service::{Saving, ScaleAction, ServiceState};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::charts::{bands, daily_bars, status_class, timeline, url_encode, Window};
use crate::render::{dollars, span};

const STYLE: &str = r#"
:root { --ok:#1a7f37; --bad:#cf222e; --warn:#bf8700; --muted:#8c959f; --open:#0969da; --fg:#1f2328; --bg:#fff;
        --soft:#f6f8fa; --line:#d0d7de; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:center; gap:24px; padding:10px 24px; border-bottom:1px solid var(--line); background:var(--soft); }
header strong { font-size:16px; }
nav a { margin-right:16px; color:var(--fg); text-decoration:none; padding:4px 0; }
nav a[aria-current=page] { border-bottom:2px solid var(--open); font-weight:600; }
main { padding:16px 24px; max-width:1200px; }
h1 { font-size:20px; margin:4px 0 12px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; background:var(--soft); }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; }
.pill.ok { background:var(--ok); } .pill.bad { background:var(--bad); } .pill.warn { background:var(--warn); }
.pill.muted { background:var(--muted); } .pill.open { background:var(--open); }
.note { color:#57606a; }
pre { background:var(--soft); border:1px solid var(--line); padding:10px; overflow:auto; font-size:12.5px; }
svg { width:100%; height:auto; display:block; margin:8px 0 16px; }
svg .label { font-size:12px; fill:var(--fg); }
svg .tick { font-size:10px; fill:#57606a; }
svg .grid { stroke:#eaeef2; }
svg .lane { stroke:#eaeef2; stroke-dasharray:2 3; }
svg .run .body { opacity:.9; } svg .run .delay { fill:#fff; opacity:.55; }
svg .ok .body, svg .mark.ok { fill:var(--ok); } svg .bad .body, svg .mark.bad { fill:var(--bad); }
svg .warn .body, svg .mark.warn { fill:var(--warn); } svg .muted .body, svg .mark.muted { fill:var(--muted); }
svg .open .body { fill:var(--open); }
svg .band.awake { fill:var(--ok); opacity:.75; } svg .band.asleep { fill:#d8dee4; }
svg .day { fill:var(--open); }
.legend span { margin-right:14px; } .legend i { display:inline-block; width:10px; height:10px; margin-right:4px; border-radius:2px; }
"#;

/// The tab's icon: a clock face.
pub const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#0969da"/><path d="M8 4v4l3 2" stroke="#fff" stroke-width="1.6" fill="none" stroke-linecap="round"/></svg>"##;

/// Where each page is, for the navigation.
pub const PAGES: [(&str, &str); 4] = [
    ("/", "Jobs"),
    ("/timeline", "Timeline"),
    ("/services", "Services"),
    ("/cost", "Cost"),
];

/// The frame of every page: navigation, the time it was made, and a refresh every `refresh` seconds.
pub fn layout(
    title: &str,
    current: &str,
    now: DateTime<Utc>,
    refresh: u32,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content=(refresh);
                title { (title) " · fsched" }
                link rel="icon" type="image/svg+xml" href="/favicon.svg";
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "fsched" }
                    nav {
                        @for (href, name) in PAGES {
                            @if href == current {
                                a href=(href) aria-current="page" { (name) }
                            } @else {
                                a href=(href) { (name) }
                            }
                        }
                    }
                    span class="note" { "as of " (now.format("%Y-%m-%d %H:%M:%S UTC")) " · read-only" }
                }
                main { (body) }
            }
        }
    }
}

fn pill(status: RunStatus) -> Markup {
    html! { span class=(format!("pill {}", status_class(status))) { (status) } }
}

/// What the jobs page shows of one job, from the job and its recent runs.
pub struct JobRow {
    pub name: String,
    pub triggers: String,
    pub next: String,
    pub last: Option<(String, RunStatus)>,
    /// Succeeded of ended, over the runs read.
    pub success: Option<(usize, usize)>,
    pub overdue: Option<String>,
    pub paused: bool,
}

/// The jobs page's rows: `runs` are the recent runs of every job.
pub fn job_rows(jobs: &[Job], runs: &[Run]) -> Vec<JobRow> {
    jobs.iter()
        .map(|job| {
            let zone = job.spec.timezone;
            let mine: Vec<&Run> = runs.iter().filter(|r| r.id.job() == &job.name).collect();
            let last = mine
                .iter()
                .max_by_key(|r| r.scheduled_at)
                .map(|r| (r.id.to_string(), r.status));
            let ended: Vec<&&Run> = mine
                .iter()
                .filter(|r| !r.status.is_open() && !matches!(r.status, RunStatus::Skipped))
                .collect();
            let ok = ended
                .iter()
                .filter(|r| r.status == RunStatus::Succeeded)
                .count();
            JobRow {
                name: job.name.to_string(),
                triggers: job.spec.triggers(),
                next: match (job.spec.paused, job.next_fire) {
                    (true, _) => "paused".to_owned(),
                    (false, Some(t)) => local(t, zone),
                    (false, None) => "-".to_owned(),
                },
                last,
                success: (!ended.is_empty()).then_some((ok, ended.len())),
                overdue: job.health.overdue_since.map(|t| local(t, zone)),
                paused: job.spec.paused,
            }
        })
        .collect()
}

pub fn jobs_page(rows: &[JobRow], days: i64) -> Markup {
    html! {
        h1 { "Jobs" }
        @if rows.is_empty() {
            p class="note" { "No jobs yet: " code { "fsched apply jobs.yaml" } " stores them." }
        } @else {
            table {
                thead { tr {
                    th { "Job" } th { "Runs on" } th { "Next fire (job's zone)" } th { "Last run" }
                    th class="num" { "Success (" (days) "d)" } th { "Health" }
                } }
                tbody {
                    @for row in rows {
                        tr data-job=(row.name) {
                            td { a href=(format!("/timeline?job={}", url_encode(&row.name))) { (row.name) } }
                            td { code { (row.triggers) } }
                            td { (row.next) }
                            td {
                                @if let Some((id, status)) = &row.last {
                                    a href=(format!("/run?id={}", url_encode(id))) { (pill(*status)) }
                                } @else { span class="note" { "none yet" } }
                            }
                            td class="num" {
                                @if let Some((ok, of)) = row.success {
                                    (format!("{:.0}%", 100.0 * ok as f64 / of as f64)) " " span class="note" { (ok) "/" (of) }
                                } @else { "-" }
                            }
                            td {
                                @if let Some(since) = &row.overdue {
                                    span class="pill bad" { "OVERDUE" } " " span class="note" { "since " (since) }
                                } @else if row.paused {
                                    span class="pill muted" { "PAUSED" }
                                } @else { span class="note" { "ok" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        p class="legend note" {
            @for (class, words) in [("ok", "succeeded"), ("bad", "failed"), ("warn", "timed out, interrupted, lost"), ("open", "running"), ("muted", "missed, skipped, stopped")] {
                span { i style=(format!("background:var(--{class})")) {} (words) }
            }
            span { "lighter start of a bar: the delay from due to start" }
        }
    }
}

pub fn timeline_page(jobs: &[String], runs: &[Run], w: Window, range: &str) -> Markup {
    let shown = runs
        .iter()
        .filter(|r| r.scheduled_at >= w.from && r.scheduled_at <= w.to)
        .count();
    html! {
        h1 { "Timeline" }
        p {
            @for (r, words) in [("24h", "last 24 hours"), ("7d", "last 7 days")] {
                @if r == range { strong { (words) } } @else { a href=(format!("/timeline?range={r}")) { (words) } }
                " · "
            }
            span class="note" data-runs=(shown) { (shown) " run(s), times in UTC" }
        }
        (legend())
        @if jobs.is_empty() { p class="note" { "No jobs yet." } } @else { (timeline(jobs, runs, w)) }
    }
}

pub fn run_page(
    run: &Run,
    shown: &str,
    logs: &Result<Vec<(String, Vec<String>)>, String>,
) -> Markup {
    html! {
        h1 { "Run " (run.id) " " (pill(run.status)) }
        p { a href=(format!("/timeline?job={}", url_encode(run.id.job().as_str()))) { "all runs of " (run.id.job()) } }
        pre { (shown) }
        h1 { "Log tail" }
        @match logs {
            Ok(streams) if streams.is_empty() => p class="note" { "No output recorded." },
            Ok(streams) => {
                @for (name, lines) in streams {
                    p { strong { (name) } }
                    pre class="logs" { @for line in lines { (line) "\n" } }
                }
            },
            Err(why) => p class="note" { (why) },
        }
    }
}

pub fn services_page(
    states: &[ServiceState],
    actions: &[ScaleAction],
    w: Window,
    saved: &BTreeMap<String, Saving>,
    now: DateTime<Utc>,
) -> Markup {
    let names: Vec<(String, fsched_core::domain::service::Phase)> = states
        .iter()
        .map(|s| (s.name.to_string(), s.phase))
        .collect();
    html! {
        h1 { "Services" }
        @if states.is_empty() {
            p class="note" { "No services declared: add them under " code { "services:" } " in the jobs file." }
        } @else {
            p class="note" { "Awake (green) and asleep over the last 7 days, in UTC." }
            (bands(&names, actions, w))
            table {
                thead { tr { th { "Service" } th { "Now" } th { "Held until" } th { "Next change" } th class="num" { "Asleep (7d)" } th class="num" { "Saved (7d)" } } }
                tbody {
                    @for s in states {
                        @let saving = saved.get(s.name.as_str());
                        tr data-service=(s.name.to_string()) {
                            td { (s.name) }
                            td { (s.phase) }
                            td { (s.hold_until.filter(|h| *h > now).map(|h| local(h, s.spec.timezone)).unwrap_or_else(|| "-".into())) }
                            td { (s.transition_at.map(|t| local(t, s.spec.timezone)).unwrap_or_else(|| "-".into())) }
                            td class="num" { (span(saving.map(|v| Duration::seconds(v.asleep_seconds)))) }
                            td class="num" { (saving.map(|v| dollars(v.usd)).unwrap_or_else(|| "-".into())) }
                        }
                    }
                }
            }
        }
    }
}

/// `refused`: why days' rollups could not be stored (the figures stand; those days are read from runs again).
pub fn cost_page(by_day: &[(String, f64)], by_job: &ByJob, refused: &[String]) -> Markup {
    let total: f64 = by_job.values().map(|(_, usd)| usd).sum();
    html! {
        h1 { "Cost" }
        p class="note" { "Fargate compute and storage of runs scheduled in the last 30 days, from each task's size and billed seconds." }
        @if let Some(why) = refused.first() {
            p class="note" { (refused.len()) " day(s)' rollups could not be stored (first: " (why) "): the figures stand, and those days are read from their runs again." }
        }
        (daily_bars(by_day, "$"))
        table {
            thead { tr { th { "Job" } th class="num" { "Runs" } th class="num" { "Cost" } } }
            tbody {
                @for (job, (runs, usd)) in by_job {
                    tr { td { (job) } td class="num" { (runs) } td class="num" { (dollars(*usd)) } }
                }
                tr { th { "Total" } th {} th class="num" { (dollars(total)) } }
            }
        }
    }
}

/// Dollars per day (`MM-DD`), oldest first.
pub type ByDay = Vec<(String, f64)>;
/// Runs and dollars per job.
pub type ByJob = BTreeMap<String, (u64, f64)>;

/// Cost per UTC day over the last `days` days, oldest first, and per job, from the days' tallies.
pub fn costs(tallies: &[DayTally], now: DateTime<Utc>, days: i64) -> (ByDay, ByJob) {
    let mut by_day: Vec<(String, f64)> = (0..days)
        .rev()
        .map(|d| ((now - Duration::days(d)).format("%m-%d").to_string(), 0.0))
        .collect();
    let mut by_job: ByJob = BTreeMap::new();
    for tally in tallies {
        let day = tally.day.format("%m-%d").to_string();
        if let Some(slot) = by_day.iter_mut().find(|(d, _)| *d == day) {
            slot.1 += tally.total().usd;
        }
        for (job, t) in &tally.jobs {
            let e = by_job.entry(job.clone()).or_default();
            e.0 += t.runs;
            e.1 += t.usd;
        }
    }
    (by_day, by_job)
}
