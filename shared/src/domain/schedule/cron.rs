//! EventBridge cron expressions: parsing into bit sets, and finding the next matching wall-clock minute.
//!
//! Each field becomes a bit set; the day fields become a rule evaluated per month (`L`, `W` and `#` depend on the
//! month's length and on which weekday it starts). The search walks year, month, day, hour and minute, jumping to
//! the next set bit at each level, so one evaluation costs a handful of bit operations whatever the expression.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::days::{parse_dom, parse_dow, Days};
use super::error::{Field, ScheduleError};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
pub(super) const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const YEARS: usize = 230; // 1970..=2199

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    months: u16,
    years: [u64; 4],
    days: Days,
}

/// The lowest set bit of `mask` at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask & (u64::MAX << from);
    (rest != 0).then(|| rest.trailing_zeros())
}

impl Cron {
    /// Parses the six fields inside `cron(...)`.
    pub fn parse(fields: &str) -> Result<Self, ScheduleError> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [min, hour, dom, month, dow, year] = parts[..] else {
            return Err(ScheduleError::FieldCount {
                expr: format!("cron({fields})"),
                found: parts.len(),
            });
        };
        let days = match (dom == "?", dow == "?") {
            (true, false) => parse_dow(dow)?,
            (false, true) => parse_dom(dom)?,
            _ => {
                return Err(ScheduleError::DayFields {
                    dom: dom.to_owned(),
                    dow: dow.to_owned(),
                })
            }
        };
        Ok(Cron {
            minutes: parse_list(Field::Minutes, min, None)?[0],
            hours: parse_list(Field::Hours, hour, None)?[0] as u32,
            months: parse_list(Field::Month, month, Some(&MONTHS))?[0] as u16,
            years: parse_list(Field::Year, year, None)?,
            days,
        })
    }

    fn has_year(&self, year: i32) -> bool {
        let Ok(i) = usize::try_from(year - 1970) else {
            return false;
        };
        i < YEARS && self.years[i / 64] & (1 << (i % 64)) != 0
    }

    fn next_year(&self, from: i32) -> Option<i32> {
        (from.max(1970)..=2199).find(|&y| self.has_year(y))
    }

    /// Whether a wall-clock minute matches (seconds are ignored).
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        self.has_year(t.year())
            && self.months & (1 << t.month()) != 0
            && self.days.mask(t.year(), t.month()) & (1 << t.day()) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.minutes & (1 << t.minute()) != 0
    }

    /// The first matching wall-clock minute at or after `from` (rounded up to a whole minute), if any before 2200.
    pub fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut from = from;
        if from.second() != 0 || from.nanosecond() != 0 {
            from = from.with_second(0)?.with_nanosecond(0)? + chrono::Duration::minutes(1);
        }
        let (mut y, mut mo, mut d, mut h, mut mi) = (
            from.year(),
            from.month(),
            from.day(),
            from.hour(),
            from.minute(),
        );
        loop {
            let year = self.next_year(y)?;
            if year != y {
                (y, mo, d, h, mi) = (year, 1, 1, 0, 0);
            }
            let Some(month) = next_bit(u64::from(self.months), mo) else {
                (y, mo, d, h, mi) = (y + 1, 1, 1, 0, 0);
                continue;
            };
            if month != mo {
                (mo, d, h, mi) = (month, 1, 0, 0);
            }
            let Some(day) = next_bit(u64::from(self.days.mask(y, mo)), d) else {
                (mo, d, h, mi) = (mo + 1, 1, 0, 0);
                continue;
            };
            if day != d {
                (d, h, mi) = (day, 0, 0);
            }
            let Some(hour) = next_bit(u64::from(self.hours), h) else {
                (d, h, mi) = (d + 1, 0, 0);
                continue;
            };
            if hour != h {
                (h, mi) = (hour, 0);
            }
            let Some(minute) = next_bit(self.minutes, mi) else {
                (h, mi) = (h + 1, 0);
                continue;
            };
            let date = NaiveDate::from_ymd_opt(y, mo, d)?;
            return Some(date.and_time(NaiveTime::from_hms_opt(h, minute, 0)?));
        }
    }
}

/// A number or (where the field has them) a name.
pub(super) fn parse_value(
    field: Field,
    token: &str,
    names: Option<&[&str]>,
) -> Result<u32, ScheduleError> {
    let (lo, hi) = field.bounds();
    if let Some(names) = names {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(token)) {
            return Ok(lo + i as u32);
        }
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        let hint = match names {
            Some(names) => format!(
                "a number {lo}-{hi} or a name {}-{}",
                names[0],
                names[names.len() - 1]
            ),
            None => format!("a number {lo}-{hi}"),
        };
        return Err(ScheduleError::token(
            field,
            token,
            format!("`{token}` is not {hint}"),
        ));
    }
    match token.parse::<u32>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(ScheduleError::token(
            field,
            token,
            format!("{token} is outside {lo}-{hi}"),
        )),
    }
}

/// A bit set wide enough for every field: 256 bits, value v at bit v (years offset by 1970).
pub(super) type Bits = [u64; 4];

/// A comma list of `*`, `v`, `a-b`, `*/n`, `a/n`, `a-b/n` as a bit set over the field's values. Ranges may wrap
/// around in cyclic fields (`FRI-MON`, `22-2`).
pub(super) fn parse_list(
    field: Field,
    text: &str,
    names: Option<&[&str]>,
) -> Result<Bits, ScheduleError> {
    let (lo, hi) = field.bounds();
    let offset = if field == Field::Year { 1970 } else { 0 };
    let mut bits: Bits = [0; 4];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                if field == Field::DayOfWeek {
                    return Err(ScheduleError::token(
                        field,
                        item,
                        "`/` is not allowed in day-of-week",
                    ));
                }
                let step = match step.parse::<u32>() {
                    Ok(s) if s >= 1 && s <= hi - lo + 1 => s,
                    _ => {
                        return Err(ScheduleError::token(
                            field,
                            item,
                            format!(
                                "step `{step}` in `{item}` must be a number 1-{}",
                                hi - lo + 1
                            ),
                        ))
                    }
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = match range.split_once('-') {
            _ if range == "*" => (lo, hi),
            Some((a, b)) => (parse_value(field, a, names)?, parse_value(field, b, names)?),
            // `a/n` runs from a to the end of the field.
            None if step.is_some() => (parse_value(field, range, names)?, hi),
            None => {
                let v = parse_value(field, range, names)?;
                (v, v)
            }
        };
        if start > end && field == Field::Year {
            return Err(ScheduleError::token(
                field,
                item,
                format!("range `{item}` runs backwards"),
            ));
        }
        let span = if start <= end {
            end - start
        } else {
            end + (hi - lo + 1) - start
        };
        let step = step.unwrap_or(1);
        let mut k = 0;
        while k <= span {
            let mut v = start + k;
            if v > hi {
                v -= hi - lo + 1;
            }
            let bit = (v - offset) as usize;
            bits[bit / 64] |= 1 << (bit % 64);
            k += step;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn next(expr: &str, from: &str) -> Option<String> {
        Cron::parse(expr)
            .unwrap()
            .next_match(t(from))
            .map(|d| d.format("%Y-%m-%d %H:%M %a").to_string())
    }

    #[test]
    fn day_rules_follow_eventbridge() {
        let cases = [
            // (expression, from, expected next match)
            ("0 12 L * ? *", "2028-02-01 00:00", "2028-02-29 12:00 Tue"), // leap February
            ("0 12 L * ? *", "2027-02-01 00:00", "2027-02-28 12:00 Sun"),
            ("0 12 L * ? *", "2026-04-30 12:01", "2026-05-31 12:00 Sun"), // month end rolls over
            ("0 9 1W * ? *", "2026-08-01 00:00", "2026-08-03 09:00 Mon"), // 1st is a Saturday: Monday 3rd
            ("0 9 15W * ? *", "2026-08-01 00:00", "2026-08-14 09:00 Fri"), // 15th is a Saturday: Friday
            ("0 9 16W * ? *", "2026-08-01 00:00", "2026-08-17 09:00 Mon"), // 16th is a Sunday: Monday
            ("0 9 31W * ? *", "2026-05-01 00:00", "2026-05-29 09:00 Fri"), // 31st is a Sunday: Friday, not June
            ("0 9 31W * ? *", "2026-06-01 00:00", "2026-07-31 09:00 Fri"), // June has no 31st
            ("0 9 LW * ? *", "2026-05-01 00:00", "2026-05-29 09:00 Fri"),
            ("0 10 ? * 3#2 *", "2026-12-01 00:00", "2026-12-08 10:00 Tue"), // second Tuesday
            ("0 10 ? * 5#5 *", "2026-11-01 00:00", "2026-12-31 10:00 Thu"), // November has no fifth Thursday
            ("0 10 ? * 6L *", "2026-11-01 00:00", "2026-11-27 10:00 Fri"),  // last Friday
            ("0 10 ? * L *", "2026-11-29 00:00", "2026-12-05 10:00 Sat"),   // L alone: Saturday
            (
                "0 8 ? * MON-FRI *",
                "2026-11-28 09:00",
                "2026-11-30 08:00 Mon",
            ),
            (
                "0 8 ? * FRI-MON *",
                "2026-11-24 09:00",
                "2026-11-27 08:00 Fri",
            ), // wrapping range
            ("0 0 29 2 ? *", "2026-03-01 00:00", "2028-02-29 00:00 Tue"),
            (
                "0/15 22-2 * * ? *",
                "2026-11-29 02:50",
                "2026-11-29 22:00 Sun",
            ), // wrapping hours
            ("5 4 * * ? 2199", "2199-12-31 04:06", "none"),
            ("1/10 * * * ? *", "2026-11-29 10:22", "2026-11-29 10:31 Sun"),
            ("*/20 * * * ? *", "2026-11-29 10:41", "2026-11-29 11:00 Sun"),
        ];
        for (expr, from, want) in cases {
            assert_eq!(
                next(expr, from).as_deref().unwrap_or("none"),
                want,
                "cron({expr}) from {from}"
            );
        }
    }

    #[test]
    fn next_match_is_inclusive_and_rounds_seconds_up() {
        let c = Cron::parse("30 10 * * ? *").unwrap();
        assert_eq!(
            c.next_match(t("2026-11-29 10:30")),
            Some(t("2026-11-29 10:30"))
        );
        let late = t("2026-11-29 10:30") + chrono::Duration::seconds(1);
        assert_eq!(c.next_match(late), Some(t("2026-11-30 10:30")));
    }

    #[test]
    fn errors_name_field_token_and_rule() {
        let cases = [
            ("0 24 * * ? *", "hours: 24 is outside 0-23"),
            ("60 * * * ? *", "minutes: 60 is outside 0-59"),
            ("0 0 * * * *", "day-of-month and day-of-week: one of them must be '?' (found `*` and `*`)"),
            ("0 0 ? * ? *", "day-of-month and day-of-week: one of them must be '?' (found `?` and `?`)"),
            ("0 0 ? * 3#6 *", "day-of-week: `#6` in `3#6`: the week of the month must be 1-5"),
            ("0 0 ? * 3#1,6#3 *", "day-of-week: `#` must stand alone, not in a list: `3#1,6#3`"),
            ("0 0 ? * */2 *", "day-of-week: `/` is not allowed in day-of-week"),
            ("0 0 ? * 8 *", "day-of-week: 8 is outside 1-7"),
            ("0 0 ? * FUN *", "day-of-week: `FUN` is not a number 1-7 or a name SUN-SAT"),
            ("0 0 1 13 ? *", "month: 13 is outside 1-12"),
            ("0 0 1 * ? 1969", "year: 1969 is outside 1970-2199"),
            ("0 0 1 * ? 2030-2020", "year: range `2030-2020` runs backwards"),
            ("0 0 L,1 * ? *", "day-of-month: `L` and `W` must stand alone, not in a list: `L,1`"),
            ("0 0 1-5W * ? *", "day-of-month: `1-5` is not a number 1-31"),
            ("0 0 32W * ? *", "day-of-month: 32 is outside 1-31"),
            ("*/0 * * * ? *", "minutes: step `0` in `*/0` must be a number 1-60"),
            ("0 0 * * ?", "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), found 5 in `cron(0 0 * * ?)`"),
            ("0 0 0 * ? *", "day-of-month: 0 is outside 1-31"),
            ("a * * * ? *", "minutes: `a` is not a number 0-59"),
            ("1- * * * ? *", "minutes: `` is not a number 0-59"),
        ];
        for (expr, want) in cases {
            assert_eq!(
                Cron::parse(expr).unwrap_err().to_string(),
                want,
                "cron({expr})"
            );
        }
    }

    #[test]
    fn names_are_case_insensitive_and_equal_to_numbers() {
        assert_eq!(
            Cron::parse("0 0 ? jan-Mar mon *").unwrap(),
            Cron::parse("0 0 ? 1-3 2 *").unwrap()
        );
    }
}
