//! The `fsched` command line: parses arguments, runs one command, maps its outcome to an exit code.
//!
//! Exit codes: 0 success; 1 failure (AWS unreachable, conflict, ...); 2 invalid input (arguments, expressions,
//! jobs files).

mod commands;

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
}

#[derive(Subcommand)]
enum Command {
    /// Print the next fire times of a schedule expression.
    Next(commands::next::Args),
}

/// A command's failure, with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// The user's input is invalid (exit 2).
    Invalid(String),
    /// Anything else (exit 1).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Next(args) => commands::next::run(args, chrono::Utc::now(), &mut out),
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
    }
}
