//! One module per group of commands.

pub mod doctor;
pub mod jobs;
pub mod jobs_file;
pub mod logs;
pub mod next;
pub mod run;
pub mod runs;
pub mod services;
