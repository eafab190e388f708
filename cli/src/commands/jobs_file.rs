//! `fsched validate`, `fsched plan` and `fsched apply`: the jobs file against what is stored.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::plan::{plan, Change, Plan};
use fsched_core::ports::Store;
use fsched_core::service::jobs::{apply, Outcome};
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

fn print_plan(p: &Plan, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
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
            json!({"changes": changes, "unchanged": p.unchanged})
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

async fn make_plan(args: &PlanArgs) -> Result<(Plan, impl Store), Failure> {
    let file = load(&args.file)?;
    let store = args.aws.store().await?;
    let stored = store.list_jobs().await.context("reading the stored jobs")?;
    Ok((plan(&file.jobs, &stored, args.prune), store))
}

pub async fn plan_cmd(args: PlanArgs, out: &mut impl Write) -> Result<(), Failure> {
    let (p, _) = make_plan(&args).await?;
    print_plan(&p, args.file.output, out)?;
    Ok(())
}

pub async fn apply_cmd(
    args: PlanArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (p, store) = make_plan(&args).await?;
    if args.file.output == Format::Table {
        print_plan(&p, Format::Table, out)?;
    }
    let results = apply(&store, &p, now).await;
    let failed: Vec<_> = results.iter().filter(|(_, o)| !o.is_ok()).collect();
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
            writeln!(out, "{}", json!({"results": rows})).context("writing to stdout")?;
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
