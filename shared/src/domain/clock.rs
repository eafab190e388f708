//! Whose clock to believe. fsched takes "now" from what it handles (a tick's `time`, an event's `time`), so that a
//! redelivery replays the same decisions. Those times are written by whoever sends the event, so each is checked
//! against a clock fsched trusts before it decides anything:
//!
//! - a tick may be late (Lambda retries a failed tick for up to 6 hours) but not ahead of the function's own clock by
//!   more than the skew: a tick from the future would count real fires as missed and move jobs' next fires past
//!   them, so it is refused;
//! - an event's `time` stands when it is at most `LATE_MAX` before, and at most the skew after, the moment SQS
//!   received the delivery (the message's `SentTimestamp`, set by AWS). Otherwise that moment stands in: it is the
//!   same on every redelivery of the message, so a redelivery still replays the same decisions;
//! - fsched's own announcements (a run's end) are sent again from the run's outbox until the bus takes them, each
//!   copy a new message: their `time` stands for up to `ANNOUNCEMENT_LATE_MAX`, so the copies of one announcement
//!   delivered days late (after an outage of the bus) still agree on it.

use chrono::{DateTime, Utc};

use super::duration::Span;

/// How far ahead of fsched's clock a sender's may be, unless the stack says otherwise (`MaxClockSkew`).
pub const DEFAULT_SKEW: Span = Span::from_secs(5 * 60);
/// How long before its delivery an event's time may be: EventBridge retries a delivery for at most 24 hours.
pub const LATE_MAX: Span = Span::from_secs(24 * 3600);
/// How long before its delivery one of fsched's own announcements may be. A run's outbox sends its announcement
/// again every minute until the bus takes it, each time as a new event with the announcement's own time, so after
/// a long outage of the bus the copies arrive days late. Every copy must key the same chained run, so their time
/// stands for longer than any other sender's.
pub const ANNOUNCEMENT_LATE_MAX: Span = Span::from_secs(7 * 24 * 3600);

/// A tick whose time is further ahead of the function's clock than the skew allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the tick's time {} is {} ahead of this function's clock ({}), more than the {skew} allowed: refused, \
     nothing was read or written",
    claimed.format("%Y-%m-%dT%H:%M:%SZ"),
    ahead.brief(),
    clock.format("%Y-%m-%dT%H:%M:%SZ")
)]
pub struct ClockSkew {
    pub claimed: DateTime<Utc>,
    pub clock: DateTime<Utc>,
    pub ahead: Span,
    pub skew: Span,
}

/// When fsched received something, by a clock it trusts, and how far ahead of it a sender's clock may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub at: DateTime<Utc>,
    pub skew: Span,
}

impl Receipt {
    pub fn new(at: DateTime<Utc>, skew: Span) -> Self {
        Receipt { at, skew }
    }

    /// The time a tick runs at: its own, unless that is ahead of the receipt by more than the skew.
    pub fn tick(&self, claimed: DateTime<Utc>) -> Result<DateTime<Utc>, ClockSkew> {
        if claimed <= self.at + self.skew.to_chrono() {
            return Ok(claimed);
        }
        Err(ClockSkew {
            claimed,
            clock: self.at,
            ahead: Span::from_chrono(claimed - self.at),
            skew: self.skew,
        })
    }

    /// The time an event is handled at: its own when it is plausible (at most `LATE_MAX` before the receipt, at most
    /// the skew after), otherwise the receipt's.
    pub fn event(&self, claimed: DateTime<Utc>) -> DateTime<Utc> {
        self.within(claimed, LATE_MAX)
    }

    /// The time one of fsched's own announcements is handled at: as `event`, but its own for up to
    /// `ANNOUNCEMENT_LATE_MAX` before the receipt.
    pub fn announcement(&self, claimed: DateTime<Utc>) -> DateTime<Utc> {
        self.within(claimed, ANNOUNCEMENT_LATE_MAX)
    }

    fn within(&self, claimed: DateTime<Utc>, late_max: Span) -> DateTime<Utc> {
        let earliest = self.at - late_max.to_chrono();
        let latest = self.at + self.skew.to_chrono();
        if (earliest..=latest).contains(&claimed) {
            claimed
        } else {
            self.at
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_tick_may_be_late_but_not_ahead_by_more_than_the_skew() {
        let r = Receipt::new(utc("2026-11-29T10:00:00Z"), DEFAULT_SKEW);
        for ok in [
            "2026-11-29T10:05:00Z",
            "2026-11-29T10:00:00Z",
            "2026-11-29T04:00:00Z",
            "1971-01-01T00:00:00Z",
        ] {
            assert_eq!(r.tick(utc(ok)), Ok(utc(ok)), "{ok}");
        }
        let err = r.tick(utc("2026-11-29T10:05:01Z")).unwrap_err();
        assert_eq!(err.ahead, Span::from_secs(301));
        let far = r.tick(utc("9999-12-31T23:59:00Z")).unwrap_err().to_string();
        assert!(
            far.contains("9999-12-31T23:59:00Z is 2912110d 13h ahead")
                && far.contains("more than the 5m allowed"),
            "{far}"
        );
    }

    #[test]
    fn an_events_time_stands_only_within_a_day_before_and_the_skew_after_its_receipt() {
        let at = utc("2026-11-29T10:00:00Z");
        let r = Receipt::new(at, DEFAULT_SKEW);
        for kept in [
            "2026-11-29T10:00:00Z",
            "2026-11-29T10:05:00Z",
            "2026-11-28T10:00:00Z",
            "2026-11-29T09:59:59Z",
        ] {
            assert_eq!(r.event(utc(kept)), utc(kept), "{kept}");
        }
        for replaced in [
            "9999-12-31T23:59:00Z",
            "2026-11-29T10:05:01Z",
            "2026-11-28T09:59:59Z",
            "1971-01-01T00:00:00Z",
        ] {
            assert_eq!(r.event(utc(replaced)), at, "{replaced}");
        }
        let wide = Receipt::new(at, Span::from_secs(2 * 86_400));
        assert_eq!(
            wide.event(utc("2026-11-30T10:00:00Z")),
            utc("2026-11-30T10:00:00Z")
        );
    }
}
