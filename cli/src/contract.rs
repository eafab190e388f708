//! The documents `--output json|yaml` prints for runs, jobs and services: shapes of their own, documented in
//! docs/output.md, never the storage records (whose internal fields change with the table's design). Every field of
//! a shape is always present: `null` when it does not apply or is not known yet, `[]` for an empty list. Times are
//! RFC 3339 in UTC to the second; durations are whole seconds; money is US dollars.

use fsched_core::domain::cost::Cost;
use fsched_core::domain::job::Job;
use fsched_core::domain::run::{Run, Trigger};
use fsched_core::domain::service::ServiceState;
use serde_json::{json, Value};

use crate::output::{at, at_opt};

/// What started a run: `type` (schedule, event, manual, backfill, after), who asked (`by`, for manual and backfill
/// runs) and the event (`event`: its source and id).
fn trigger(t: &Trigger) -> Value {
    let (kind, by, event) = match t {
        Trigger::Schedule => ("schedule", None, Value::Null),
        Trigger::Event { source, id } => ("event", None, json!({"source": source, "id": id})),
        Trigger::Manual { by } => ("manual", Some(by), Value::Null),
        Trigger::Backfill { by } => ("backfill", Some(by), Value::Null),
        Trigger::After => ("after", None, Value::Null),
    };
    json!({"type": kind, "by": by, "event": event})
}

fn cost(c: &Cost) -> Value {
    json!({
        "usd": c.usd, "billed_seconds": c.billed_seconds, "vcpu": c.vcpu, "memory_gb": c.memory_gb,
        "architecture": c.architecture, "capacity": c.capacity,
    })
}

/// A duration in whole seconds (a negative one, from clock skew between reports, as `null`).
fn seconds(d: Option<chrono::Duration>) -> Value {
    d.map(|d| d.num_seconds())
        .filter(|s| *s >= 0)
        .map_or(Value::Null, |s| json!(s))
}

/// A run (kind `Run`, and each item of `RunList`).
pub fn run(r: &Run) -> Value {
    let task = r.task.as_ref();
    let containers: Vec<Value> = task
        .map(|t| {
            t.containers
                .iter()
                .map(|c| {
                    json!({"name": c.name, "exit_code": c.exit_code, "reason": c.reason,
                           "essential": c.is_essential()})
                })
                .collect()
        })
        .unwrap_or_default();
    let fan = &r.fan;
    json!({
        "id": r.id.to_string(),
        "job": r.id.job().as_str(),
        "attempt": r.attempt,
        "trigger": trigger(&r.trigger),
        "status": r.status,
        "reason": r.reason,
        "scheduled_at": at(r.scheduled_at),
        "not_before": at_opt(r.not_before),
        "launched_at": at_opt(r.launched_at),
        "started_at": at_opt(r.started_at),
        "stopped_at": at_opt(r.stopped_at),
        "start_delay_seconds": seconds(r.start_delay()),
        "launch_delay_seconds": r
            .launch_delay()
            .filter(|d| *d >= chrono::Duration::zero())
            .map_or(Value::Null, |d| json!(d.num_milliseconds() as f64 / 1000.0)),
        "provisioning_seconds": seconds(r.provisioning()),
        "runtime_seconds": seconds(r.runtime()),
        "exit_code": r.exit_code(),
        "stop_code": task.and_then(|t| t.stop_code.clone()),
        "stopped_reason": task.and_then(|t| t.stopped_reason.clone()),
        "capacity": r.capacity,
        "cluster": r.cluster,
        "task_arn": r.task_arn,
        "task_definition_arn": task.and_then(|t| t.task_definition_arn.clone()),
        "containers": containers,
        "cost": r.cost.as_ref().map_or(Value::Null, cost),
        "retry_of": r.retry_of.as_ref().map(|id| id.to_string()),
        "retried_as": r.retried_as.as_ref().map_or(Value::Null, |n| {
            json!({"run": n.run.to_string(), "attempt": n.number, "at": at(n.at)})
        }),
        "blocked_by": r.blocked_by.as_ref().map(|id| id.to_string()),
        "queued_behind": r.queued_behind.as_ref().map(|id| id.to_string()),
        "pool": fan.pool.as_ref().map(|p| p.to_string()),
        "task_of": fan.part.as_ref().map_or(Value::Null, |p| {
            json!({"run": p.of.to_string(), "index": p.index, "count": p.count})
        }),
        "tasks": fan.parts.as_ref().map_or(Value::Null, |p| {
            let ended: Vec<Value> = p.ended.iter().map(|e| {
                json!({"index": e.index, "run": e.run.to_string(), "status": e.status, "exit_code": e.exit_code})
            }).collect();
            json!({"count": p.count, "ended": ended})
        }),
        "after": fan.waits.as_ref().map_or(Value::Null, |w| {
            json!({
                "day": w.day.to_string(),
                "jobs": w.jobs.iter().map(|j| j.as_str()).collect::<Vec<_>>(),
                "met": w.met.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                "missing": w.missing().iter().map(|j| j.as_str()).collect::<Vec<_>>(),
            })
        }),
    })
}

/// A job's latest run, as listed with the job: its id, status and due time.
fn last_run(r: &Run) -> Value {
    json!({"id": r.id.to_string(), "status": r.status, "scheduled_at": at(r.scheduled_at)})
}

/// A stored job as `fsched jobs` lists it (each item of `JobList`).
pub fn job_row(j: &Job, last: Option<&Run>) -> Value {
    json!({
        "name": j.name.as_str(),
        "runs_on": j.spec.triggers(),
        "schedule": j.spec.schedule,
        "timezone": j.spec.timezone,
        "next_fire": at_opt(j.next_fire),
        "paused": j.spec.paused,
        "last_run": last.map_or(Value::Null, last_run),
    })
}

/// One stored job in full (kind `Job`): the row, its stored version and definition (the jobs file's keys, as
/// stored: a key left out takes its default), its next fires, health and latest runs.
pub fn job(j: &Job, fires: &[chrono::DateTime<chrono::Utc>], runs: &[Run]) -> Value {
    let mut doc = job_row(j, runs.first());
    if let Some(fields) = doc.as_object_mut() {
        fields.insert("version".into(), json!(j.version));
        fields.insert(
            "next_fires".into(),
            json!(fires.iter().map(|t| at(*t)).collect::<Vec<_>>()),
        );
        fields.insert(
            "health".into(),
            json!({
                "watched": j.spec.expect.is_some(),
                "success_within": j.spec.expect.as_ref().map(|e| e.success_within.to_string()),
                "overdue_since": at_opt(j.health.overdue_since),
            }),
        );
        fields.insert("definition".into(), json!(j.spec));
        fields.insert(
            "runs".into(),
            json!(runs.iter().map(run).collect::<Vec<_>>()),
        );
    }
    doc
}

/// A declared service (each item of `ServiceList`).
pub fn service(s: &ServiceState) -> Value {
    json!({
        "name": s.name.as_str(),
        "cluster": s.spec.cluster,
        "service": s.spec.service,
        "timezone": s.spec.timezone,
        "awake": s.spec.awake_words(),
        "state": s.phase.to_string(),
        "hold_until": at_opt(s.hold_until),
        "saved": s.saved.map_or(Value::Null, |v| json!({
            "desired_count": v.desired_count,
            "autoscaling": v.autoscaling.map_or(Value::Null, |(min, max)| json!({"min": min, "max": max})),
        })),
        "next_transition": at_opt(s.transition_at),
        "wake_on_request": s.spec.wake_on_request.as_ref().map_or(Value::Null, |w| json!({
            "hosts": w.hosts,
            "listener_rule": w.listener_rule,
            "target_group": w.target_group,
            "hold_seconds": w.hold.as_secs(),
            "forwards_to": s.routing,
        })),
    })
}
