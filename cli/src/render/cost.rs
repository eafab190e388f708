//! The `cost` summary: runs, priced runs, billed time and dollars per job, and the total.

use std::collections::BTreeMap;

use chrono::Duration;
use fsched_core::domain::rollup::{DayTally, Tally};

use super::{dollars, span};
use crate::output::table;

/// Each job's tally over some days.
pub fn by_job(days: &[DayTally]) -> BTreeMap<String, Tally> {
    let mut by_job: BTreeMap<String, Tally> = BTreeMap::new();
    for day in days {
        for (job, tally) in &day.jobs {
            by_job.entry(job.clone()).or_default().add(tally);
        }
    }
    by_job
}

pub fn cost_table(by_job: &BTreeMap<String, Tally>) -> String {
    let mut t = table(&["JOB", "RUNS", "PRICED", "BILLED", "COST"]);
    let mut total = Tally::default();
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
        total.add(c);
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
