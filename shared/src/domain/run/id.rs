//! Run ids: `JOB/KEY`, the key starting with the run's UTC time stamp.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::job::{JobName, JobNameError};

/// Identifies a run: the job and a key that starts with the run's scheduled (or requested) UTC time, so that keys
/// sort in time order. Scheduled runs use the time alone, which is what makes a scheduled time claimable only once;
/// event and manual runs add a suffix derived from what triggered them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId {
    job: JobName,
    key: String,
}

const STAMP: &str = "%Y%m%dT%H%M%SZ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunIdError {
    #[error("`{0}` is not a run id: expected JOB/YYYYMMDDTHHMMSSZ[-suffix], as printed by `fsched runs`")]
    Shape(String),
    #[error("run id `{0}`: {1}")]
    Job(String, JobNameError),
}

impl RunId {
    /// The id of a job's run for one scheduled time.
    pub fn scheduled(job: &JobName, at: DateTime<Utc>) -> Self {
        RunId {
            job: job.clone(),
            key: at.format(STAMP).to_string(),
        }
    }

    /// The id of a run asked for at `at` by something with its own unique id (an event id, a request id).
    /// The suffix keeps only characters that are safe in keys and ECS tokens.
    pub fn triggered(job: &JobName, at: DateTime<Utc>, kind: char, unique: &str) -> Self {
        let clean: String = unique
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        RunId {
            job: job.clone(),
            key: format!("{}-{kind}{clean}", at.format(STAMP)),
        }
    }

    /// The id of task `index` (0-based) of a parallel run: its key with `-t<index>`.
    pub fn task(run: &RunId, index: u32) -> Self {
        RunId {
            job: run.job.clone(),
            key: format!("{}-t{index}", run.key),
        }
    }

    /// The id of attempt `number` (2 for the first retry) of the run `first`: its key with `-r<number>`, so
    /// attempts sort right after the run they retry and each is claimable once.
    pub fn attempt(first: &RunId, number: u32) -> Self {
        RunId {
            job: first.job.clone(),
            key: format!("{}-r{number}", first.key),
        }
    }

    pub fn job(&self) -> &JobName {
        &self.job
    }

    /// The part after the job name; starts with the UTC time stamp.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.job, self.key)
    }
}

impl FromStr for RunId {
    type Err = RunIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (job, key) = s
            .split_once('/')
            .ok_or_else(|| RunIdError::Shape(s.to_owned()))?;
        let job = JobName::new(job).map_err(|e| RunIdError::Job(s.to_owned(), e))?;
        let stamp = key
            .get(..16)
            .ok_or_else(|| RunIdError::Shape(s.to_owned()))?;
        NaiveDateTime::parse_from_str(stamp, STAMP).map_err(|_| RunIdError::Shape(s.to_owned()))?;
        let suffix_ok = key[16..].is_empty()
            || (key[16..].starts_with('-')
                && key[17..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !suffix_ok {
            return Err(RunIdError::Shape(s.to_owned()));
        }
        Ok(RunId {
            job,
            key: key.to_owned(),
        })
    }
}

/// Compared with its written form (`JOB/KEY`), as reports and tests name runs.
impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        other
            .split_once('/')
            .is_some_and(|(job, key)| self.job.as_str() == job && self.key == key)
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for RunId {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

impl Serialize for RunId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
