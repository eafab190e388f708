//! `fsched validate`, `fsched plan` and `fsched apply`: the jobs file against what is stored.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::rules::EventBridgeRules;
use fsched_core::domain::job::{never_fires, Job};
use fsched_core::domain::jobs_file::{JobsFile, MAX_FILE_BYTES};
use fsched_core::domain::plan::{Change, Plan};
use fsched_core::domain::service::ServiceState;
use fsched_core::domain::trigger::{stack_tag, RuleChange};
use fsched_core::service::apply::{apply_file, plan_file, FilePlan, Outcome};
use fsched_core::service::scope::scope_problems;
use serde_json::json;

use crate::aws::AwsArgs;
use crate::output::Format;
use crate::Failure;

#[derive(clap::Args)]
pub struct FileArgs {
    /// The jobs file (YAML); `-` reads standard input.
    file: PathBuf,
    /// `table` for people, `json` for scripts.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: Format,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    file: FileArgs,
    /// Remove stored jobs that the file no longer declares.
    #[arg(long)]
    prune: bool,
    /// With --prune, remove even when that removes every stored job (or service), or more than 3.
    #[arg(long)]
    yes: bool,
    /// plan only: exit 0 when nothing would change, 3 when something would (1 and 2 as always), for drift checks.
    #[arg(long)]
    detailed_exitcode: bool,
}

/// How many of each kind a plan adds, changes and removes, and how many stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
struct Counts {
    add: usize,
    change: usize,
    remove: usize,
    unchanged: usize,
}

impl Counts {
    fn of<D: fsched_core::domain::plan::Declared>(p: &Plan<D>) -> Counts {
        let (add, change, remove) = p.counts();
        Counts {
            add,
            change,
            remove,
            unchanged: p.unchanged.len(),
        }
    }

    fn rules(changes: &[RuleChange]) -> Counts {
        let count = |f: fn(&RuleChange) -> bool| changes.iter().filter(|c| f(c)).count();
        Counts {
            add: count(|c| matches!(c, RuleChange::Create(_))),
            change: count(|c| matches!(c, RuleChange::Update { .. })),
            remove: count(|c| matches!(c, RuleChange::Delete { .. })),
            unchanged: 0,
        }
    }

    fn changes(&self) -> usize {
        self.add + self.change + self.remove
    }

    fn words(&self) -> String {
        format!(
            "{} to add, {} to change, {} to remove",
            self.add, self.change, self.remove
        )
    }

    /// `+6 ~1 -2`, the non-zero ones.
    fn short(&self) -> String {
        [("+", self.add), ("~", self.change), ("-", self.remove)]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(sign, n)| format!("{sign}{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The plan's counts: jobs, services, rules.
fn counts(planned: &FilePlan) -> [(&'static str, Counts); 3] {
    let rules = planned
        .rules
        .as_ref()
        .map(|(_, c)| Counts::rules(c))
        .unwrap_or_default();
    [
        ("jobs", Counts::of(&planned.jobs)),
        ("services", Counts::of(&planned.services)),
        ("rules", rules),
    ]
}

/// One line over everything the plan would do: "No changes" only when nothing at all would change.
fn summary(planned: &FilePlan) -> String {
    let parts = counts(planned);
    let total = parts.iter().fold(Counts::default(), |t, (_, c)| Counts {
        add: t.add + c.add,
        change: t.change + c.change,
        remove: t.remove + c.remove,
        unchanged: t.unchanged + c.unchanged,
    });
    if total.changes() == 0 {
        return format!(
            "No changes: {} job(s) and {} service(s) up to date, EventBridge rules as wanted.",
            parts[0].1.unchanged, parts[1].1.unchanged
        );
    }
    let each: Vec<String> = parts
        .iter()
        .filter(|(_, c)| c.changes() > 0)
        .map(|(what, c)| format!("{what} {}", c.short()))
        .collect();
    format!(
        "Plan: {} ({}); {} unchanged.",
        total.words(),
        each.join("; "),
        total.unchanged
    )
}

/// The file's bytes, at most one more than a jobs file may have (so `/dev/zero` or a pipe that never ends cannot
/// fill the memory); `-` reads standard input.
fn read_limited(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let limit = MAX_FILE_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)?
            .take(limit)
            .read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// Reads and validates the file; invalid input is exit 2 with every problem listed.
fn load(args: &FileArgs) -> Result<JobsFile, Failure> {
    let bytes = read_limited(&args.file)
        .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", args.file.display())))?;
    JobsFile::read(&bytes).map_err(|diagnostics| {
        if args.output == Format::Json {
            // Scripts get every problem on standard output, as data; the exit code still says invalid.
            let file = args.file.display().to_string();
            let problems: Vec<_> = diagnostics
                .iter()
                .map(|d| {
                    json!({"file": file, "line": d.line, "column": d.column, "job": d.job, "message": d.message})
                })
                .collect();
            println!("{}", json!({"valid": false, "problems": problems}));
        }
        let file = args.file.display().to_string();
        let text = String::from_utf8_lossy(&bytes);
        let mut message: Vec<String> = diagnostics
            .iter()
            .map(|d| format!("{}{}", d.in_file(&file), excerpt(&text, d.line, d.column)))
            .collect();
        message.push(format!(
            "{file}: {} problem(s); nothing was changed",
            diagnostics.len()
        ));
        Failure::Invalid(message.join("\n"))
    })
}

/// The line a problem is on, and a caret under its column (as compilers show it); nothing when the problem has no
/// place in the file. Control characters in the line are shown as `?`, so the file cannot drive the terminal.
fn excerpt(text: &str, line: usize, column: usize) -> String {
    let Some(source) = line.checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        return String::new();
    };
    let shown: String = source
        .chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    let pad: String = shown
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("\n    | {shown}\n    | {pad}^")
}

/// Warnings on standard error for jobs that are valid but will never fire after `now`.
fn warn_silent(file: &JobsFile, now: DateTime<Utc>) {
    for (name, spec) in &file.jobs {
        if never_fires(spec, now) {
            let schedule = spec.schedule.as_deref().unwrap_or_default();
            eprintln!(
                "warning: job `{name}`: `{schedule}` in {} never fires after {} (valid, but it will never run on \
                 its own)",
                spec.timezone,
                now.format("%Y-%m-%d %H:%M:%SZ")
            );
        }
    }
}

pub fn validate(args: FileArgs, now: DateTime<Utc>, out: &mut impl Write) -> Result<(), Failure> {
    let file = load(&args)?;
    warn_silent(&file, now);
    match args.output {
        Format::Table => writeln!(
            out,
            "{}: valid, {} job(s)",
            args.file.display(),
            file.jobs.len()
        ),
        Format::Json => writeln!(
            out,
            "{}",
            json!({"valid": true, "jobs": file.jobs.keys().collect::<Vec<_>>()})
        ),
    }
    .context("writing to stdout")?;
    Ok(())
}

/// A service's line in a plan.
fn service_line(change: &Change<ServiceState>) -> String {
    match change {
        Change::Add { name, spec } => format!(
            "+ service {name}  ({} in {})",
            spec.awake_words(),
            spec.timezone
        ),
        Change::Update { current, spec, .. } => format!(
            "~ service {}  ({} in {})",
            current.name,
            spec.awake_words(),
            spec.timezone
        ),
        Change::Remove { current } => format!(
            "- service {}  (not in the file; removed by --prune)",
            current.name
        ),
        Change::Keep { current } => format!(
            "  service {}  (not in the file; kept, --prune would remove it)",
            current.name
        ),
    }
}

/// A service's change for scripts.
fn service_json(change: &Change<ServiceState>) -> serde_json::Value {
    let (name, action) = match change {
        Change::Add { name, .. } => (name.to_string(), "add"),
        Change::Update { current, .. } => (current.name.to_string(), "change"),
        Change::Remove { current } => (current.name.to_string(), "remove"),
        Change::Keep { current } => (current.name.to_string(), "keep"),
    };
    json!({"service": name, "action": action})
}

/// A rule's change for scripts.
fn rule_json(change: &RuleChange) -> serde_json::Value {
    match change {
        RuleChange::Create(r) => json!({
            "rule": r.name, "bus": r.bus, "action": "add", "for": r.target.to_string(),
        }),
        RuleChange::Update { rule, why } => json!({
            "rule": rule.name, "bus": rule.bus, "action": "change", "for": rule.target.to_string(), "why": why,
        }),
        RuleChange::Delete { name, bus } => json!({"rule": name, "bus": bus, "action": "remove"}),
    }
}

fn plan_json(planned: &FilePlan) -> serde_json::Value {
    let changes: Vec<_> = planned
        .jobs
        .changes
        .iter()
        .map(|c| match c {
            Change::Add { name, spec } => json!({"job": name, "action": "add", "spec": spec}),
            Change::Update { current, fields, .. } => json!({
                "job": current.name, "action": "change",
                "fields": fields.iter().map(|f| json!({"field": f.field, "from": f.from, "to": f.to})).collect::<Vec<_>>(),
            }),
            Change::Remove { current } => json!({"job": current.name, "action": "remove"}),
            Change::Keep { current } => json!({"job": current.name, "action": "keep"}),
        })
        .collect();
    let services: Vec<_> = planned.services.changes.iter().map(service_json).collect();
    let rules = planned
        .rules
        .as_ref()
        .map(|(_, c)| c.iter().map(rule_json).collect::<Vec<_>>());
    let summary: serde_json::Map<String, serde_json::Value> = counts(planned)
        .iter()
        .map(|(what, c)| ((*what).to_owned(), json!(c)))
        .collect();
    json!({
        "changed": has_changes(planned),
        "summary": summary,
        "changes": changes,
        "unchanged": planned.jobs.unchanged,
        "services": services,
        "rules": rules,
    })
}

/// Whether applying the plan would change anything.
fn has_changes(planned: &FilePlan) -> bool {
    counts(planned).iter().any(|(_, c)| c.changes() > 0)
}

fn print_jobs(p: &Plan<Job>, out: &mut impl Write) -> anyhow::Result<()> {
    for c in &p.changes {
        match c {
            Change::Add { name, spec } => writeln!(
                out,
                "+ {name}  (new: {} in {})",
                spec.triggers(),
                spec.timezone
            )?,
            Change::Update {
                current, fields, ..
            } => {
                writeln!(out, "~ {}", current.name)?;
                for f in fields {
                    writeln!(out, "    {}: {} -> {}", f.field, f.from, f.to)?;
                }
            }
            Change::Remove { current } => writeln!(
                out,
                "- {}  (not in the file; removed by --prune)",
                current.name
            )?,
            Change::Keep { current } => writeln!(
                out,
                "  {}  (not in the file; kept, --prune would remove it)",
                current.name
            )?,
        }
    }
    Ok(())
}

/// The plan for people: jobs, services, rules, then one summary over all three.
fn print_plan(planned: &FilePlan, out: &mut impl Write) -> anyhow::Result<()> {
    print_jobs(&planned.jobs, out)?;
    for c in &planned.services.changes {
        writeln!(out, "{}", service_line(c))?;
    }
    if let Some((_, changes)) = &planned.rules {
        for c in changes {
            writeln!(out, "{c}")?;
        }
    }
    writeln!(out, "{}", summary(planned))?;
    Ok(())
}

/// The stored state, the rules port and the plan of the file against them.
async fn make_plan(
    args: &PlanArgs,
    aws: &AwsArgs,
) -> Result<(DynamoStore, EventBridgeRules, FilePlan), Failure> {
    let file = load(&args.file)?;
    let config = aws.config().await;
    let store = aws.store_with(&config).await?;
    let rules = EventBridgeRules::new(aws_sdk_eventbridge::Client::new(&config));
    // With --stack, the file must stay within what the stack may launch and scale: refused here, not at every fire.
    if let Some(stack) = aws.stack_scope(&config).await? {
        let ecs = EcsLauncher::new(aws_sdk_ecs::Client::new(&config), stack_tag(store.table()));
        let problems = scope_problems(&ecs, &stack, &file).await;
        if !problems.is_empty() {
            return Err(Failure::Invalid(format!(
                "the stack may not run what {} declares (nothing was changed):\n  {}",
                args.file.file.display(),
                problems.join("\n  ")
            )));
        }
    }
    let scope = aws.rule_scope(&config, store.table()).await?;
    let planned = plan_file(&store, &rules, &file, scope, args.prune, Utc::now())
        .await
        .map_err(|e| match e.is_invalid_input() {
            true => Failure::Invalid(e.to_string()),
            false => Failure::Other(e.into()),
        })?;
    Ok((store, rules, planned))
}

pub async fn plan_cmd(args: PlanArgs, aws: &AwsArgs, out: &mut impl Write) -> Result<(), Failure> {
    let (_, _, planned) = make_plan(&args, aws).await?;
    let changed = has_changes(&planned);
    match args.file.output {
        Format::Json => writeln!(out, "{}", plan_json(&planned))?,
        Format::Table => {
            print_plan(&planned, out)?;
            if let Some(why) = planned.needs_yes() {
                writeln!(out, "apply will refuse without --yes: {why}")?;
            }
        }
    }
    if args.detailed_exitcode && changed {
        return Err(Failure::Changes);
    }
    Ok(())
}

/// One applied change for people. A job that was not written says that it keeps its stored definition.
fn outcome_line(what: &str, o: &Outcome, kept: &str) -> String {
    match o {
        Outcome::Created => format!("created  {what}"),
        Outcome::Updated => format!("updated  {what}"),
        Outcome::Removed => format!("removed  {what}"),
        Outcome::KeptAsleep => format!("KEPT     {what}: {kept}"),
        Outcome::Conflict(m) => format!("CONFLICT {what}: {m}{kept}"),
        Outcome::Failed(m) => format!("FAILED   {what}: {m}{kept}"),
    }
}

pub async fn apply_cmd(
    args: PlanArgs,
    aws: &AwsArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    if args.detailed_exitcode {
        return Err(Failure::Invalid(
            "--detailed-exitcode is for `fsched plan`: apply exits 0 once everything is applied"
                .to_owned(),
        ));
    }
    let (store, rules, planned) = make_plan(&args, aws).await?;
    let table = args.file.output == Format::Table;
    if table {
        print_plan(&planned, out)?;
    }
    if let Some(why) = planned.needs_yes().filter(|_| !args.yes) {
        return Err(Failure::Invalid(format!("{why}; nothing was changed")));
    }
    let applied = apply_file(&store, &rules, planned, now).await;
    match args.file.output {
        Format::Json => {
            let detail = |o: &Outcome| match o {
                Outcome::Conflict(m) | Outcome::Failed(m) => Some(m.clone()),
                _ => None,
            };
            let rows: Vec<_> = applied
                .jobs
                .iter()
                .map(|(job, o)| json!({"job": job, "status": o.word(), "detail": detail(o)}))
                .collect();
            let services: Vec<_> = applied
                .services
                .iter()
                .map(|(name, o)| json!({"service": name, "status": o.word(), "detail": detail(o)}))
                .collect();
            let rules: Vec<_> = applied
                .rules
                .iter()
                .map(|(c, r)| json!({"rule": c.to_string(), "error": r.as_ref().err().map(|e| e.to_string())}))
                .collect();
            writeln!(
                out,
                "{}",
                json!({"results": rows, "services": services, "rules": rules})
            )?;
        }
        Format::Table => {
            for (name, o) in &applied.services {
                let kept = match o {
                    Outcome::KeptAsleep => {
                        format!("it is asleep; `fsched wake {name}` first, or it stays at 0")
                    }
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "{}",
                    outcome_line(&format!("service {name}"), o, &kept)
                )?;
            }
            for (change, result) in &applied.rules {
                match result {
                    Ok(()) => writeln!(out, "done     {change}")?,
                    Err(e) => writeln!(out, "FAILED   {change}: {e}")?,
                }
            }
            if !applied.jobs.is_empty() {
                writeln!(out)?;
                for (job, o) in &applied.jobs {
                    let kept = " (it keeps its stored definition)";
                    writeln!(out, "{}", outcome_line(job.as_str(), o, kept))?;
                }
            }
        }
    }
    let (services_failed, jobs_failed, rules_failed) = applied.failures();
    if services_failed > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "{services_failed} service change(s) were not applied; apply again to retry them"
        )));
    }
    if rules_failed > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "{rules_failed} EventBridge rule change(s) failed; apply again to retry them"
        )));
    }
    if jobs_failed > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "{jobs_failed} of {} job change(s) were not applied; the others were",
            applied.jobs.len()
        )));
    }
    Ok(())
}
