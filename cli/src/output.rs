//! Output format shared by commands: a table for people, JSON for scripts.

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
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

/// Times as `--tz` says, with the jobs' own zones at hand.
#[derive(Clone, Debug)]
pub struct Times {
    pub tz: Tz,
    pub jobs: std::collections::BTreeMap<String, fsched_core::domain::schedule::Zone>,
}

impl Times {
    /// UTC, whatever the jobs say.
    #[cfg(test)]
    pub fn utc() -> Times {
        Times {
            tz: Tz::Utc,
            jobs: Default::default(),
        }
    }

    /// A time of `job`'s: `2026-11-29 02:00:00 CET`, or `...Z` in UTC.
    pub fn at(&self, job: &str, t: chrono::DateTime<chrono::Utc>) -> String {
        let zoned = |zone: fsched_core::domain::schedule::Zone| {
            t.with_timezone(&zone.tz())
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        };
        match &self.tz {
            Tz::Utc => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            Tz::Local => t
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
            Tz::Zone(zone) => zoned(*zone),
            Tz::Job => match self.jobs.get(job) {
                Some(zone) => zoned(*zone),
                // A removed job's zone is no longer known: UTC, which says so.
                None => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            },
        }
    }

    /// What a time column's header says about its zone.
    pub fn label(&self) -> String {
        match &self.tz {
            Tz::Job => "JOB'S ZONE".to_owned(),
            Tz::Utc => "UTC".to_owned(),
            Tz::Local => "LOCAL".to_owned(),
            Tz::Zone(zone) => zone.to_string().to_uppercase(),
        }
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
