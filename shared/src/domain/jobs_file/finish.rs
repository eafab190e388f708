//! A job merged over `defaults`, checked as a whole (what is missing, what contradicts what) and turned into its
//! spec, with zones and schedules read once.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use marked_yaml::Span;

use super::fargate;
use super::partial::Partial;
use super::reader::Reader;
use crate::domain::fan::{Pool, Together};
use crate::domain::job::JobSpec;
use crate::domain::schedule::{Expression, Zone};
use crate::domain::trigger::{check_templates, overrides_size, OVERRIDES_MAX};

/// A `start`/`end`: a wall time in the job's zone (`2027-01-01T00:00:00`) or an RFC3339 instant.
fn instant(
    r: &mut Reader,
    (text, span): &(String, Span),
    zone: chrono_tz::Tz,
    what: &str,
) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        Ok(wall) => match zone.from_local_datetime(&wall).earliest() {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => {
                r.error(
                    span,
                    format!("{what}: `{text}` does not exist in {zone} (clocks skip it)"),
                );
                None
            }
        },
        Err(_) => {
            r.error(span, format!("{what}: `{text}` is not a date and time: write 2027-01-01T00:00:00 (in the job's timezone) or an RFC3339 instant"));
            None
        }
    }
}

/// Checks a merged job and builds its spec; `None` when anything is wrong (all of it recorded).
pub(super) fn finish(r: &mut Reader, p: Partial, job_span: &Span) -> Option<JobSpec> {
    let before = r.diagnostics.len();
    let zone = match &p.timezone {
        Some((name, span)) => match name.parse::<Zone>() {
            Ok(z) => Some(z),
            Err(e) => {
                r.error(span, format!("timezone: {e}"));
                None
            }
        },
        None => Some(Zone::UTC),
    };
    // A schedule is read only in a valid zone: a bad zone is one problem, not two.
    let schedule = match (&p.schedule, zone) {
        (None, _) if p.on_event.is_none() && p.after.is_none() => {
            r.error(
                job_span,
                "schedule is missing: add e.g. `schedule: cron(0 2 * * ? *)`, `on_event:` for a job that runs on events, or `after:` for one that runs after others",
            );
            None
        }
        (Some((expr, span)), Some(_)) => match expr.parse::<Expression>() {
            Ok(e) => Some(e),
            Err(e) => {
                r.error(span, format!("schedule: {e}"));
                None
            }
        },
        _ => None,
    };
    let start = zone
        .zip(p.start.as_ref())
        .and_then(|(z, s)| instant(r, s, z.tz(), "start"));
    let end = zone
        .zip(p.end.as_ref())
        .and_then(|(z, s)| instant(r, s, z.tz(), "end"));
    if let (Some(s), Some(e), Some((_, span))) = (start, end, &p.end) {
        if e <= s {
            r.error(span, "end must be after start");
        }
    }
    if p.cluster.is_none() {
        r.error(
            job_span,
            "cluster is missing: set it on the job or in `defaults`",
        );
    }
    if p.task_definition.is_none() {
        r.error(job_span, "task_definition is missing: add e.g. `task_definition: etl:7` (FAMILY, FAMILY:REVISION or an ARN)");
    }
    match &p.network {
        Some((net, span)) if net.subnets.is_empty() => {
            r.error(span, "network.subnets is empty: Fargate tasks use awsvpc networking and need at least one subnet")
        }
        None => r.error(job_span, "network is missing: Fargate tasks use awsvpc networking; set `network.subnets` on the job or in `defaults`"),
        _ => {}
    }
    if let (Some(problem), Some(span)) = (fargate::check_size(p.cpu, p.memory), &p.size_span) {
        r.error(span, problem);
    }
    if p.event_bus.is_some() && p.on_event.is_none() {
        r.error(
            job_span,
            "event_bus is set without on_event: it names the bus on_event listens on",
        );
    }
    if let Some(containers) = &p.containers {
        let probe = JobSpec {
            containers: containers.clone(),
            ..JobSpec::placeholder()
        };
        for problem in check_templates(&probe) {
            r.error(job_span, problem);
        }
        // ECS refuses a RunTask whose overrides pass 8 KiB: refused here, not at every fire.
        let size = overrides_size(containers);
        if size > OVERRIDES_MAX {
            r.error(
                job_span,
                format!(
                    "containers: the environment and commands are {size} bytes; at most {OVERRIDES_MAX} fit a \
                     task's overrides (ECS takes 8 KiB in all): move large values into the task definition or a \
                     parameter store"
                ),
            );
        }
    }
    if let Some((names, span)) = &p.params {
        let declared: Vec<&String> = p
            .containers
            .iter()
            .flat_map(|c| c.values())
            .flat_map(|c| c.environment.keys())
            .collect();
        for name in names.iter().filter(|n| !declared.contains(n)) {
            r.error(
                span,
                format!("params: `{name}` is not an environment variable of the job's containers: declare it there with its default value"),
            );
        }
    }
    if r.diagnostics.len() > before {
        return None;
    }
    Some(JobSpec {
        schedule,
        timezone: zone?,
        start,
        end,
        paused: p.paused.unwrap_or(false),
        run_skipped_times: p.run_skipped_times.unwrap_or(false),
        cluster: p.cluster?,
        task_definition: p.task_definition?,
        launch: p.launch.unwrap_or_default(),
        platform_version: p.platform_version,
        network: p.network?.0,
        containers: p.containers.unwrap_or_default(),
        cpu: p.cpu,
        memory: p.memory,
        tags: p.tags.unwrap_or_default(),
        group: p.group,
        overlap: p.overlap.unwrap_or_default(),
        max_running: p.max_running,
        catch_up: p.catch_up.unwrap_or(JobSpec::DEFAULT_CATCH_UP),
        max_runtime: p.max_runtime,
        retries: p.retries.unwrap_or_default(),
        history: p.history.unwrap_or(JobSpec::DEFAULT_HISTORY),
        prices: p.prices,
        on_event: p.on_event.map(|(v, _)| v),
        event_bus: p.event_bus,
        on_interruption: p.on_interruption.unwrap_or_default(),
        params: p.params.map(|(names, _)| names).unwrap_or_default(),
        alerts: p.alerts.unwrap_or_default(),
        expect: p.expect,
        retry: p.retry,
        jitter: p.jitter,
        together: Together {
            // Its size is the file's `pools:` entry, filled in once every job is read (`link`).
            pool: p.pool.map(|(name, _)| Pool { name, size: 0 }),
            parallel: p.parallel,
            after: p.after.map(|(a, _)| a),
            feeds: Vec::new(),
        },
    })
}
