//! Values read once where a jobs file or command gives them: a schedule `Expression` as written (kept as text for
//! people, parsed for the dispatcher) and a time `Zone`. Both are stored as their text and validated again when
//! read back, so an invalid value cannot exist past the edge.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDateTime};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::cron::Cron;
use super::error::ScheduleError;

/// A parsed expression, without a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr {
    Cron(Box<Cron>),
    Rate { every: Duration },
    At(NaiveDateTime),
}

/// A schedule expression (`cron(...)`, `rate(...)` or `at(...)`), valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    text: String,
    pub(super) expr: Expr,
}

impl Expression {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Expression {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let inner = |prefix: &str| {
            trimmed
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('('))
                .and_then(|rest| rest.strip_suffix(')'))
        };
        let expr = if let Some(fields) = inner("cron") {
            Expr::Cron(Box::new(Cron::parse(fields)?))
        } else if let Some(rate) = inner("rate") {
            Expr::Rate {
                every: super::parse_rate(rate)?,
            }
        } else if let Some(at) = inner("at") {
            let when = NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%dT%H:%M:%S")
                .ok()
                // A leap second (`:60`) is no time a schedule can name.
                .filter(|t| t.and_utc().timestamp_subsec_nanos() < 1_000_000_000)
                .filter(|t| (1970..=super::LAST_YEAR).contains(&t.year()))
                .ok_or_else(|| ScheduleError::At(at.to_owned()))?;
            Expr::At(when)
        } else {
            return Err(ScheduleError::Kind(text.to_owned()));
        };
        Ok(Expression {
            text: text.to_owned(),
            expr,
        })
    }
}

impl Deref for Expression {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<&str> for Expression {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl Serialize for Expression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Expression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    pub fn tz(self) -> Tz {
        self.0
    }

    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl FromStr for Zone {
    type Err = ScheduleError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Tz::from_str(name)
            .map(Zone)
            .map_err(|_| ScheduleError::Zone(name.to_owned()))
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Zone {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
