//! `fsched validate`, `fsched plan` and `fsched apply`: the jobs file against what is stored.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::rules::EventBridgeRules;
use fsched_core::domain::job::{JobName, JobSpec};
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::plan::{plan, Change, Plan};
use fsched_core::domain::service::{plan_services, ServiceChange, ServiceName, ServiceSpec};
use fsched_core::domain::trigger::{desired_rules, desired_service_rules, RuleChange};
use fsched_core::ports::{JobStore, ServiceStore};
use fsched_core::service::jobs::{apply, Outcome};
use fsched_core::service::rules::{apply_rules, rule_plan, RuleScope};
use fsched_core::service::scale::{apply_services, ServiceOutcome};
use serde_json::json;

use crate::aws::AwsArgs;
use crate::output::Format;
use crate::Failure;

#[derive(clap::Args)]
pub struct FileArgs {
    /// The jobs file (YAML).
    file: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    file: FileArgs,
    /// Remove stored jobs that the file no longer declares.
    #[arg(long)]
    prune: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

/// Reads and validates the file; invalid input is exit 2 with every problem listed.
fn load(args: &FileArgs) -> Result<JobsFile, Failure> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", args.file.display())))?;
    JobsFile::parse(&text).map_err(|diagnostics| {
        let file = args.file.display();
        let mut message: Vec<String> = diagnostics.iter().map(|d| format!("{file}:{d}")).collect();
        message.push(format!(
            "{file}: {} problem(s); nothing was changed",
            diagnostics.len()
        ));
        Failure::Invalid(message.join("\n"))
    })
}

pub fn validate(args: FileArgs, out: &mut impl Write) -> Result<(), Failure> {
    let file = load(&args)?;
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

/// The service and rule changes of a plan, as JSON lines in words.
fn others_json(planned: &Planned) -> serde_json::Value {
    json!({
        "services": planned.services.iter().map(|c| c.to_string().trim().to_owned()).collect::<Vec<_>>(),
        "rules": planned.rules.as_ref().map(|(_, c)| c.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
    })
}

fn print_plan(
    p: &Plan,
    format: Format,
    others: serde_json::Value,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if format == Format::Json {
        let changes: Vec<_> = p
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
        writeln!(
            out,
            "{}",
            json!({"changes": changes, "unchanged": p.unchanged, "services": others["services"], "rules": others["rules"]})
        )?;
        return Ok(());
    }
    let (mut add, mut change, mut remove) = (0, 0, 0);
    for c in &p.changes {
        match c {
            Change::Add { name, spec } => {
                add += 1;
                writeln!(
                    out,
                    "+ {name}  (new: {} in {})",
                    spec.triggers(),
                    spec.timezone
                )?;
            }
            Change::Update {
                current, fields, ..
            } => {
                change += 1;
                writeln!(out, "~ {}", current.name)?;
                for f in fields {
                    writeln!(out, "    {}: {} -> {}", f.field, f.from, f.to)?;
                }
            }
            Change::Remove { current } => {
                remove += 1;
                writeln!(
                    out,
                    "- {}  (not in the file; removed by --prune)",
                    current.name
                )?;
            }
            Change::Keep { current } => {
                writeln!(
                    out,
                    "  {}  (not in the file; kept, --prune would remove it)",
                    current.name
                )?;
            }
        }
    }
    if p.is_empty() {
        writeln!(out, "No changes: {} job(s) up to date.", p.unchanged.len())?;
    } else {
        writeln!(
            out,
            "Plan: {add} to add, {change} to change, {remove} to remove, {} unchanged.",
            p.unchanged.len()
        )?;
    }
    Ok(())
}

/// The jobs' plan, and the `on_event` rule changes that go with it (`None`: the stack's bus and trigger queue are
/// not known, and no job needs a rule).
struct Planned {
    jobs: Plan,
    services: Vec<ServiceChange>,
    store: DynamoStore,
    rules: Option<(RuleScope, Vec<RuleChange>)>,
    rules_port: EventBridgeRules,
}

async fn make_plan(args: &PlanArgs) -> Result<Planned, Failure> {
    let file = load(&args.file)?;
    let config = args.aws.config().await;
    let store = args.aws.store_with(&config).await?;
    let stored = store.list_jobs().await.context("reading the stored jobs")?;
    let jobs = plan(&file.jobs, &stored, args.prune);
    let stored_services = store
        .list_services()
        .await
        .context("reading the stored services")?;
    let services = plan_services(&file.services, &stored_services, args.prune);
    // The rules wanted once applied: the file's jobs, and stored jobs that stay.
    let kept: Vec<(&JobName, &JobSpec)> = jobs
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Keep { current } => Some((&current.name, &current.spec)),
            _ => None,
        })
        .collect();
    let wanted = file.jobs.iter().chain(kept);
    let rules_port = EventBridgeRules::new(aws_sdk_eventbridge::Client::new(&config));
    let rules = match args.aws.rule_scope(&config, store.table()).await? {
        Some(scope) => {
            let kept_services: Vec<(&ServiceName, &ServiceSpec)> = services
                .iter()
                .filter_map(|c| match c {
                    ServiceChange::Keep { current } => Some((&current.name, &current.spec)),
                    _ => None,
                })
                .collect();
            let mut desired = desired_rules(wanted, &scope.stack, &scope.buses[0]);
            desired.extend(desired_service_rules(
                file.services.iter().chain(kept_services),
                &scope.stack,
                &scope.buses[0],
            ));
            let changes = rule_plan(&rules_port, &scope, &desired)
                .await
                .context("reading the on_event rules")?;
            Some((scope, changes))
        }
        None if file.jobs.values().any(|s| s.on_event.is_some())
            || file.services.values().any(|s| s.wake_on.is_some()) =>
        {
            return Err(Failure::Invalid(
                "jobs with on_event (and services with wake_on) need the stack's event bus and trigger queue: pass \
                 --stack (FSCHED_STACK), or --bus and --trigger-queue (FSCHED_EVENT_BUS, FSCHED_TRIGGER_QUEUE)"
                    .to_owned(),
            ))
        }
        None => None,
    };
    Ok(Planned {
        jobs,
        services,
        store,
        rules,
        rules_port,
    })
}

fn print_rules(changes: &[RuleChange], out: &mut impl Write) -> anyhow::Result<()> {
    for c in changes {
        writeln!(out, "{c}")?;
    }
    if !changes.is_empty() {
        writeln!(out, "Rules: {} on_event rule change(s).", changes.len())?;
    }
    Ok(())
}

fn print_services(changes: &[ServiceChange], out: &mut impl Write) -> anyhow::Result<()> {
    for c in changes {
        writeln!(out, "{c}")?;
    }
    Ok(())
}

pub async fn plan_cmd(args: PlanArgs, out: &mut impl Write) -> Result<(), Failure> {
    let planned = make_plan(&args).await?;
    print_plan(&planned.jobs, args.file.output, others_json(&planned), out)?;
    if args.file.output == Format::Table {
        print_services(&planned.services, out)?;
    }
    if let (Some((_, changes)), Format::Table) = (&planned.rules, args.file.output) {
        print_rules(changes, out)?;
    }
    Ok(())
}

pub async fn apply_cmd(
    args: PlanArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let planned = make_plan(&args).await?;
    let p = &planned.jobs;
    if args.file.output == Format::Table {
        print_plan(p, Format::Table, json!({}), out)?;
        print_services(&planned.services, out)?;
        if let Some((_, changes)) = &planned.rules {
            print_rules(changes, out)?;
        }
    }
    let service_results = apply_services(&planned.store, &planned.services, now).await;
    let services_failed = service_results
        .iter()
        .filter(|(_, o)| matches!(o, ServiceOutcome::Failed(_)))
        .count();
    if args.file.output == Format::Table {
        for (name, o) in &service_results {
            let line = match o {
                ServiceOutcome::Created => format!("created  service {name}"),
                ServiceOutcome::Updated => format!("updated  service {name}"),
                ServiceOutcome::Removed => format!("removed  service {name}"),
                ServiceOutcome::KeptAsleep => format!(
                    "KEPT     service {name}: it is asleep; `fsched wake {name}` first, or it stays at 0"
                ),
                ServiceOutcome::Failed(m) => format!("FAILED   service {name}: {m}"),
            };
            writeln!(out, "{line}").context("writing to stdout")?;
        }
    }
    let results = apply(&planned.store, p, now).await;
    let failed: Vec<_> = results.iter().filter(|(_, o)| !o.is_ok()).collect();
    let rule_results = match planned.rules {
        Some((scope, changes)) => apply_rules(&planned.rules_port, &scope, changes).await,
        None => Vec::new(),
    };
    let rules_failed = rule_results.iter().filter(|(_, r)| r.is_err()).count();
    if args.file.output == Format::Table {
        for (change, result) in &rule_results {
            match result {
                Ok(()) => writeln!(out, "done     {change}"),
                Err(e) => writeln!(out, "FAILED   {change}: {e}"),
            }
            .context("writing to stdout")?;
        }
    }
    match args.file.output {
        Format::Json => {
            let rows: Vec<_> = results
                .iter()
                .map(|(job, o)| {
                    let (status, detail) = match o {
                        Outcome::Created => ("created", None),
                        Outcome::Updated => ("updated", None),
                        Outcome::Removed => ("removed", None),
                        Outcome::Conflict(m) => ("conflict", Some(m)),
                        Outcome::Failed(m) => ("failed", Some(m)),
                    };
                    json!({"job": job, "status": status, "detail": detail})
                })
                .collect();
            let services: Vec<_> = service_results
                .iter()
                .map(|(name, o)| json!({"service": name, "status": format!("{o:?}")}))
                .collect();
            let rules: Vec<_> = rule_results
                .iter()
                .map(|(c, r)| json!({"rule": c.to_string(), "error": r.as_ref().err().map(|e| e.to_string())}))
                .collect();
            writeln!(
                out,
                "{}",
                json!({"results": rows, "services": services, "rules": rules})
            )
            .context("writing to stdout")?;
        }
        Format::Table if !results.is_empty() => {
            writeln!(out).context("writing to stdout")?;
            for (job, o) in &results {
                let line = match o {
                    Outcome::Created => format!("created  {job}"),
                    Outcome::Updated => format!("updated  {job}"),
                    Outcome::Removed => format!("removed  {job}"),
                    Outcome::Conflict(m) => {
                        format!("CONFLICT {job}: {m} (it keeps its stored definition)")
                    }
                    Outcome::Failed(m) => {
                        format!("FAILED   {job}: {m} (it keeps its stored definition)")
                    }
                };
                writeln!(out, "{line}").context("writing to stdout")?;
            }
        }
        Format::Table => {}
    }
    if services_failed > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "{services_failed} service change(s) were not applied; apply again to retry them"
        )));
    }
    if rules_failed > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "{rules_failed} on_event rule change(s) failed; apply again to retry them"
        )));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Other(anyhow::anyhow!(
            "{} of {} job change(s) were not applied; the others were",
            failed.len(),
            results.len()
        )))
    }
}
