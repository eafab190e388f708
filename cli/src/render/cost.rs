//! The `cost` summary: runs, priced runs, billed time and dollars per job, and the total.

use std::collections::BTreeMap;

use chrono::Duration;
use fsched_core::domain::run::Run;

use super::{dollars, span};
use crate::output::table;

/// Cost per job over some runs, and in total.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct JobCost {
    pub runs: usize,
    /// Runs whose task stopped with a known size: the ones with a cost.
    pub priced: usize,
    pub billed_seconds: u64,
    pub usd: f64,
}

pub fn costs(runs: &[Run]) -> BTreeMap<String, JobCost> {
    let mut by_job: BTreeMap<String, JobCost> = BTreeMap::new();
    for r in runs {
        let entry = by_job.entry(r.id.job().to_string()).or_default();
        entry.runs += 1;
        if let Some(c) = &r.cost {
            entry.priced += 1;
            entry.billed_seconds += c.billed_seconds;
            entry.usd += c.usd;
        }
    }
    by_job
}

pub fn cost_table(by_job: &BTreeMap<String, JobCost>) -> String {
    let mut t = table(&["JOB", "RUNS", "PRICED", "BILLED", "COST"]);
    let mut total = JobCost::default();
    for (job, c) in by_job {
        t.add_row(vec![
            job.clone(),
            c.runs.to_string(),
            c.priced.to_string(),
            span(Some(Duration::seconds(c.billed_seconds as i64))),
            if c.priced == 0 {
                "-".to_owned()
            } else {
                dollars(c.usd)
            },
        ]);
        total.runs += c.runs;
        total.priced += c.priced;
        total.billed_seconds += c.billed_seconds;
        total.usd += c.usd;
    }
    t.add_row(vec![
        "TOTAL".to_owned(),
        total.runs.to_string(),
        total.priced.to_string(),
        span(Some(Duration::seconds(total.billed_seconds as i64))),
        dollars(total.usd),
    ]);
    t.to_string()
}
