//! `fsched validate`, `fsched plan` and `fsched apply`: the jobs file against what is stored.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::rules::EventBridgeRules;
use fsched_core::domain::job::never_fires;
use fsched_core::domain::jobs_file::{JobsFile, MAX_FILE_BYTES};
use fsched_core::domain::trigger::stack_tag;
use fsched_core::service::apply::{apply_file, plan_file, FilePlan, Outcome};
use fsched_core::service::scope::scope_problems;
use serde_json::json;

use super::plan_view::{has_changes, plan_json, print_plan};

use crate::aws::AwsArgs;
use crate::output::{emit, Format};
use crate::Failure;

#[derive(clap::Args)]
pub struct FileArgs {
    /// The jobs file (YAML); `-` reads standard input.
    file: PathBuf,
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

/// Reads and validates the file; invalid input is exit 2 with every problem listed (and, for scripts, a
/// `Validation` document of them on standard output).
fn load(args: &FileArgs, format: Format) -> Result<JobsFile, Failure> {
    let bytes = read_limited(&args.file)
        .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", args.file.display())))?;
    let file = args.file.display().to_string();
    let text = String::from_utf8_lossy(&bytes);
    JobsFile::read(&bytes).map_err(|diagnostics| {
        if format.is_data() {
            // Scripts get every problem on standard output, as data; the exit code still says invalid.
            let problems: Vec<_> = diagnostics
                .iter()
                .map(|d| {
                    json!({"file": file, "line": d.line, "column": d.column, "job": d.job,
                           "key": key_at(&text, d.line, d.job.as_deref()), "message": d.message})
                })
                .collect();
            let body = json!({"file": file, "valid": false, "jobs": [], "services": [],
                              "problems": problems, "warnings": []});
            let _ = emit(&mut std::io::stdout().lock(), format, "Validation", body);
        }
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

/// The YAML key on a problem's line (`memory` for `    memory: 2 GB`), or `None` when the line is not a key's or
/// is the job's own (a problem with the job as a whole).
fn key_at(text: &str, line: usize, job: Option<&str>) -> Option<String> {
    let source = text.lines().nth(line.checked_sub(1)?)?.trim_start();
    let source = source.strip_prefix("- ").unwrap_or(source);
    let (key, _) = source.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    (plain && Some(key) != job).then(|| key.to_owned())
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

/// Warnings (on standard error, and returned for a document) for jobs that are valid but will never fire after
/// `now`.
fn warn_silent(file: &JobsFile, now: DateTime<Utc>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, spec) in &file.jobs {
        if never_fires(spec, now) {
            let schedule = spec.schedule.as_deref().unwrap_or_default();
            let warning = format!(
                "job `{name}`: `{schedule}` in {} never fires after {} (valid, but it will never run on its own)",
                spec.timezone,
                now.format("%Y-%m-%d %H:%M:%SZ")
            );
            eprintln!("warning: {warning}");
            warnings.push(warning);
        }
    }
    warnings
}

pub fn validate(
    args: FileArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let file = load(&args, format)?;
    let warnings = warn_silent(&file, now);
    if format.is_data() {
        let body = json!({
            "file": args.file.display().to_string(), "valid": true,
            "jobs": file.jobs.keys().collect::<Vec<_>>(), "services": file.services.keys().collect::<Vec<_>>(),
            "problems": [], "warnings": warnings,
        });
        emit(out, format, "Validation", body)
    } else {
        writeln!(
            out,
            "{}: valid, {} job(s)",
            args.file.display(),
            file.jobs.len()
        )
    }
    .context("writing to stdout")?;
    Ok(())
}

/// The stored state, the rules port and the plan of the file against them.
async fn make_plan(
    args: &PlanArgs,
    aws: &AwsArgs,
    format: Format,
) -> Result<(DynamoStore, EventBridgeRules, FilePlan), Failure> {
    let file = load(&args.file, format)?;
    let config = aws.config().await?;
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

pub async fn plan_cmd(
    args: PlanArgs,
    aws: &AwsArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (_, _, planned) = make_plan(&args, aws, format).await?;
    let changed = has_changes(&planned);
    match format {
        Format::Json | Format::Yaml => emit(out, format, "Plan", plan_json(&planned))?,
        Format::Table | Format::Wide => {
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
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    if args.detailed_exitcode {
        return Err(Failure::Invalid(
            "--detailed-exitcode is for `fsched plan`: apply exits 0 once everything is applied"
                .to_owned(),
        ));
    }
    let (store, rules, planned) = make_plan(&args, aws, format).await?;
    if !format.is_data() {
        print_plan(&planned, out)?;
    }
    if let Some(why) = planned.needs_yes().filter(|_| !args.yes) {
        return Err(Failure::Invalid(format!("{why}; nothing was changed")));
    }
    let applied = apply_file(&store, &rules, planned, now).await;
    match format {
        Format::Json | Format::Yaml => {
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
                .map(|(c, r)| json!({"rule": c.to_string(), "status": if r.is_ok() { "done" } else { "failed" },
                                     "detail": r.as_ref().err().map(|e| e.to_string())}))
                .collect();
            let body = json!({"jobs": rows, "services": services, "rules": rules});
            emit(out, format, "ApplyResult", body)?;
        }
        Format::Table | Format::Wide => {
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
