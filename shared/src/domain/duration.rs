//! `Span`: a whole-second duration written the way people write it in a jobs file (`90s`, `10m`, `1h 30m`, `90d`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration in whole seconds, read and written as a humantime string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a duration: {reason} (write it like `90s`, `10m`, `2h`, `1h 30m` or `90d`)"
)]
pub struct SpanError {
    pub input: String,
    pub reason: String,
}

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn from_secs(secs: u64) -> Self {
        Span(secs)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    pub fn to_chrono(self) -> chrono::Duration {
        // Spans come from humantime, whose largest value fits i64 seconds comfortably for any realistic input;
        // saturate instead of wrapping for the absurd ones.
        chrono::Duration::seconds(i64::try_from(self.0).unwrap_or(i64::MAX / 1000))
    }

    /// A span of whole seconds from a chrono duration; negative durations become zero.
    pub fn from_chrono(d: chrono::Duration) -> Self {
        Span(u64::try_from(d.num_seconds()).unwrap_or(0))
    }
}

impl Span {
    /// The span in its two largest units, for tables where columns line up: `45s`, `6m 14s`, `2h 03m`, `3d 4h`.
    /// `Display` writes it exactly instead (`1d 1s`), in the form a jobs file reads back.
    pub fn brief(self) -> String {
        match self.0 {
            s if s < 60 => format!("{s}s"),
            s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
            s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
            s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        }
    }
}

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            return Err(SpanError {
                input: s.to_owned(),
                reason: format!("a number needs a unit: `{text}m` is {text} minutes (or `{text}s`, `{text}h`, `{text}d`)"),
            });
        }
        let d = humantime::parse_duration(text).map_err(|e| SpanError {
            input: s.to_owned(),
            reason: e.to_string(),
        })?;
        if d.subsec_nanos() != 0 {
            return Err(SpanError {
                input: s.to_owned(),
                reason: "fsched works in whole seconds".to_owned(),
            });
        }
        Ok(Span(d.as_secs()))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Days are the largest unit: humantime's months and years are averages, not what a user wrote.
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        let mut sep = "";
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{sep}{}{unit}", rest / size)?;
                rest %= size;
                sep = " ";
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_forms_people_write() {
        for (input, secs, shown) in [
            ("90s", 90, "1m 30s"),
            ("10m", 600, "10m"),
            ("1h 30m", 5400, "1h 30m"),
            ("90d", 90 * 86400, "90d"),
            ("1day 1s", 86401, "1d 1s"),
            ("0s", 0, "0s"),
        ] {
            let span: Span = input.parse().unwrap();
            assert_eq!(span.as_secs(), secs, "{input}");
            assert_eq!(span.to_string(), shown, "{input}");
            assert_eq!(
                span.to_string().parse::<Span>().unwrap(),
                span,
                "round trip of {input}"
            );
        }
    }

    #[test]
    fn brief_keeps_the_two_largest_units() {
        for (secs, shown) in [
            (45, "45s"),
            (374, "6m 14s"),
            (7380, "2h 03m"),
            (46_800, "13h 00m"),
            (273_600, "3d 4h"),
        ] {
            assert_eq!(Span::from_secs(secs).brief(), shown);
        }
    }

    #[test]
    fn rejects_garbage_and_fractions_with_a_hint() {
        let err = "ten minutes".parse::<Span>().unwrap_err();
        assert!(
            err.to_string().contains("`ten minutes` is not a duration"),
            "{err}"
        );
        assert!(err.to_string().contains("10m"), "{err}");
        let err = "1500ms".parse::<Span>().unwrap_err();
        assert!(err.to_string().contains("whole seconds"), "{err}");
    }
}
