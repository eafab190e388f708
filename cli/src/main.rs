//! The `fsched` command line: parses arguments, runs one command, maps its outcome to an exit code.
//!
//! Exit codes: 0 success; 1 failure (AWS unreachable, conflict, ...); 2 invalid input (arguments, expressions,
//! jobs files); 3 `plan --detailed-exitcode` found changes.

mod aws;
mod commands;
mod contract;
mod output;
mod render;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fsched",
    version,
    about = "Serverless scheduling for ECS Fargate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where the stack is: accepted before or after the subcommand (`fsched --stack prod jobs`).
    #[command(flatten)]
    aws: aws::AwsArgs,
    /// Times in each job's own zone (`job`, the default), `utc`, `local`, or an IANA zone like Europe/Berlin.
    #[arg(long, global = true, default_value = "job", env = "FSCHED_TZ")]
    tz: output::Tz,
    /// `table` for people (fitted to the terminal), `wide` (every column, ids in full), or `json` / `yaml` for
    /// scripts: versioned documents, docs/output.md.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t)]
    output: output::Format,
}

#[derive(Subcommand)]
enum Command {
    /// Print the next fire times of a schedule expression.
    #[command(
        after_help = "Examples:\n  fsched next 'cron(0 2 * * ? *)' --tz Europe/Berlin\n  fsched next 'rate(15 minutes)' --count 3"
    )]
    Next(commands::next::Args),
    /// Check a jobs file; every problem is reported with its line and column.
    #[command(
        after_help = "Examples:\n  fsched validate jobs.yaml\n  cat jobs.yaml | fsched validate -\n  fsched validate jobs.yaml -o json     # problems as data, exit 2 when invalid"
    )]
    Validate(commands::jobs_file::FileArgs),
    /// Show what `apply` would change, field by field.
    #[command(
        after_help = "Examples:\n  fsched --stack prod plan jobs.yaml\n  fsched plan jobs.yaml --prune\n  fsched plan jobs.yaml --detailed-exitcode   # CI drift check: exit 3 when something would change"
    )]
    Plan(commands::jobs_file::PlanArgs),
    /// Write the jobs file's definitions to the table.
    #[command(
        after_help = "Examples:\n  fsched --stack prod apply jobs.yaml\n  fsched apply jobs.yaml --prune --yes"
    )]
    Apply(commands::jobs_file::PlanArgs),
    /// List the stored jobs with their next fire and last run.
    #[command(
        after_help = "Examples:\n  fsched jobs\n  fsched jobs -o wide            # with each last run's id\n  fsched jobs --tz utc -o json"
    )]
    Jobs(commands::jobs::ListArgs),
    /// Show one stored job in full: its definition, next fires in its zone, health, alerts and latest runs.
    #[command(
        after_help = "Examples:\n  fsched job nightly-etl\n  fsched job nightly-etl -o json"
    )]
    Job(commands::jobs::DescribeArgs),
    /// Stop a job from firing until it is resumed.
    #[command(
        after_help = "Examples:\n  fsched pause nightly-etl\n  fsched pause nightly-etl -o json"
    )]
    Pause(commands::jobs::PauseArgs),
    /// Let a paused job fire again, from now.
    #[command(
        after_help = "Examples:\n  fsched resume nightly-etl\n  fsched resume nightly-etl --replay   # also run what was missed, within catch_up"
    )]
    Resume(commands::jobs::ResumeArgs),
    /// List recorded runs, newest first: when each was due and launched, its status and why.
    #[command(
        after_help = "Examples:\n  fsched runs --since 24h\n  fsched runs --job nightly-etl --since 7d\n  fsched runs --status failed -o json"
    )]
    Runs(commands::runs::Args),
    /// Run a job now (a "Run Job" command to the stack's bus); print the run's id; --wait follows it to the end.
    #[command(
        after_help = "Examples:\n  fsched run nightly-etl --wait\n  fsched run daily-report --env FORMAT=csv"
    )]
    Run(commands::run::Args),
    /// Run a job's past scheduled times that have no run (a range), at most --max-parallel at once.
    #[command(
        after_help = "Examples:\n  fsched backfill nightly-etl --from 2026-11-20 --to 2026-11-27 --dry-run\n  fsched backfill crm-sync --from '2026-11-28 08:00' --to '2026-11-28 12:00' --max-parallel 4"
    )]
    Backfill(commands::backfill::Args),
    /// Show one run in full: its record, the task's timeline, containers and exit codes, cost.
    #[command(
        after_help = "Examples:\n  fsched show nightly-etl/20261129T010000Z\n  fsched show 'import-upload/20261129T075500Z-ef98afd67…'   # the short form a table prints\n  fsched show nightly-etl/20261129T010000Z --tz utc -o yaml"
    )]
    Show(commands::runs::ShowArgs),
    /// Print a run's container output from CloudWatch Logs; --follow keeps reading until it ends.
    #[command(
        after_help = "Examples:\n  fsched logs nightly-etl/20261129T010000Z\n  fsched logs nightly-etl/20261129T010000Z --container etl --since 10m\n  fsched logs crm-sync/20261129T113000Z --follow"
    )]
    Logs(commands::logs::Args),
    /// What runs cost, per job and in total.
    #[command(
        after_help = "Examples:\n  fsched cost --since 30d\n  fsched cost --since 2026-11-01 --until 2026-12-01 -o json"
    )]
    Cost(commands::cost::Args),
    /// List the declared services: when each is awake, its state, saved scale and next transition.
    #[command(after_help = "Examples:\n  fsched services\n  fsched services --tz local -o wide")]
    Services(commands::services::ListArgs),
    /// Wake a service now ("Wake Service" command); --for keeps it awake at least that long.
    #[command(
        after_help = "Examples:\n  fsched wake staging-api --for 2h\n  fsched wake staging-api --wait -o json"
    )]
    Wake(commands::services::WakeArgs),
    /// Put a service to sleep now ("Sleep Service" command), until its next period boundary.
    #[command(
        after_help = "Examples:\n  fsched sleep staging-api\n  fsched sleep staging-api --wait"
    )]
    Sleep(commands::services::SleepArgs),
    /// The estimated cost avoided while services slept.
    #[command(
        after_help = "Examples:\n  fsched savings --since 30d\n  fsched savings --since 2026-11-01 -o yaml"
    )]
    Savings(commands::services::SavingsArgs),
    /// Serve a read-only dashboard on 127.0.0.1: jobs, a timeline of runs, each run with its log tail, services,
    /// cost.
    #[command(
        after_help = "Examples:\n  fsched --stack prod ui --open\n  fsched ui --port 8080 --as-of 2026-11-29T06:00:00Z"
    )]
    Ui(ui::Args),
    /// Print a shell completion script: `fsched completion bash > /etc/bash_completion.d/fsched`, or zsh, fish,
    /// powershell, elvish.
    Completion { shell: clap_complete::Shell },
    /// Print the manual page (roff): `fsched man | man -l -`, or `fsched man > /usr/local/share/man/man1/fsched.1`;
    /// `fsched man run` for one command's page (`fsched-run.1`).
    Man {
        /// The command whose page to print (default: fsched's own, listing every command).
        command: Option<String>,
    },
    /// Check a deployed stack (--stack): its resources, failure queues, alarms, table settings and stored jobs.
    #[command(
        after_help = "Examples:\n  fsched doctor --stack prod\n  fsched doctor --stack prod -o json | jq '.findings[] | select(.verdict != \"ok\")'"
    )]
    Doctor(commands::doctor::Args),
}

/// A command's failure, with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// The user's input is invalid (exit 2).
    Invalid(String),
    /// Anything else (exit 1).
    Other(anyhow::Error),
    /// `plan --detailed-exitcode` found changes (exit 3); the plan itself was printed.
    Changes,
}

impl Failure {
    /// What the failure says, in words.
    pub fn message(&self) -> String {
        match self {
            Failure::Invalid(why) => why.clone(),
            Failure::Other(why) => format!("{why:#}"),
            Failure::Changes => "the plan has changes".to_owned(),
        }
    }
}

/// How the command was called is at fault (a setting it needs is missing, a name it looks up does not exist): an
/// error that helpers deep in a command can return as `anyhow::Error` and that still exits 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<Usage>() {
            Some(usage) => Failure::Invalid(usage.0.clone()),
            None => Failure::Other(e),
        }
    }
}

/// The stored job `name`, or "no job `x`" (exit 2) with the nearest stored name: every lookup of a job by name.
pub async fn stored_job<S: fsched_core::ports::JobStore>(
    store: &S,
    name: &fsched_core::domain::job::JobName,
) -> Result<fsched_core::domain::job::Job, Failure> {
    use anyhow::Context;
    match store
        .get_job(name)
        .await
        .with_context(|| format!("reading job `{name}`"))?
    {
        Some(job) => Ok(job),
        None => Err(unknown_job(store, name.as_str()).await),
    }
}

/// "No job `x`", with the stored job nearest to it when one is close: every lookup of a job by name says the same.
pub async fn unknown_job<S: fsched_core::ports::JobStore>(store: &S, name: &str) -> Failure {
    let jobs = store.list_jobs().await.unwrap_or_default();
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    let hint = match fsched_core::domain::suggest::nearest(name, names) {
        Some(near) => format!(" (did you mean `{near}`?)"),
        None => " (`fsched jobs` lists them)".to_owned(),
    };
    Failure::Invalid(format!("no job `{name}` is stored{hint}"))
}

/// Output that cannot be written (a closed pipe, a full disk) fails the command.
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Other(anyhow::Error::new(e).context("writing to stdout"))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let now = chrono::Utc::now();
    let (tz, o) = (&cli.tz, cli.output);
    let result = match cli.command {
        Command::Next(args) => commands::next::run(args, tz, o, now, &mut out),
        Command::Validate(args) => commands::jobs_file::validate(args, o, now, &mut out),
        Command::Plan(args) => commands::jobs_file::plan_cmd(args, &cli.aws, o, &mut out).await,
        Command::Apply(args) => {
            commands::jobs_file::apply_cmd(args, &cli.aws, o, now, &mut out).await
        }
        Command::Jobs(args) => commands::jobs::list(args, &cli.aws, tz, o, &mut out).await,
        Command::Job(args) => commands::jobs::describe(args, &cli.aws, tz, o, &mut out).await,
        Command::Pause(args) => commands::jobs::pause_cmd(args, &cli.aws, o, &mut out).await,
        Command::Resume(args) => commands::jobs::resume_cmd(args, &cli.aws, o, now, &mut out).await,
        Command::Runs(args) => commands::runs::run(args, &cli.aws, tz, o, now, &mut out).await,
        Command::Run(args) => commands::run::run(args, &cli.aws, o, now, &mut out).await,
        Command::Backfill(args) => commands::backfill::run(args, &cli.aws, o, now, &mut out).await,
        Command::Show(args) => commands::runs::show_cmd(args, &cli.aws, tz, o, &mut out).await,
        Command::Logs(args) => commands::logs::run(args, &cli.aws, o, now, &mut out).await,
        Command::Cost(args) => commands::cost::run(args, &cli.aws, tz, o, now, &mut out).await,
        Command::Services(args) => commands::services::list(args, &cli.aws, tz, o, &mut out).await,
        Command::Wake(args) => commands::services::wake(args, &cli.aws, o, now, &mut out).await,
        Command::Sleep(args) => commands::services::sleep(args, &cli.aws, o, now, &mut out).await,
        Command::Completion { .. } | Command::Man { .. } | Command::Ui(_)
            if o != output::Format::Table =>
        {
            Err(Failure::Invalid(format!(
                "--output {}: this command prints one form only (leave --output out)",
                clap::ValueEnum::to_possible_value(&o)
                    .map_or_else(String::new, |v| v.get_name().to_owned())
            )))
        }
        Command::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "fsched", &mut out);
            Ok(())
        }
        Command::Man { command } => man(command.as_deref(), &mut out),
        Command::Ui(args) => ui::run(args, &cli.aws, &mut out).await,
        Command::Doctor(args) => commands::doctor::run(args, &cli.aws, o, now, &mut out).await,
        Command::Savings(args) => {
            commands::services::savings_cmd(args, &cli.aws, o, now, &mut out).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(message)) => {
            eprintln!("fsched: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("fsched: {e:#}");
            ExitCode::FAILURE
        }
        Err(Failure::Changes) => ExitCode::from(3),
    }
}

/// The roff manual page of fsched, or of one of its commands.
fn man(command: Option<&str>, out: &mut impl std::io::Write) -> Result<(), Failure> {
    use anyhow::Context as _;
    use clap::CommandFactory;
    let root = Cli::command();
    let (page, title) = match command {
        None => (root, "fsched".to_owned()),
        Some(name) => {
            let Some(sub) = root.find_subcommand(name).cloned() else {
                let names: Vec<String> = root
                    .get_subcommands()
                    .map(|c| c.get_name().to_owned())
                    .collect();
                return Err(Failure::Invalid(format!(
                    "no command `{name}`: fsched has {}",
                    names.join(", ")
                )));
            };
            let title = format!("fsched-{name}");
            let page = sub
                .name(title.clone())
                .bin_name(format!("fsched {name}"))
                .version(env!("CARGO_PKG_VERSION"));
            (page, title)
        }
    };
    clap_mangen::Man::new(page)
        .title(title)
        .render(out)
        .context("writing the manual page")?;
    Ok(())
}
