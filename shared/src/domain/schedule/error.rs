//! Errors of schedule expressions: each names the field, the token and the rule it breaks.

use std::fmt;

/// A field of a cron expression, named as EventBridge's documentation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Minutes,
    Hours,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Minutes,
        Field::Hours,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
        Field::Year,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Minutes => "minutes",
            Field::Hours => "hours",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    /// The values the field accepts, inclusive.
    pub fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minutes => (0, 59),
            Field::Hours => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (1, 7),
            Field::Year => (1970, 2199),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a schedule expression or time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "`{0}` is not a schedule expression: write `cron(minutes hours day-of-month month day-of-week year)`, \
         `rate(value unit)` or `at(yyyy-mm-ddThh:mm:ss)`"
    )]
    Kind(String),
    #[error("cron: expected 6 fields (minutes hours day-of-month month day-of-week year), found {found} in `{expr}`")]
    FieldCount { expr: String, found: usize },
    /// A token of one field breaks a rule of that field.
    #[error("{field}: {rule}")]
    Token {
        field: Field,
        token: String,
        rule: String,
    },
    #[error("day-of-month and day-of-week: one of them must be '?' (found `{dom}` and `{dow}`)")]
    DayFields { dom: String, dow: String },
    #[error("rate: {0}")]
    Rate(String),
    #[error("at: `{0}` is not a date and time: write it as yyyy-mm-ddThh:mm:ss between 1970 and 2199, e.g. at(2027-01-31T09:30:00)")]
    At(String),
    #[error("time zone `{0}` is not an IANA time zone name (such as `UTC`, `Europe/Berlin` or `America/New_York`)")]
    Zone(String),
}

impl ScheduleError {
    pub(crate) fn token(field: Field, token: &str, rule: impl Into<String>) -> Self {
        ScheduleError::Token {
            field,
            token: token.to_owned(),
            rule: rule.into(),
        }
    }
}
