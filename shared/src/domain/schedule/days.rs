//! The day fields of a cron expression: which days of a month match, from day-of-month (`1-31`, `L`, `L-n`, `LW`,
//! `nW`) or day-of-week (`MON-FRI`, `d#n`, `dL`).

use chrono::{Datelike, NaiveDate};

use super::cron::{parse_list, parse_value, DAYS};
use super::error::{Field, ScheduleError};

/// Which days of a month match: from day-of-month, or from day-of-week (exactly one of them is `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Days {
    /// Days 1-31 as bits 1-31.
    Dom(u32),
    /// `L`: the last day of the month.
    LastDay,
    /// `LW`: the last weekday (Monday-Friday) of the month.
    LastWeekday,
    /// `L-n`: n days before the last day of the month (Quartz's extension, which EventBridge does not document).
    BeforeLast(u32),
    /// `nW`: the weekday nearest day n, never crossing into another month.
    NearestWeekday(u32),
    /// Weekdays SUN=1 ... SAT=7 as bits 1-7.
    Dow(u8),
    /// `d#n`: the n-th weekday d of the month.
    NthDow { dow: u32, n: u32 },
    /// `dL`: the last weekday d of the month.
    LastDow(u32),
}

pub(super) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Day of week of a date, SUN=1 ... SAT=7.
pub(super) fn dow(date: NaiveDate) -> u32 {
    date.weekday().num_days_from_sunday() + 1
}

impl Days {
    /// The matching days of one month, as bits 1-31.
    pub(super) fn mask(self, year: i32, month: u32) -> u32 {
        let dim = days_in_month(year, month);
        let in_month = (u32::MAX >> (31 - dim)) & !1; // bits 1..=dim
        let first = NaiveDate::from_ymd_opt(year, month, 1)
            .map(dow)
            .unwrap_or(1);
        let weekday_of = |day: u32| (first - 1 + day - 1) % 7 + 1;
        match self {
            Days::Dom(bits) => bits & in_month,
            Days::LastDay => 1 << dim,
            Days::BeforeLast(n) if n >= dim => 0,
            Days::BeforeLast(n) => 1 << (dim - n),
            Days::LastWeekday => {
                let day = match weekday_of(dim) {
                    7 => dim - 1,
                    1 => dim - 2,
                    _ => dim,
                };
                1 << day
            }
            Days::NearestWeekday(n) if n > dim => 0,
            Days::NearestWeekday(n) => {
                let day = match weekday_of(n) {
                    7 if n == 1 => 3, // Saturday the 1st: Monday the 3rd, not Friday of the month before
                    7 => n - 1,
                    1 if n == dim => n - 2, // Sunday the last: Friday, not Monday of the next month
                    1 => n + 1,
                    _ => n,
                };
                1 << day
            }
            Days::Dow(bits) => {
                let mut mask = 0;
                for day in 1..=dim {
                    if bits & (1 << weekday_of(day)) != 0 {
                        mask |= 1 << day;
                    }
                }
                mask
            }
            Days::NthDow { dow, n } => {
                let day = 1 + (dow + 7 - first) % 7 + 7 * (n - 1);
                if day <= dim {
                    1 << day
                } else {
                    0
                }
            }
            Days::LastDow(d) => {
                let last = weekday_of(dim);
                1 << (dim - (last + 7 - d) % 7)
            }
        }
    }
}

pub(super) fn parse_dom(text: &str) -> Result<Days, ScheduleError> {
    let field = Field::DayOfMonth;
    let upper = text.to_ascii_uppercase();
    if upper.contains('L') || upper.contains('W') {
        if text.contains(',') {
            return Err(ScheduleError::token(
                field,
                text,
                format!("`L` and `W` must stand alone, not in a list: `{text}`"),
            ));
        }
        if let Some(digits) = upper.strip_prefix("L-") {
            let number = Some(digits)
                .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u32>().ok());
            return match number {
                Some(n) if (1..=30).contains(&n) => Ok(Days::BeforeLast(n)),
                _ => Err(ScheduleError::token(
                    field,
                    text,
                    format!("`{text}` is not valid: `L-n` takes n from 1 to 30 (days before the last day)"),
                )),
            };
        }
        return match upper.as_str() {
            "L" => Ok(Days::LastDay),
            "LW" => Ok(Days::LastWeekday),
            _ => match upper.strip_suffix('W') {
                Some(n) => Ok(Days::NearestWeekday(parse_value(field, n, None)?)),
                None => Err(ScheduleError::token(
                    field,
                    text,
                    format!("`{text}` is not valid: write `L` (last day), `L-n` (n days before it), `LW` (last weekday) or `nW` (weekday nearest day n)"),
                )),
            },
        };
    }
    Ok(Days::Dom(parse_list(field, text, None)?[0] as u32))
}

pub(super) fn parse_dow(text: &str) -> Result<Days, ScheduleError> {
    let field = Field::DayOfWeek;
    if let Some((d, n)) = text.split_once('#') {
        if text.contains(',') {
            return Err(ScheduleError::token(
                field,
                text,
                format!("`#` must stand alone, not in a list: `{text}`"),
            ));
        }
        let dow = parse_value(field, d, Some(&DAYS))?;
        return match n.parse::<u32>() {
            Ok(n @ 1..=5) => Ok(Days::NthDow { dow, n }),
            _ => Err(ScheduleError::token(
                field,
                text,
                format!("`#{n}` in `{text}`: the week of the month must be 1-5"),
            )),
        };
    }
    if text.eq_ignore_ascii_case("L") {
        return Ok(Days::Dow(1 << 7)); // the last day of the week: Saturday
    }
    if let Some(d) = text.strip_suffix('L').or_else(|| text.strip_suffix('l')) {
        if text.contains(',') || text.contains('-') {
            return Err(ScheduleError::token(
                field,
                text,
                format!("`L` must stand alone, as `L` or `dL`: `{text}`"),
            ));
        }
        return Ok(Days::LastDow(parse_value(field, d, Some(&DAYS))?));
    }
    Ok(Days::Dow(parse_list(field, text, Some(&DAYS))?[0] as u8))
}
