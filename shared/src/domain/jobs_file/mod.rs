//! The jobs file: `defaults` merged into each of `jobs`, read from YAML with every problem reported at once, each
//! with its line and column. Pure: the caller reads the file and passes its text.
//!
//! - `reader`: typed reads of YAML nodes that record problems instead of stopping;
//! - `partial`: a job or `defaults` as written, and the merge of a job over `defaults`;
//! - `fields`: the structured keys (network, containers, tags, prices, event patterns);
//! - `finish`: whole-job checks and the spec they build; `link`: what ties jobs together (pools, `after`);
//! - `batch`: retry, jitter, limits, pools, parallel and `after`;
//! - `services`: the `services:` section; `fargate`: Fargate's sizes and task definition names.

mod alerts;
mod batch;
mod fargate;
mod fields;
mod finish;
mod limits;
mod link;
mod partial;
mod reader;
mod services;

use std::collections::BTreeMap;

use marked_yaml::LoaderOptions;

use self::finish::finish;
pub use self::limits::{MAX_DEPTH, MAX_FILE_BYTES};
use self::partial::{read_partial, Partial, JOB_ONLY_KEYS, SHARED_KEYS};
pub use self::reader::Diagnostic;
use self::reader::Reader;
use super::job::{JobName, JobSpec};
use super::schedule::parse_zone;
use super::service::{ServiceName, ServiceSpec};

/// A valid jobs file: every job's definition with defaults merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsFile {
    pub jobs: BTreeMap<JobName, JobSpec>,
    pub services: BTreeMap<ServiceName, ServiceSpec>,
}

const TOP_KEYS: &[&str] = &["version", "defaults", "pools", "jobs", "services"];

impl JobsFile {
    /// Reads a jobs file's bytes (at most `MAX_FILE_BYTES` of UTF-8), then parses it.
    pub fn read(bytes: &[u8]) -> Result<JobsFile, Vec<Diagnostic>> {
        JobsFile::parse(limits::text(bytes).map_err(|d| vec![d])?)
    }

    /// Parses and validates a jobs file: one YAML document, nested at most `MAX_DEPTH` deep. On failure, every
    /// problem found, in file order.
    pub fn parse(text: &str) -> Result<JobsFile, Vec<Diagnostic>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        limits::shape(text).map_err(|d| vec![d])?;
        let options = |strict| {
            LoaderOptions::default()
                .error_on_duplicate_keys(strict)
                .prevent_coercion(true)
        };
        // A name defined twice is one problem among the others: the file is read again with the later definition
        // winning, so that everything else in it is checked too.
        let (root, duplicate) = match marked_yaml::parse_yaml_with_options(0, text, options(true)) {
            Ok(root) => (root, None),
            Err(e @ marked_yaml::LoadError::DuplicateKey(_)) => {
                let twice = load_error(e);
                let root = marked_yaml::parse_yaml_with_options(0, text, options(false))
                    .map_err(|e| vec![twice.clone(), load_error(e)])?;
                (root, Some(twice))
            }
            Err(e) => return Err(vec![load_error(e)]),
        };
        let mut r = Reader::default();
        r.diagnostics.extend(duplicate);
        let Some(top) = r.mapping(&root, "the jobs file") else {
            return Err(r.diagnostics);
        };
        let f = r.fields(top, "the jobs file", TOP_KEYS);
        if let Some(n) = f.get("version") {
            if r.scalar(n, "version").is_some_and(|s| s.as_str() != "1") {
                r.error(
                    n.span(),
                    "version: this fsched reads version 1 of the jobs file",
                );
            }
        }
        let defaults = match f.get("defaults").and_then(|n| r.mapping(n, "defaults")) {
            Some(m) => {
                let df = r.fields(
                    m,
                    "defaults (which sets only keys shared by all jobs)",
                    SHARED_KEYS,
                );
                let mut defaults = read_partial(&mut r, &df);
                // Reported once here, not again for every job that inherits it.
                if let Some((zone, span)) = &defaults.timezone {
                    if let Err(e) = parse_zone(zone) {
                        r.error(span, format!("timezone: {e}"));
                        defaults.timezone = None;
                    }
                }
                defaults
            }
            None => Partial::default(),
        };
        let pools = match f.get("pools") {
            Some(n) => batch::read_pools(&mut r, n),
            None => BTreeMap::new(),
        };
        let mut jobs = BTreeMap::new();
        let mut spans = BTreeMap::new();
        let mut declared = Vec::new();
        match f.get("jobs").and_then(|n| r.mapping(n, "jobs")) {
            Some(m) => {
                let known: Vec<&str> = SHARED_KEYS.iter().chain(JOB_ONLY_KEYS).copied().collect();
                for (key, node) in m.iter() {
                    r.job = Some(key.as_str().to_owned());
                    let name = match JobName::new(key.as_str()) {
                        Ok(n) => Some(n),
                        Err(e) => {
                            r.error(key.span(), e.to_string());
                            None
                        }
                    };
                    let Some(jm) = r.mapping(node, "a job") else {
                        continue;
                    };
                    let jf = r.fields(jm, "a job", &known);
                    let partial = read_partial(&mut r, &jf).over(&defaults);
                    let at = link::Spans {
                        pool: partial.pool.as_ref().map(|(_, s)| s.to_owned()),
                        after: partial.after.as_ref().map(|(_, s)| s.to_owned()),
                    };
                    if let Some(name) = &name {
                        declared.push(name.to_string());
                        spans.insert(name.clone(), at);
                    }
                    if let (Some(name), Some(spec)) = (name, finish(&mut r, partial, key.span())) {
                        jobs.insert(name, spec);
                    }
                }
                r.job = None;
            }
            None if f.get("jobs").is_none() && f.get("services").is_none() => r.error(
                &f.span,
                "`jobs:` is missing: a jobs file declares its jobs under `jobs:`",
            ),
            None => {}
        }
        link::link(&mut r, &mut jobs, &pools, &spans, &declared);
        let services = match f.get("services") {
            Some(n) => services::read_services(
                &mut r,
                n,
                defaults.cluster.as_deref(),
                defaults.timezone.as_ref().map(|(z, _)| z.as_str()),
            ),
            None => BTreeMap::new(),
        };
        if r.diagnostics.is_empty() {
            Ok(JobsFile { jobs, services })
        } else {
            r.diagnostics.sort_by_key(|d| (d.line, d.column));
            Err(r.diagnostics)
        }
    }
}

fn load_error(e: marked_yaml::LoadError) -> Diagnostic {
    use marked_yaml::LoadError as E;
    let (marker, message) = match e {
        E::DuplicateKey(d) => {
            let first = d.prev_key.span().start().map(|m| m.line()).unwrap_or(0);
            (
                d.key.span().start().copied(),
                format!(
                    "`{}` is defined twice (first on line {first}): names must be unique",
                    d.key.as_str()
                ),
            )
        }
        E::ScanError(m, s) => (Some(m), format!("not valid YAML: {s}")),
        E::TopLevelMustBeMapping(m) => (
            Some(m),
            "the jobs file must be a mapping with `jobs:` (and optionally `defaults:`)".to_owned(),
        ),
        E::UnexpectedAnchor(m) => (
            Some(m),
            "YAML anchors and aliases are not supported in jobs files".to_owned(),
        ),
        E::UnexpectedTag(m) => (
            Some(m),
            "YAML tags are not supported in jobs files".to_owned(),
        ),
        E::MappingKeyMustBeScalar(m) => (Some(m), "keys must be plain names".to_owned()),
        E::TopLevelMustBeSequence(m) => (Some(m), "the jobs file must be a mapping".to_owned()),
    };
    let (line, column) = marker.map(|m| (m.line(), m.column())).unwrap_or((0, 0));
    Diagnostic {
        line,
        column,
        job: None,
        message,
    }
}

#[cfg(test)]
mod tests;
