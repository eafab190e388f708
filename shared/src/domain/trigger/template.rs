//! Templates: where a job's container values take parts of an event, and the resolution of a triggered run's spec,
//! which fills in those places and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::path::{check_value, Path, ValueError};
use crate::domain::job::{ContainerOverride, JobName, JobSpec};

/// ECS limits a RunTask request's overrides to 8 KiB in all; fsched keeps well inside it.
pub const OVERRIDES_MAX: usize = 6 * 1024;

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Ref(Path),
}

/// A value as the job declares it: plain text, a path (the whole value), or text with `{{ $.path }}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(text: &str) -> Result<Template, ValueError> {
        if text.starts_with("$.") || text.starts_with("$[") {
            return Ok(Template(vec![Piece::Ref(Path::parse(text)?)]));
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(ValueError::Unclosed {
                    text: text.to_owned(),
                });
            };
            pieces.push(Piece::Ref(Path::parse(after[..close].trim())?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template(pieces))
    }

    /// Whether it takes anything from the event.
    pub fn is_dynamic(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Piece::Ref(_)))
    }

    pub fn render(&self, event: &Value) -> Result<String, ValueError> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(path) => out.push_str(&path.read(event)?),
            }
        }
        Ok(out)
    }
}

/// Whether any of the job's values come from the triggering event (then each run resolves them, and records what it
/// got).
pub fn is_dynamic(spec: &JobSpec) -> bool {
    spec.containers.values().any(|c| {
        c.environment
            .values()
            .chain(c.command.iter().flatten())
            .any(|v| Template::parse(v).is_ok_and(|t| t.is_dynamic()))
    })
}

/// What a run asked for by a command cannot fill from `event` (the command's own): each environment variable whose
/// value reads the event and was not given in `values` (with what it reads), and each command word that reads it.
pub fn unfilled(
    spec: &JobSpec,
    event: &Value,
    values: &BTreeMap<String, String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let fails = |text: &str| {
        Template::parse(text).is_ok_and(|t| t.is_dynamic() && t.render(event).is_err())
    };
    let mut vars = Vec::new();
    let mut words = Vec::new();
    for c in spec.containers.values() {
        for (key, value) in &c.environment {
            if !values.contains_key(key) && fails(value) && !vars.iter().any(|(k, _)| k == key) {
                vars.push((key.clone(), value.clone()));
            }
        }
        words.extend(c.command.iter().flatten().filter(|w| fails(w)).cloned());
    }
    (vars, words)
}

/// The event a scheduled run's templates read: `$.time` and `$.detail.scheduled_at` are the scheduled time (RFC
/// 3339, UTC), `$.detail.job` the job's name. For example `RUN_DATE: $.detail.scheduled_at`.
pub fn schedule_event(job: &JobName, at: DateTime<Utc>) -> Value {
    let time = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    serde_json::json!({
        "source": "fsched",
        "detail-type": "Scheduled Run",
        "time": time,
        "detail": { "job": job.as_str(), "scheduled_at": time },
    })
}

/// Checks every template of a job: the problems, each naming where it is.
pub fn check_templates(spec: &JobSpec) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, c) in &spec.containers {
        for (key, value) in &c.environment {
            if let Err(e) = Template::parse(value) {
                problems.push(format!("containers.{name}.environment.{key}: {e}"));
            }
        }
        for (i, arg) in c.command.iter().flatten().enumerate() {
            if let Err(e) = Template::parse(arg) {
                problems.push(format!("containers.{name}.command[{i}]: {e}"));
            }
        }
    }
    problems
}

/// The bytes of the environment and commands a task's overrides carry, as fsched counts them against
/// `OVERRIDES_MAX`.
pub fn overrides_size(containers: &BTreeMap<String, ContainerOverride>) -> usize {
    containers
        .values()
        .map(|c| {
            let env: usize = c.environment.iter().map(|(k, v)| k.len() + v.len()).sum();
            let command: usize = c.command.iter().flatten().map(String::len).sum();
            env + command
        })
        .sum()
}

/// Why a run cannot start with the values it was asked for, in the words recorded on the REJECTED run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

impl From<ValueError> for Rejection {
    fn from(e: ValueError) -> Self {
        Rejection(e.to_string())
    }
}

/// The variables a command (or `fsched run --env`) may give values for: those the job fills from an event (a manual
/// run has no event, so it must be able to supply them) and those it lists under `params:`. A fixed value, such as a
/// database host, is not a command's to change.
pub fn settable(spec: &JobSpec) -> BTreeSet<String> {
    let from_events = spec.containers.values().flat_map(|c| {
        c.environment
            .iter()
            .filter(|(_, v)| Template::parse(v).is_ok_and(|t| t.is_dynamic()))
            .map(|(k, _)| k.clone())
    });
    from_events.chain(spec.params.iter().cloned()).collect()
}

/// The job's spec for one triggered run: every template filled from `event`, and `values` (explicit values for
/// variables the job declares) in place of the declared ones. Only container environments and commands change.
pub fn resolve(
    spec: &JobSpec,
    event: &Value,
    values: &BTreeMap<String, String>,
) -> Result<JobSpec, Rejection> {
    let declared: Vec<&String> = spec
        .containers
        .values()
        .flat_map(|c| c.environment.keys())
        .collect();
    if let Some(unknown) = values.keys().find(|k| !declared.contains(k)) {
        let mut names: Vec<&str> = declared.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        return Err(Rejection(format!(
            "the job does not declare the variable `{unknown}` (it declares: {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    }
    let settable = settable(spec);
    if let Some(fixed) = values.keys().find(|k| !settable.contains(*k)) {
        let names: Vec<&str> = settable.iter().map(String::as_str).collect();
        return Err(Rejection(format!(
            "`{fixed}` has a fixed value in the job: a command may set only the variables the job fills from events \
             and those it lists under `params:` ({})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    }
    for (k, v) in values {
        check_value(&format!("the value of `{k}`"), v).map_err(Rejection::from)?;
    }
    let render = |text: &str| -> Result<String, Rejection> {
        Template::parse(text)
            .and_then(|t| t.render(event))
            .map_err(Rejection::from)
    };
    let mut out = spec.clone();
    for c in out.containers.values_mut() {
        for (key, value) in c.environment.iter_mut() {
            *value = match values.get(key) {
                Some(given) => given.clone(),
                None => render(value)?,
            };
        }
        if let Some(command) = c.command.as_mut() {
            for arg in command.iter_mut() {
                *arg = render(arg)?;
            }
        }
    }
    let size = overrides_size(&out.containers);
    if size > OVERRIDES_MAX {
        return Err(Rejection(format!(
            "the filled-in environment and commands are {size} bytes; at most {OVERRIDES_MAX} fit a task's overrides"
        )));
    }
    Ok(out)
}
