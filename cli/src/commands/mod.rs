//! One module per group of commands.

pub mod backfill;
pub mod cost;
pub mod doctor;
pub mod jobs;
pub mod jobs_file;
pub mod logs;
pub mod next;
mod plan_view;
pub mod run;
pub mod runs;
pub mod services;
