//! What ties jobs of one file together, checked once every job is read: each job's `pool` is one of the file's
//! `pools:` (its size filled in), each `after` names other jobs of the file without a loop, and each job named in
//! an `after` learns which jobs its successes feed.

use std::collections::{BTreeMap, BTreeSet};

use marked_yaml::Span;

use super::reader::Reader;
use crate::domain::job::{JobName, JobSpec, PoolName};
use crate::domain::suggest::nearest;

/// Where a job's `pool` and `after` were written, for the problems found here.
#[derive(Default)]
pub(super) struct Spans {
    pub(super) pool: Option<Span>,
    pub(super) after: Option<Span>,
}

/// `names`: every job the file declares, valid or not (an `after` naming an invalid job is that job's problem).
pub(super) fn link(
    r: &mut Reader,
    jobs: &mut BTreeMap<JobName, JobSpec>,
    pools: &BTreeMap<PoolName, u32>,
    spans: &BTreeMap<JobName, Spans>,
    names: &[String],
) {
    let mut feeds: BTreeMap<JobName, Vec<JobName>> = BTreeMap::new();
    for (name, spec) in jobs.iter_mut() {
        r.job = Some(name.to_string());
        let at = spans.get(name);
        if let Some(pool) = spec.together.pool.as_mut() {
            match pools.get(&pool.name) {
                Some(size) => pool.size = *size,
                None => {
                    let declared: Vec<String> = pools.keys().map(|p| p.to_string()).collect();
                    let hint =
                        match nearest(pool.name.as_str(), declared.iter().map(String::as_str)) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None if declared.is_empty() => {
                                "declare it at the top of the file, like `pools: {warehouse: 3}`"
                                    .to_owned()
                            }
                            None => format!("declared: {}", declared.join(", ")),
                        };
                    let span = at.and_then(|s| s.pool).unwrap_or_else(Span::new_blank);
                    r.error(
                        &span,
                        format!("pool: `{}` is not in `pools:`; {hint}", pool.name),
                    );
                }
            }
        }
        let Some(after) = &spec.together.after else {
            continue;
        };
        let span = at.and_then(|s| s.after).unwrap_or_else(Span::new_blank);
        for upstream in &after.jobs {
            if upstream == name {
                r.error(&span, "after: a job cannot wait for itself");
            } else if !names.iter().any(|n| n == upstream.as_str()) {
                let hint = nearest(upstream.as_str(), names.iter().map(String::as_str))
                    .map(|n| format!(": did you mean `{n}`?"))
                    .unwrap_or_default();
                r.error(
                    &span,
                    format!("after: no job `{upstream}` in this file{hint}"),
                );
            } else {
                feeds
                    .entry(upstream.clone())
                    .or_default()
                    .push(name.clone());
            }
        }
    }
    r.job = None;
    if let Some(cycle) = loop_in(jobs) {
        r.job = cycle.first().map(|n| n.to_string());
        let span = cycle
            .first()
            .and_then(|n| spans.get(n))
            .and_then(|s| s.after)
            .unwrap_or_else(Span::new_blank);
        let path: Vec<String> = cycle.iter().map(|n| n.to_string()).collect();
        r.error(
            &span,
            format!(
                "after: {} wait for each other, so none would ever run",
                path.join(" -> ")
            ),
        );
        r.job = None;
    }
    for (upstream, downstream) in feeds {
        if let Some(spec) = jobs.get_mut(&upstream) {
            spec.together.feeds = downstream;
        }
    }
}

/// A loop of `after`s (each job waiting for the next, the last for the first), if there is one.
fn loop_in(jobs: &BTreeMap<JobName, JobSpec>) -> Option<Vec<JobName>> {
    fn visit(
        job: &JobName,
        jobs: &BTreeMap<JobName, JobSpec>,
        path: &mut Vec<JobName>,
        done: &mut BTreeSet<JobName>,
    ) -> Option<Vec<JobName>> {
        if let Some(i) = path.iter().position(|p| p == job) {
            let mut cycle = path[i..].to_vec();
            cycle.push(job.clone());
            return Some(cycle);
        }
        if done.contains(job) {
            return None;
        }
        path.push(job.clone());
        let upstream = jobs.get(job).and_then(|s| s.together.after.as_ref());
        for next in upstream.map(|a| a.jobs.as_slice()).unwrap_or_default() {
            if let Some(c) = visit(next, jobs, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(job.clone());
        None
    }
    let mut done = BTreeSet::new();
    jobs.keys()
        .find_map(|job| visit(job, jobs, &mut Vec::new(), &mut done))
}
