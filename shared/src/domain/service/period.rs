//! Weekly periods as people write them (`weekdays 07:30-20:00`, `fri-mon`, `22:00-06:00`): read once, and asked
//! whether they cover a wall time.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// A weekly period: on these days, from `start` to `end` (an `end` at or before `start` runs past midnight into
/// the next day). Written `weekdays 07:30-20:00`, `mon-fri 7:30-20:00`, `sat,sun 10:00-14:00`, `daily 08:00-18:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    text: String,
    days: [bool; 7],
    pub(super) start: NaiveTime,
    pub(super) end: NaiveTime,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn day(word: &str) -> Option<usize> {
    let w = word.trim().to_ascii_lowercase();
    let short = full_day(&w).unwrap_or(&w);
    DAYS.iter().position(|(name, _)| *name == short)
}

fn full_day(w: &str) -> Option<&'static str> {
    [
        ("monday", "mon"),
        ("tuesday", "tue"),
        ("wednesday", "wed"),
        ("thursday", "thu"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    ]
    .iter()
    .find(|(full, _)| *full == w)
    .map(|(_, short)| *short)
}

/// Why a period cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("`{0}` is not a period: write DAYS HH:MM-HH:MM, e.g. `weekdays 07:30-20:00` or `sat 10:00-14:00`")]
    Shape(String),
    #[error(
        "`{0}` is not a day: write mon..sun, a range like mon-fri, weekdays, weekends or daily"
    )]
    Day(String),
    #[error("`{0}` is not a time of day: write HH:MM (24-hour)")]
    Time(String),
    #[error("`{0}`: a period must not start and end at the same time")]
    Empty(String),
}

fn days(text: &str) -> Result<[bool; 7], PeriodError> {
    let mut out = [false; 7];
    match text.to_ascii_lowercase().as_str() {
        "daily" | "everyday" | "every-day" => return Ok([true; 7]),
        "weekdays" => return Ok([true, true, true, true, true, false, false]),
        "weekends" => return Ok([false, false, false, false, false, true, true]),
        _ => {}
    }
    for part in text.split(',') {
        let bad = || PeriodError::Day(part.to_owned());
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
                let mut d = a;
                loop {
                    out[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => out[day(part).ok_or_else(bad)?] = true,
        }
    }
    Ok(out)
}

fn time(text: &str) -> Result<NaiveTime, PeriodError> {
    if text == "24:00" {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| PeriodError::Time(text.to_owned()))
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape = || PeriodError::Shape(text.to_owned());
        let (d, hours) = text.trim().rsplit_once(' ').ok_or_else(shape)?;
        let (s, e) = hours.split_once('-').ok_or_else(shape)?;
        let (start, end) = (time(s.trim())?, time(e.trim())?);
        // `24:00` ends the day: `00:00-24:00` is the whole day (an overnight period that ends at midnight).
        if start == end && e.trim() != "24:00" {
            return Err(PeriodError::Empty(text.to_owned()));
        }
        Ok(Period {
            text: text.trim().to_owned(),
            days: days(d.trim())?,
            start,
            end,
        })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Period {
    /// Whether the period covers the wall time `at`.
    pub(super) fn covers(&self, date: NaiveDate, at: NaiveTime) -> bool {
        let today = self.days[date.weekday().num_days_from_monday() as usize];
        let yesterday = self.days[date
            .pred_opt()
            .map_or(0, |d| d.weekday().num_days_from_monday())
            as usize];
        if self.start < self.end {
            today && at >= self.start && at < self.end
        } else {
            (today && at >= self.start) || (yesterday && at < self.end)
        }
    }
}
