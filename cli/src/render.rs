//! How runs read on a terminal: the `runs` table, one run's `show` page and the `cost` summary. Pure functions of
//! the records, so their output is pinned by snapshot tests.

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::run::{Run, RunStatus, Trigger};
use fsched_core::domain::schedule::Zone;

use crate::output::{table, Format, Times};

pub fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map_or("-".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M:%SZ").to_string()
    })
}

/// A time in a zone, in `format` (chrono's); `-` for none.
pub fn in_zone(t: Option<DateTime<Utc>>, zone: Zone, format: &str) -> String {
    t.map_or("-".to_owned(), |t| {
        t.with_timezone(&zone.tz()).format(format).to_string()
    })
}

/// A duration the way people say it: `45s`, `6m 14s`, `2h 03m`, `3d 4h`; negative ones (clock skew) as `-`.
pub fn span(d: Option<Duration>) -> String {
    match d.filter(|d| d.num_seconds() >= 0) {
        Some(d) => Span::from_chrono(d).brief(),
        None => "-".to_owned(),
    }
}

/// fsched's part of a start delay, which is usually under a second: tenths below a minute (`0.4s`, `12.3s`), else
/// as `span`.
pub fn launch_span(d: Option<Duration>) -> String {
    match d.filter(|d| *d >= Duration::zero()) {
        Some(d) if d < Duration::minutes(1) => {
            format!("{:.1}s", d.num_milliseconds() as f64 / 1000.0)
        }
        d => span(d),
    }
}

/// Dollars: four decimals below a dollar (a run usually costs fractions of a cent), two above.
pub fn dollars(usd: f64) -> String {
    if usd < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::Schedule => "schedule".to_owned(),
        Trigger::Event { source, id } => format!("event {id} from {source}"),
        Trigger::Manual { by } => format!("manual, by {by}"),
        Trigger::Backfill { by } => format!("backfill, by {by}"),
        Trigger::After => "after its jobs succeeded".to_owned(),
    }
}

/// A run id short enough for a table: an event's long id (a UUID) cut to its first characters and `…`, keeping the
/// `-t<i>` / `-r<n>` that name a task or an attempt. `fsched show` takes the short form as it is printed.
pub fn short_id(id: &fsched_core::domain::run::RunId) -> String {
    const KEEP: usize = 9;
    let key = id.key();
    let (stamp, suffix) = key.split_at(key.len().min(16));
    // The task and attempt marks at the end stay whole.
    let mut unique = suffix;
    let mut tail_start = suffix.len();
    while let Some(dash) = unique.rfind('-').filter(|d| *d > 0) {
        let mark = &unique[dash + 1..];
        let is_mark = mark.len() > 1
            && matches!(mark.as_bytes()[0], b't' | b'r')
            && mark[1..].bytes().all(|b| b.is_ascii_digit());
        if !is_mark {
            break;
        }
        tail_start = dash;
        unique = &unique[..dash];
    }
    if unique.len() <= 16 {
        return id.to_string();
    }
    format!(
        "{}/{stamp}{}…{}",
        id.job(),
        &unique[..KEEP + 1],
        &suffix[tail_start..]
    )
}

/// The `runs` table, newest first as given, its times as `times` says; `wide` adds the trigger, attempt, launch
/// and stop times and the task, and prints every id in full.
pub fn runs_table(runs: &[Run], times: &Times, format: Format) -> String {
    let wide = format == Format::Wide;
    let scheduled = format!("SCHEDULED ({})", times.label());
    let mut header = vec![
        "RUN",
        &scheduled,
        "START DELAY",
        "LAUNCH DELAY",
        "DURATION",
        "STATUS",
        "EXIT",
        "COST",
        "REASON",
    ];
    if wide {
        header.extend(["TRIGGER", "ATTEMPT", "LAUNCHED", "STOPPED", "TASK"]);
    }
    let mut t = table(&header);
    for r in runs {
        let job = r.id.job().as_str();
        let mut row = vec![
            if wide {
                r.id.to_string()
            } else {
                short_id(&r.id)
            },
            times.at(job, r.scheduled_at),
            span(r.start_delay()),
            launch_span(r.launch_delay()),
            span(r.runtime()),
            r.status.to_string(),
            r.exit_code().map_or("-".to_owned(), |c| c.to_string()),
            r.cost.as_ref().map_or("-".to_owned(), |c| dollars(c.usd)),
            r.reason.as_deref().unwrap_or("-").to_owned(),
        ];
        if wide {
            let time = |t: Option<DateTime<Utc>>| t.map_or("-".to_owned(), |t| times.at(job, t));
            row.extend([
                trigger(&r.trigger),
                r.attempt.to_string(),
                time(r.launched_at),
                time(r.stopped_at),
                r.task_arn.clone().unwrap_or_else(|| "-".to_owned()),
            ]);
        }
        t.add_row(row);
    }
    t.to_string()
}

/// Everything about one run: its record, the task's timeline and its containers, times as `times` says.
pub fn show(r: &Run, times: &Times) -> String {
    let job = r.id.job().as_str();
    let stamp = |t: Option<DateTime<Utc>>| t.map_or("-".to_owned(), |t| times.at(job, t));
    let mut lines: Vec<(String, String)> = vec![
        ("run".into(), r.id.to_string()),
        ("job".into(), r.id.job().to_string()),
        ("trigger".into(), trigger(&r.trigger)),
        ("status".into(), r.status.to_string()),
    ];
    if let Some(reason) = &r.reason {
        lines.push(("reason".into(), reason.clone()));
    }
    if let Some(first) = &r.retry_of {
        lines.push((
            "attempt".into(),
            format!("{}, a retry of {first}", r.attempt),
        ));
    }
    if let Some(next) = &r.retried_as {
        lines.push((
            "retried as".into(),
            format!(
                "{} (attempt {}), due {}",
                next.run,
                next.number,
                stamp(Some(next.at))
            ),
        ));
    }
    lines.extend(together(r));
    if let Some(code) = r.exit_code() {
        lines.push(("exit code".into(), code.to_string()));
    }
    lines.push(("start delay".into(), span(r.start_delay())));
    if let Some(launch) = r.launch_delay().map(|d| launch_span(Some(d))) {
        let part = format!("{launch} (due to RunTask accepted: the tick, by fsched)");
        lines.push(("  to launch".into(), part));
    }
    if let Some(provisioning) = r.provisioning().map(|d| span(Some(d))) {
        let task = r.task.as_ref();
        let pull = task.and_then(|t| Some(t.pull_stopped_at? - t.pull_started_at?));
        let pull = pull.map_or(String::new(), |p| {
            format!(", of it image pull {}", span(Some(p)))
        });
        let part = format!("{provisioning} (accepted to running, by ECS{pull})");
        lines.push(("  to running".into(), part));
    }
    lines.push(("runtime".into(), span(r.runtime())));
    if let Some(c) = &r.cost {
        lines.push((
            "cost".into(),
            format!(
                "{} ({} s billed: {} vCPU, {} GB, {}, {})",
                dollars(c.usd),
                c.billed_seconds,
                c.vcpu,
                c.memory_gb,
                c.architecture,
                c.capacity.as_str()
            ),
        ));
    }
    lines.push((
        "launch".into(),
        format!(
            "{} RunTask call(s){}",
            r.attempts,
            r.capacity
                .map(|c| format!(", ran on {}", c.as_str()))
                .unwrap_or_default()
        ),
    ));
    for (name, c) in r.overrides.iter().flatten() {
        let mut given: Vec<String> = c
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if let Some(command) = &c.command {
            given.push(format!("command {}", serde_json::json!(command)));
        }
        lines.push((format!("values ({name})"), given.join(", ")));
    }
    if let Some(arn) = &r.task_arn {
        lines.push(("task".into(), arn.clone()));
    }
    if let Some(cluster) = &r.cluster {
        lines.push(("cluster".into(), cluster.clone()));
    }
    if let Some(def) = r.task.as_ref().and_then(|t| t.task_definition_arn.clone()) {
        lines.push(("task definition".into(), def));
    }
    if let Some(t) = r.timeout_at {
        lines.push(("max_runtime ends".into(), stamp(Some(t))));
    }
    if let Some(e) = r.expires_at.and_then(|s| DateTime::from_timestamp(s, 0)) {
        lines.push(("kept until".into(), stamp(Some(e))));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in &lines {
        out.push_str(&format!("{k:width$}  {v}\n"));
    }

    // The timeline: what fsched did, then what ECS reported, in time order, each with its distance from the
    // scheduled time.
    let task = r.task.as_ref();
    let mut events: Vec<(DateTime<Utc>, &str)> =
        vec![(r.scheduled_at, "due"), (r.claimed_at, "claimed")];
    events.extend(
        r.not_before
            .map(|t| (t, "due to start (retry back-off, jitter)")),
    );
    events.extend(r.launched_at.map(|t| (t, "launched (RunTask accepted)")));
    if let Some(t) = task {
        for (at, what) in [
            (t.created_at, "task created"),
            (t.pull_started_at, "image pull started"),
            (t.pull_stopped_at, "image pull finished"),
            (t.started_at, "containers running"),
            (t.stopping_at, "stopping"),
            (t.stopped_at, "stopped"),
        ] {
            events.extend(at.map(|a| (a, what)));
        }
    } else {
        events.extend(r.stopped_at.map(|t| (t, "closed")));
    }
    events.sort_by_key(|(at, _)| *at);
    out.push_str(&format!("\ntimeline ({})\n", times.zone_of(job)));
    for (at, what) in events {
        let offset = at - r.scheduled_at;
        let sign = if offset < Duration::zero() { "-" } else { "+" };
        out.push_str(&format!(
            "  {}  {sign}{:<8}  {what}\n",
            times.with(job, at, "%Y-%m-%d %H:%M:%S%.3f"),
            span(Some(offset.abs()))
        ));
    }

    if let Some(t) = task.filter(|t| !t.containers.is_empty()) {
        out.push_str("\ncontainers\n");
        let mut c = table(&["NAME", "ESSENTIAL", "EXIT", "REASON"]);
        for k in &t.containers {
            c.add_row(vec![
                k.name.clone(),
                match k.essential {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "yes (assumed)",
                }
                .to_owned(),
                k.exit_code.map_or("-".to_owned(), |e| e.to_string()),
                k.reason.clone().unwrap_or_else(|| "-".to_owned()),
            ]);
        }
        out.push_str(&c.to_string());
        out.push('\n');
        if let (Some(code), Some(reason)) = (&t.stop_code, &t.stopped_reason) {
            out.push_str(&format!("\nECS: {code}: {reason}\n"));
        }
    }
    out
}

/// What the run shares or fans out to: its pool, its place among a parallel run's tasks, its own tasks, what a
/// fan-in run waits for.
fn together(r: &Run) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    if let Some(pool) = &r.fan.pool {
        lines.push(("pool".into(), pool.to_string()));
    }
    if let Some(part) = &r.fan.part {
        let of = format!("{} of {}, of run {}", part.index, part.count, part.of);
        lines.push(("task".into(), of));
    }
    if let Some(parts) = &r.fan.parts {
        let ok = parts
            .ended
            .iter()
            .filter(|e| e.status == RunStatus::Succeeded)
            .count();
        let ended = parts.ended.len();
        let words = format!(
            "{} ({ended} ended, {ok} succeeded; `fsched show {}-t0` shows the first)",
            parts.count, r.id
        );
        lines.push(("tasks".into(), words));
    }
    if let Some(w) = &r.fan.waits {
        let each: Vec<String> = w
            .jobs
            .iter()
            .map(|j| match w.met.iter().find(|m| m.job() == j) {
                Some(run) => format!("{j} (succeeded: {run})"),
                None => format!("{j} (not yet)"),
            })
            .collect();
        lines.push((format!("after ({})", w.day), each.join(", ")));
    }
    lines
}

/// A parallel run's tasks that ended, in index order.
pub fn tasks_table(r: &Run) -> Option<String> {
    let parts = r.fan.parts.as_ref()?;
    let mut t = table(&["TASK", "RUN", "STATUS", "EXIT", "COST"]);
    for e in &parts.ended {
        t.add_row(vec![
            e.index.to_string(),
            e.run.to_string(),
            e.status.to_string(),
            e.exit_code.map_or("-".to_owned(), |c| c.to_string()),
            e.cost.as_ref().map_or("-".to_owned(), |c| dollars(c.usd)),
        ]);
    }
    Some(format!(
        "tasks ({} of {} ended)\n{t}\n",
        parts.ended.len(),
        parts.count
    ))
}

/// The attempts of one scheduled time (or request), first to last, when it was retried.
pub fn attempts_table(chain: &[Run], times: &Times) -> String {
    let due = format!("DUE ({})", times.label());
    let mut t = table(&["ATTEMPT", "RUN", "STATUS", "EXIT", &due, "STOPPED"]);
    let stamp = |r: &Run, t: Option<DateTime<Utc>>| {
        t.map_or("-".to_owned(), |t| times.at(r.id.job().as_str(), t))
    };
    for r in chain {
        t.add_row(vec![
            r.attempt.to_string(),
            r.id.to_string(),
            r.status.to_string(),
            r.exit_code().map_or("-".to_owned(), |c| c.to_string()),
            stamp(r, Some(r.due_at())),
            stamp(r, r.stopped_at),
        ]);
    }
    format!("attempts\n{t}\n")
}

mod cost;
pub use cost::{by_job, cost_table};

#[cfg(test)]
mod tests;
