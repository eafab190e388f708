//! Schedule expressions as EventBridge Scheduler writes them (`cron(...)`, `rate(...)`, `at(...)`), evaluated in any
//! IANA time zone with EventBridge's DST behaviour. Pure: the caller passes the instant to evaluate from.
//!
//! DST: a wall time that does not exist (spring forward) is skipped, unless the schedule opts into running it at the
//! first valid minute after the gap; a wall time that occurs twice (fall back) fires once, at its first occurrence.

mod cron;
mod days;
mod error;
mod expression;

use std::fmt;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

pub use self::cron::Cron;
pub use self::error::{Field, ScheduleError};
use self::expression::Expr;
pub use self::expression::{Expression, Zone};

/// Where rates are anchored when a job gives no `start`: the Unix epoch, so `rate(15 minutes)` fires at :00, :15,
/// :30 and :45 UTC, and `rate(1 day)` at midnight UTC, whatever the zone.
pub const DEFAULT_RATE_ANCHOR: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// The last year a schedule can name: EventBridge's cron year field ends at 2199, and so does every fsched schedule
/// (a rate too), so a stored fire time always has four year digits and timer keys sort as times.
pub const LAST_YEAR: i32 = 2199;

/// The first instant after the last year: no fire is at or after it.
pub fn horizon() -> DateTime<Utc> {
    // 2200-01-01T00:00:00Z; `from_timestamp` is `None` only outside chrono's range.
    DateTime::from_timestamp(7_258_118_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What to do with a fire whose wall time does not exist because clocks sprang forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkippedTimes {
    /// EventBridge's behaviour: the fire does not happen.
    #[default]
    Skip,
    /// Fire at the first valid minute after the gap (for jobs that must not lose a day).
    RunAfter,
}

/// A parsed, validated schedule in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expr: Expr,
    zone: Tz,
    anchor: DateTime<Utc>,
    skipped: SkippedTimes,
}

/// Parses an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Zone>().map(Zone::tz)
}

impl Schedule {
    /// Parses `expr` (`cron(...)`, `rate(...)` or `at(...)`) in the zone named `zone`.
    pub fn parse(expr: &str, zone: &str) -> Result<Self, ScheduleError> {
        let zone: Zone = zone.parse()?;
        Ok(Schedule::new(&expr.parse()?, zone))
    }

    /// An expression, read once, in a zone.
    pub fn new(expression: &Expression, zone: Zone) -> Self {
        Schedule {
            expr: expression.expr.clone(),
            zone: zone.tz(),
            anchor: DEFAULT_RATE_ANCHOR,
            skipped: SkippedTimes::Skip,
        }
    }

    /// Anchors a rate at `anchor` (a job's `start`): it fires at anchor + k x rate. No effect on cron and at.
    pub fn anchored_at(mut self, anchor: DateTime<Utc>) -> Self {
        self.anchor = anchor;
        self
    }

    pub fn skipped_times(mut self, skipped: SkippedTimes) -> Self {
        self.skipped = skipped;
        self
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first fire strictly after `after`, or `None` when the schedule has no more fires before the end of
    /// `LAST_YEAR`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_unbounded(after).filter(|t| *t < horizon())
    }

    fn next_unbounded(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if after >= horizon() {
            return None;
        }
        match &self.expr {
            Expr::Rate { every } => {
                let every_s = every.num_seconds();
                let since = (after - self.anchor).num_seconds();
                let k = if since < 0 { 0 } else { since / every_s + 1 };
                self.anchor
                    .checked_add_signed(Duration::seconds(k.checked_mul(every_s)?))
            }
            Expr::At(when) => self.resolve(*when).filter(|t| *t > after),
            Expr::Cron(cron) => {
                // Wall time maps to instants monotonically (ambiguous times take their first occurrence, skipped ones
                // vanish or move to the gap's end), so no candidate before `after`'s own wall time can be later
                // than `after`: search forward from it.
                let mut from = after.with_timezone(&self.zone).naive_local();
                loop {
                    let wall = cron.next_match(from)?;
                    if let Some(t) = self.resolve(wall) {
                        if t > after {
                            return Some(t);
                        }
                    }
                    from = wall + Duration::minutes(1);
                }
            }
        }
    }

    /// Fires strictly after `after`, in order.
    pub fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(self.next_after(after), move |t| self.next_after(*t))
    }

    /// Whether a wall time in the schedule's zone is one the expression names (rates: the instant is on the grid).
    /// Used by tests and by `fsched` to explain a schedule; the dispatcher uses `next_after`.
    pub fn names_wall_time(&self, wall: NaiveDateTime) -> bool {
        match &self.expr {
            Expr::Cron(cron) => cron.matches(wall),
            Expr::At(when) => *when == wall,
            Expr::Rate { .. } => false,
        }
    }

    /// The instant a wall time fires at, or `None` if it is skipped.
    fn resolve(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => match self.skipped {
                SkippedTimes::Skip => None,
                // Gaps are at most a few hours (usually one; 30 minutes on Lord Howe): walk to the first minute that
                // exists. Only wall times inside a gap take this path.
                SkippedTimes::RunAfter => {
                    let minute = wall.with_second(0)?;
                    (1..=24 * 60)
                        .find_map(|m| {
                            self.zone
                                .from_local_datetime(&(minute + Duration::minutes(m)))
                                .earliest()
                        })
                        .map(|t| t.with_timezone(&Utc))
                }
            },
        }
    }
}

pub(super) fn parse_rate(text: &str) -> Result<Duration, ScheduleError> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [value, unit] = parts[..] else {
        return Err(ScheduleError::Rate(format!(
            "`rate({text})` must be a value and a unit, e.g. rate(5 minutes) or rate(1 hour)"
        )));
    };
    let n: i64 = match value.parse::<i64>() {
        Ok(n) if n >= 1 && value.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => {
            return Err(ScheduleError::Rate(format!(
                "value `{value}` must be a positive whole number"
            )))
        }
    };
    let (singular, seconds) = match unit {
        "minute" | "minutes" => ("minute", 60),
        "hour" | "hours" => ("hour", 3_600),
        "day" | "days" => ("day", 86_400),
        _ => {
            return Err(ScheduleError::Rate(format!(
                "unit `{unit}` must be minute(s), hour(s) or day(s)"
            )))
        }
    };
    let plural = unit.ends_with('s');
    if (n == 1) == plural {
        let right = if n == 1 {
            singular.to_owned()
        } else {
            format!("{singular}s")
        };
        return Err(ScheduleError::Rate(format!(
            "with value {n} the unit is `{right}`: rate({n} {right})"
        )));
    }
    n.checked_mul(seconds)
        .filter(|s| *s <= 100 * 366 * 86_400)
        .map(Duration::seconds)
        .ok_or_else(|| ScheduleError::Rate(format!("`rate({text})` is longer than a century")))
}

impl fmt::Display for SkippedTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkippedTimes::Skip => "skip",
            SkippedTimes::RunAfter => "run-after",
        })
    }
}

#[cfg(test)]
mod tests;
