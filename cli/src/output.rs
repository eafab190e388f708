//! Output shared by commands: tables for people; versioned JSON and YAML documents for scripts (docs/output.md).

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// `--output`: how a command prints what it found.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Columns for people, fitted to the terminal, long run ids shortened.
    #[default]
    Table,
    /// The table with every column and every id in full.
    Wide,
    /// One JSON document per line (docs/output.md).
    Json,
    /// The same documents as YAML, each starting with `---`.
    Yaml,
}

impl Format {
    /// Whether this is a format for scripts (a document), not a table.
    pub fn is_data(self) -> bool {
        matches!(self, Format::Json | Format::Yaml)
    }
}

/// The version of every document's shape: a field is never renamed, retyped or removed within it (new fields may
/// appear); anything else is `fsched/v2`.
pub const API_VERSION: &str = "fsched/v1";

/// Writes one document of `kind`: `apiVersion` and `kind`, then the object's fields (a list goes under `items`).
/// JSON is one line per document (JSON Lines, so a stream such as `logs --follow` reads the same way); YAML starts
/// every document with `---`.
pub fn emit(out: &mut impl Write, format: Format, kind: &str, body: Value) -> std::io::Result<()> {
    let mut doc = serde_json::Map::new();
    doc.insert("apiVersion".into(), json!(API_VERSION));
    doc.insert("kind".into(), json!(kind));
    match body {
        Value::Object(fields) => doc.extend(fields),
        items => {
            doc.insert("items".into(), items);
        }
    }
    let doc = Value::Object(doc);
    match format {
        Format::Yaml => {
            let text = serde_yaml::to_string(&doc).map_err(std::io::Error::other)?;
            write!(out, "---\n{text}")
        }
        _ => writeln!(out, "{doc}"),
    }
}

/// A time in a document: RFC 3339 in UTC, to the second.
pub fn at(t: DateTime<Utc>) -> Value {
    json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// An optional time in a document: the time, or `null`.
pub fn at_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, at)
}

/// A table for people. On a terminal that says its width (`COLUMNS`), long cells wrap to fit it; otherwise (a pipe,
/// a file) every cell is whole, so nothing actionable is cut off.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_header(header.to_vec());
    if let Some(width) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w >= 40)
    {
        t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(width);
    }
    t
}

/// Which zone times are shown in (`--tz`): each job's own (the default), UTC, this machine's, or a named one.
#[derive(Clone, Debug, PartialEq)]
pub enum Tz {
    Job,
    Utc,
    Local,
    Zone(fsched_core::domain::schedule::Zone),
}

impl std::str::FromStr for Tz {
    type Err = String;

    fn from_str(s: &str) -> Result<Tz, String> {
        match s.to_ascii_lowercase().as_str() {
            "job" => return Ok(Tz::Job),
            "utc" | "z" => return Ok(Tz::Utc),
            "local" => return Ok(Tz::Local),
            _ => {}
        }
        if let Ok(zone) = s.parse() {
            return Ok(Tz::Zone(zone));
        }
        // The usual slip: the right name in the wrong case.
        let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
        let hint = names
            .clone()
            .find(|n| n.eq_ignore_ascii_case(s))
            .or_else(|| fsched_core::domain::suggest::nearest(s, names))
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        Err(format!(
            "`{s}` is not a time zone{hint}: give job, utc, local, or an IANA name like Europe/Berlin"
        ))
    }
}

impl Tz {
    /// A time of something with its own zone (a job's, a service's) as `--tz` says, in chrono's `format`; `-` for
    /// none.
    pub fn show(
        &self,
        t: Option<DateTime<Utc>>,
        own: fsched_core::domain::schedule::Zone,
        format: &str,
    ) -> String {
        let Some(t) = t else {
            return "-".to_owned();
        };
        match self {
            Tz::Job => t.with_timezone(&own.tz()).format(format).to_string(),
            Tz::Zone(zone) => t.with_timezone(&zone.tz()).format(format).to_string(),
            Tz::Utc => t.format(format).to_string(),
            Tz::Local => t.with_timezone(&chrono::Local).format(format).to_string(),
        }
    }

    /// What a time column's header says about its zone: `JOB'S ZONE` (or `SERVICE'S ZONE`, as `own` says), `UTC`,
    /// `LOCAL` or the zone's name.
    pub fn label(&self, own: &str) -> String {
        match self {
            Tz::Job => format!("{}'S ZONE", own.to_uppercase()),
            Tz::Utc => "UTC".to_owned(),
            Tz::Local => "LOCAL".to_owned(),
            Tz::Zone(zone) => zone.to_string().to_uppercase(),
        }
    }
}

/// Times as `--tz` says, with the jobs' own zones at hand.
#[derive(Clone, Debug)]
pub struct Times {
    pub tz: Tz,
    pub jobs: std::collections::BTreeMap<String, fsched_core::domain::schedule::Zone>,
}

impl Times {
    /// UTC, whatever the jobs say.
    pub fn utc() -> Times {
        Times {
            tz: Tz::Utc,
            jobs: Default::default(),
        }
    }

    /// A time of `job`'s: `2026-11-29 02:00:00 CET`, or `...Z` in UTC.
    pub fn at(&self, job: &str, t: DateTime<Utc>) -> String {
        self.with(job, t, "%Y-%m-%d %H:%M:%S")
    }

    /// A time of `job`'s in chrono's `format`, followed by its zone: its abbreviation (` CET`), `Z` for UTC, or the
    /// offset for the machine's own zone.
    pub fn with(&self, job: &str, t: DateTime<Utc>, format: &str) -> String {
        let zoned = |zone: fsched_core::domain::schedule::Zone| {
            t.with_timezone(&zone.tz())
                .format(&format!("{format} %Z"))
                .to_string()
        };
        let utc = || t.format(&format!("{format}Z")).to_string();
        match &self.tz {
            Tz::Utc => utc(),
            Tz::Local => t
                .with_timezone(&chrono::Local)
                .format(&format!("{format} %:z"))
                .to_string(),
            Tz::Zone(zone) => zoned(*zone),
            Tz::Job => match self.jobs.get(job) {
                Some(zone) => zoned(*zone),
                // A removed job's zone is no longer known: UTC, which says so.
                None => utc(),
            },
        }
    }

    /// The zone `job`'s times are shown in, in words (`Europe/Berlin, the job's`).
    pub fn zone_of(&self, job: &str) -> String {
        match &self.tz {
            Tz::Utc => "UTC".to_owned(),
            Tz::Local => "this machine's zone".to_owned(),
            Tz::Zone(zone) => zone.to_string(),
            Tz::Job => match self.jobs.get(job) {
                Some(zone) => format!("{zone}, the job's"),
                None => "UTC (the job's zone is not known)".to_owned(),
            },
        }
    }

    /// What a time column's header says about its zone.
    pub fn label(&self) -> String {
        self.tz.label("job")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tz_reads_the_words_and_zones_and_suggests_the_right_case() {
        assert_eq!("job".parse::<Tz>(), Ok(Tz::Job));
        assert_eq!("UTC".parse::<Tz>(), Ok(Tz::Utc));
        assert_eq!(
            "Europe/Berlin".parse::<Tz>(),
            Ok(Tz::Zone("Europe/Berlin".parse().unwrap()))
        );
        let err = "europe/berlin".parse::<Tz>().unwrap_err();
        assert!(err.contains("did you mean `Europe/Berlin`?"), "{err}");
    }

    #[test]
    fn a_jobs_time_reads_in_its_zone_and_an_unknown_jobs_in_utc() {
        let t: chrono::DateTime<chrono::Utc> = "2026-11-29T01:00:00Z".parse().unwrap();
        let times = Times {
            tz: Tz::Job,
            jobs: [("etl".to_owned(), "Europe/Berlin".parse().unwrap())].into(),
        };
        assert_eq!(times.at("etl", t), "2026-11-29 02:00:00 CET");
        assert_eq!(times.at("gone", t), "2026-11-29 01:00:00Z");
        assert_eq!(times.label(), "JOB'S ZONE");
    }
}
