//! Runs asked for by events and people: which values from an event reach the task, and nothing else.
//!
//! A job declares where event values go: a container's environment value or command argument that is exactly a path
//! (`REPORT_ID: $.detail.id`) or contains `{{ $.path }}` placeholders (`--key={{ $.detail.object.key }}`). A run
//! asked for by an event, a "Run Job" command or `fsched run` fills those in; explicit values (`--env K=V`) may
//! replace the values of variables the job declares. Nothing else can change: not the image, task definition,
//! roles, cluster or network, and no variable the job did not declare. Values are text, at most `VALUE_MAX` bytes,
//! without control characters; a missing or ill-typed value rejects the run, and nothing is launched.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use chrono::{DateTime, Utc};

use super::job::{JobName, JobSpec};
use super::run::RunId;

/// The longest value one reference may contribute.
pub const VALUE_MAX: usize = 1024;
/// ECS limits a RunTask request's overrides to 8 KiB in all; fsched keeps well inside it.
pub const OVERRIDES_MAX: usize = 6 * 1024;
/// The deepest path a template may name.
pub const PATH_DEPTH_MAX: usize = 16;

/// One step of a path: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path into an event: `$`, then `.key` or `[n]` steps. Keys are `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let bad = |why: &str| {
            Err(format!(
                "`{text}` is not a path: {why} (write e.g. `$.detail.id` or `$.detail.files[0].key`)"
            ))
        };
        let Some(mut rest) = text.strip_prefix('$') else {
            return bad("it must start with `$`");
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(after.len());
                if end == 0 {
                    return bad("a `.` must be followed by a key");
                }
                steps.push(Step::Key(after[..end].to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else {
                    return bad("`[` without `]`");
                };
                let Ok(index) = after[..close].parse::<usize>() else {
                    return bad("an index must be a whole number");
                };
                steps.push(Step::Index(index));
                rest = &after[close + 1..];
            } else {
                return bad("expected `.key` or `[n]`");
            }
        }
        if steps.is_empty() {
            return bad("it names nothing; `$` alone is the whole event");
        }
        if steps.len() > PATH_DEPTH_MAX {
            return bad("it is deeper than 16 steps");
        }
        Ok(Path {
            text: text.to_owned(),
            steps,
        })
    }

    /// The value at this path as text: strings as they are, numbers and booleans as JSON writes them.
    pub fn read(&self, event: &Value) -> Result<String, String> {
        let mut at = event;
        for step in &self.steps {
            let next = match (step, at) {
                (Step::Key(k), Value::Object(map)) => map.get(k),
                (Step::Index(i), Value::Array(items)) => items.get(*i),
                _ => None,
            };
            at = next.ok_or_else(|| format!("the event has no `{self}`"))?;
        }
        let text = match at {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => return Err(format!("`{self}` is null in the event")),
            Value::Array(_) | Value::Object(_) => {
                return Err(format!(
                    "`{self}` is {} in the event, not a single value",
                    if at.is_array() { "a list" } else { "an object" }
                ))
            }
        };
        check_value(&format!("`{self}`"), &text)?;
        Ok(text)
    }
}

/// A value may be passed to a task: short enough, and without control characters.
pub fn check_value(what: &str, text: &str) -> Result<(), String> {
    if text.len() > VALUE_MAX {
        return Err(format!(
            "{what} is {} bytes long; at most {VALUE_MAX} are passed to a task",
            text.len()
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} contains the control character U+{:04X}; such values are not passed to tasks",
            c as u32
        ));
    }
    Ok(())
}

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
    pub fn parse(text: &str) -> Result<Template, String> {
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
                return Err(format!("`{text}`: `{{{{` without `}}}}`"));
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

    pub fn render(&self, event: &Value) -> Result<String, String> {
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

/// Why a run cannot start with the values it was asked for: recorded on the REJECTED run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

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
    for (k, v) in values {
        check_value(&format!("the value of `{k}`"), v).map_err(Rejection)?;
    }
    let render = |text: &str| -> Result<String, Rejection> {
        Template::parse(text)
            .and_then(|t| t.render(event))
            .map_err(Rejection)
    };
    let mut out = spec.clone();
    let mut size = 0;
    for c in out.containers.values_mut() {
        for (key, value) in c.environment.iter_mut() {
            *value = match values.get(key) {
                Some(given) => given.clone(),
                None => render(value)?,
            };
            size += key.len() + value.len();
        }
        if let Some(command) = c.command.as_mut() {
            for arg in command.iter_mut() {
                *arg = render(arg)?;
                size += arg.len();
            }
        }
    }
    if size > OVERRIDES_MAX {
        return Err(Rejection(format!(
            "the filled-in environment and commands are {size} bytes; at most {OVERRIDES_MAX} fit a task's overrides"
        )));
    }
    Ok(out)
}

/// The name of the EventBridge rule that runs a job on its `on_event`: `fsched-<stack tag>-<job>`, at most 64
/// characters (EventBridge's limit), unique per stack so several stacks can share a bus. `stack` is a short
/// discriminator derived from the stack's table name.
pub fn rule_name(stack: &str, job: &str) -> String {
    let name = format!("fsched-{stack}-{job}");
    if name.len() <= 64 {
        return name;
    }
    // Long job names keep a readable prefix and a hash of the whole name.
    let hash = super::dispatch::fnv128(&[job]) as u64;
    let keep = 64 - format!("fsched-{stack}--{hash:08x}").len();
    format!("fsched-{stack}-{}-{:08x}", &job[..keep], hash as u32)
}

/// The short discriminator of a stack's rules, from its table name: 6 hex characters.
pub fn stack_tag(table: &str) -> String {
    format!(
        "{:06x}",
        super::dispatch::fnv128(&[table]) as u64 & 0xff_ffff
    )
}

/// The `source` of fsched's lifecycle events ("Run Succeeded", ...).
pub const EVENT_SOURCE: &str = "fsched";
/// The `source` of commands to fsched ("Run Job", "Pause Job", "Resume Job") on the stack's bus.
pub const COMMAND_SOURCE: &str = "fsched.commands";
pub const RUN_JOB: &str = "Run Job";
pub const PAUSE_JOB: &str = "Pause Job";
pub const RESUME_JOB: &str = "Resume Job";
pub const WAKE_SERVICE: &str = "Wake Service";
pub const SLEEP_SERVICE: &str = "Sleep Service";
/// The longest `requested_by` and `request_id` kept.
const LABEL_MAX: usize = 128;

/// A command to fsched.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the job now, with `values` for variables it declares.
    RunJob {
        job: JobName,
        values: BTreeMap<String, String>,
        /// Makes the run's id: the same request delivered twice is one run.
        request_id: String,
        requested_by: String,
    },
    PauseJob {
        job: JobName,
        requested_by: String,
    },
    ResumeJob {
        job: JobName,
        replay: bool,
        requested_by: String,
    },
    /// Wake the service now; with `hold`, keep it awake that long at least.
    WakeService {
        service: JobName,
        hold: Option<super::duration::Span>,
        requested_by: String,
    },
    SleepService {
        service: JobName,
        requested_by: String,
    },
}

/// What reached the trigger: an event for a job's `on_event`, or a command. `event` is the whole EventBridge event
/// (templates read from it); `id` and `time` are its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Event {
        job: JobName,
        source: String,
        id: String,
        time: DateTime<Utc>,
        event: Value,
    },
    Command {
        command: Command,
        id: String,
        time: DateTime<Utc>,
        event: Value,
    },
    /// A service's `wake_on` rule delivered this event.
    WakeOn {
        service: JobName,
        source: String,
        id: String,
        time: DateTime<Utc>,
    },
}

fn text_field<'v>(v: &'v Value, key: &str, what: &str) -> Result<&'v str, String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(format!(
            "{what}: `{key}` must be a non-empty string, found {other}"
        )),
        None => Err(format!("{what}: `{key}` is missing")),
    }
}

fn label(v: &Value, key: &str, what: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            check_value(&format!("{what}: `{key}`"), s)?;
            if s.len() > LABEL_MAX {
                return Err(format!("{what}: `{key}` is longer than {LABEL_MAX} bytes"));
            }
            Ok(Some(s.clone()))
        }
        Some(other) => Err(format!("{what}: `{key}` must be a string, found {other}")),
    }
}

/// An event's `time`: RFC 3339 as EventBridge writes it (epoch seconds are accepted too).
fn event_time(event: &Value) -> Result<DateTime<Utc>, String> {
    match event.get("time") {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("the event's `time` `{s}` is not an RFC 3339 time: {e}")),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
            .ok_or_else(|| format!("the event's `time` {n} is not a time")),
        _ => Err("the event has no `time`".to_owned()),
    }
}

fn job_field(v: &Value, what: &str) -> Result<JobName, String> {
    let name = text_field(v, "job", what)?;
    JobName::new(name).map_err(|e| format!("{what}: {e}"))
}

/// Reads what an on_event rule or the command rule delivered. The rule's input for `on_event` is
/// `{"fsched_job": JOB, "event": EVENT}`; commands arrive as the event itself.
pub fn inbound(body: &Value) -> Result<Inbound, String> {
    if let Some(service) = body.get("fsched_service") {
        let service = match service {
            Value::String(s) => {
                JobName::new(s.as_str()).map_err(|e| format!("fsched_service: {e}"))?
            }
            other => {
                return Err(format!(
                    "`fsched_service` must be a service name, found {other}"
                ))
            }
        };
        let event = body
            .get("event")
            .filter(|e| e.is_object())
            .ok_or("a wake_on delivery must carry the event as `event`")?;
        return Ok(Inbound::WakeOn {
            service,
            source: text_field(event, "source", "the event")?.to_owned(),
            id: text_field(event, "id", "the event")?.to_owned(),
            time: event_time(event)?,
        });
    }
    if let Some(job) = body.get("fsched_job") {
        let job = match job {
            Value::String(s) => JobName::new(s.as_str()).map_err(|e| format!("fsched_job: {e}"))?,
            other => return Err(format!("`fsched_job` must be a job name, found {other}")),
        };
        let event = body
            .get("event")
            .filter(|e| e.is_object())
            .ok_or("an on_event delivery must carry the event as `event`")?;
        return Ok(Inbound::Event {
            job,
            source: text_field(event, "source", "the event")?.to_owned(),
            id: text_field(event, "id", "the event")?.to_owned(),
            time: event_time(event)?,
            event: event.clone(),
        });
    }
    let source = text_field(body, "source", "the event")?;
    if source != COMMAND_SOURCE {
        return Err(format!(
            "expected a command (source `{COMMAND_SOURCE}`) or an on_event delivery (`fsched_job`, `event`), got \
             source `{source}`"
        ));
    }
    let kind = text_field(body, "detail-type", "the command")?;
    let id = text_field(body, "id", "the command")?.to_owned();
    let time = event_time(body)?;
    let detail = body
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or("the command has no `detail` object")?;
    let what = format!("\"{kind}\"");
    let requested_by =
        label(detail, "requested_by", &what)?.unwrap_or_else(|| "unknown".to_owned());
    let command = match kind {
        RUN_JOB => {
            let mut values = BTreeMap::new();
            match detail.get("env") {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (k, v) in map {
                        let Value::String(v) = v else {
                            return Err(format!("{what}: env `{k}` must be a string, found {v}"));
                        };
                        values.insert(k.clone(), v.clone());
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "{what}: `env` must be an object of strings, found {other}"
                    ))
                }
            }
            let request_id = label(detail, "request_id", &what)?.unwrap_or_else(|| id.clone());
            Command::RunJob {
                job: job_field(detail, &what)?,
                values,
                request_id,
                requested_by,
            }
        }
        PAUSE_JOB => Command::PauseJob {
            job: job_field(detail, &what)?,
            requested_by,
        },
        RESUME_JOB => Command::ResumeJob {
            job: job_field(detail, &what)?,
            replay: match detail.get("replay") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(format!(
                        "{what}: `replay` must be true or false, found {other}"
                    ))
                }
            },
            requested_by,
        },
        WAKE_SERVICE | SLEEP_SERVICE => {
            let service = JobName::new(text_field(detail, "service", &what)?)
                .map_err(|e| format!("{what}: {}", e.to_string().replace("job name", "service name")))?;
            if kind == SLEEP_SERVICE {
                Command::SleepService {
                    service,
                    requested_by,
                }
            } else {
                let hold = match detail.get("for") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(
                        s.parse::<super::duration::Span>()
                            .map_err(|e| format!("{what}: `for`: {e}"))?,
                    ),
                    Some(other) => return Err(format!("{what}: `for` must be a duration such as \"2h\", found {other}")),
                };
                Command::WakeService {
                    service,
                    hold,
                    requested_by,
                }
            }
        }
        other => {
            return Err(format!(
                "unknown command `{other}`: expected `{RUN_JOB}`, `{PAUSE_JOB}`, `{RESUME_JOB}`, `{WAKE_SERVICE}` or \
                 `{SLEEP_SERVICE}`"
            ))
        }
    };
    Ok(Inbound::Command {
        command,
        id,
        time,
        event: body.clone(),
    })
}

/// The detail of a "Run Job" command, as `fsched run` and other systems send it.
pub fn run_job_detail(
    job: &JobName,
    values: &BTreeMap<String, String>,
    request_id: &str,
    requested_by: &str,
) -> Value {
    serde_json::json!({
        "job": job.as_str(),
        "env": values,
        "request_id": request_id,
        "requested_by": requested_by,
    })
}

/// The id of a run asked for by an event (`e`) or a "Run Job" request (`m`): its time and the id of what asked.
pub fn triggered_run_id(job: &JobName, time: DateTime<Utc>, manual: bool, unique: &str) -> RunId {
    RunId::triggered(job, time, if manual { 'm' } else { 'e' }, unique)
}

/// The id of the target fsched puts on its rules.
pub const TARGET_ID: &str = "fsched-trigger";
/// The bus name EventBridge gives the account's default bus.
pub const DEFAULT_BUS: &str = "default";

/// A rule fsched keeps for a job's `on_event`: on `bus`, matching `pattern`, delivering the job's name and the
/// event to the stack's trigger queue.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    pub name: String,
    pub bus: String,
    /// The job it runs, or (with `wakes_service`) the service it wakes.
    pub job: JobName,
    pub pattern: Value,
    /// A service's `wake_on` rule rather than a job's `on_event`.
    pub wakes_service: bool,
}

impl EventRule {
    fn what(&self) -> &'static str {
        if self.wakes_service {
            "service"
        } else {
            "job"
        }
    }

    pub fn description(&self) -> String {
        if self.wakes_service {
            format!("fsched: wakes service {} when an event matches", self.job)
        } else {
            format!("fsched: runs job {} when an event matches", self.job)
        }
    }

    /// The target's input: the job's (or service's) name and the whole event (`<aws.events.event.json>`).
    pub fn input_template(&self) -> String {
        format!(
            "{{\"fsched_{}\": \"{}\", \"event\": <aws.events.event.json>}}",
            self.what(),
            self.job
        )
    }

    /// The tag that says what the rule is for.
    pub fn tag(&self) -> (&'static str, &str) {
        if self.wakes_service {
            ("fsched:service", self.job.as_str())
        } else {
            ("fsched:job", self.job.as_str())
        }
    }
}

/// A rule as found on a bus: its pattern, and its targets (ARN and input template).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRule {
    pub name: String,
    pub bus: String,
    pub pattern: Option<Value>,
    pub targets: Vec<(String, Option<String>)>,
}

/// The rules the jobs want: one per job with `on_event`, on its `event_bus` (default: the stack's bus).
pub fn desired_rules<'a>(
    jobs: impl IntoIterator<Item = (&'a JobName, &'a JobSpec)>,
    stack: &str,
    stack_bus: &str,
) -> Vec<EventRule> {
    jobs.into_iter()
        .filter_map(|(name, spec)| {
            Some(EventRule {
                name: rule_name(stack, name.as_str()),
                bus: spec
                    .event_bus
                    .clone()
                    .unwrap_or_else(|| stack_bus.to_owned()),
                job: name.clone(),
                pattern: spec.on_event.clone()?,
                wakes_service: false,
            })
        })
        .collect()
}

/// The rules the services want: one per service with `wake_on`. Named `fsched-<stack>-svc.<service>` (`.` never
/// occurs in job names, so a service's rule cannot take a job's name).
pub fn desired_service_rules<'a>(
    services: impl IntoIterator<Item = (&'a JobName, &'a super::service::ServiceSpec)>,
    stack: &str,
    stack_bus: &str,
) -> Vec<EventRule> {
    services
        .into_iter()
        .filter_map(|(name, spec)| {
            Some(EventRule {
                name: rule_name(stack, &format!("svc.{name}")),
                bus: spec
                    .event_bus
                    .clone()
                    .unwrap_or_else(|| stack_bus.to_owned()),
                job: name.clone(),
                pattern: spec.wake_on.clone()?,
                wakes_service: true,
            })
        })
        .collect()
}

/// A change to fsched's rules.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleChange {
    Create(EventRule),
    Update { rule: EventRule, why: String },
    Delete { name: String, bus: String },
}

impl fmt::Display for RuleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleChange::Create(r) => {
                write!(
                    f,
                    "+ rule {} on bus {} ({} {})",
                    r.name,
                    r.bus,
                    r.what(),
                    r.job
                )
            }
            RuleChange::Update { rule, why } => {
                write!(
                    f,
                    "~ rule {} on bus {} ({} {}): {why}",
                    rule.name,
                    rule.bus,
                    rule.what(),
                    rule.job
                )
            }
            RuleChange::Delete { name, bus } => write!(f, "- rule {name} on bus {bus}"),
        }
    }
}

/// What turns the rules found into the rules wanted. `queue` is the trigger queue every rule must target.
pub fn rule_changes(desired: &[EventRule], found: &[FoundRule], queue: &str) -> Vec<RuleChange> {
    let mut out = Vec::new();
    for rule in desired {
        match found
            .iter()
            .find(|f| f.name == rule.name && f.bus == rule.bus)
        {
            None => out.push(RuleChange::Create(rule.clone())),
            Some(f) => {
                let target = (queue.to_owned(), Some(rule.input_template()));
                let why = if f.pattern.as_ref() != Some(&rule.pattern) {
                    Some("its pattern changed")
                } else if f.targets != [target] {
                    Some("its target is not the stack's trigger queue")
                } else {
                    None
                };
                if let Some(why) = why {
                    out.push(RuleChange::Update {
                        rule: rule.clone(),
                        why: why.to_owned(),
                    });
                }
            }
        }
    }
    for f in found {
        if !desired.iter().any(|r| r.name == f.name && r.bus == f.bus) {
            out.push(RuleChange::Delete {
                name: f.name.clone(),
                bus: f.bus.clone(),
            });
        }
    }
    out
}

/// The prefix of every rule of one stack: listing by it finds fsched's rules and no one else's.
pub fn rule_prefix(stack: &str) -> String {
    format!("fsched-{stack}-")
}

#[cfg(test)]
mod tests;
