//! What a job file says about alerts: which outcomes of a job's runs a person is told about and where (an SNS
//! topic, or an SQS queue for teams that route alerts themselves), and what a job promises (`expect`). How an
//! announcement is addressed to them is `domain::notify`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::duration::Span;

/// An outcome a person can be told about: the end of a run, a run that did not start, or the job's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Started,
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Stopped,
    Lost,
    /// A run that ended badly and is run again (the job's `retry`); the last attempt's ending is announced as
    /// itself.
    Retrying,
    LaunchFailed,
    Skipped,
    Missed,
    Rejected,
    /// No successful run within the job's `expect.success_within`.
    Overdue,
    /// The first success after the job was overdue.
    Recovered,
}

impl Outcome {
    pub const ALL: [Outcome; 14] = [
        Outcome::Started,
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Interrupted,
        Outcome::Stopped,
        Outcome::Lost,
        Outcome::Retrying,
        Outcome::LaunchFailed,
        Outcome::Skipped,
        Outcome::Missed,
        Outcome::Rejected,
        Outcome::Overdue,
        Outcome::Recovered,
    ];

    /// What `on:` says when it is left out: every outcome someone has to act on, and the recovery that follows one.
    pub const DEFAULT: [Outcome; 8] = [
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Lost,
        Outcome::LaunchFailed,
        Outcome::Missed,
        Outcome::Rejected,
        Outcome::Overdue,
        Outcome::Recovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Interrupted => "interrupted",
            Outcome::Stopped => "stopped",
            Outcome::Lost => "lost",
            Outcome::Retrying => "retrying",
            Outcome::LaunchFailed => "launch_failed",
            Outcome::Skipped => "skipped",
            Outcome::Missed => "missed",
            Outcome::Rejected => "rejected",
            Outcome::Overdue => "overdue",
            Outcome::Recovered => "recovered",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a job's `alerts`: these outcomes go to this destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The ARN of an SNS topic or an SQS queue.
    pub to: String,
    pub on: Vec<Outcome>,
}

/// What a job promises: `success_within` says how long it may go without a successful run before it is overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    pub success_within: Span,
}

/// Why an alert destination is not one: `None` for the ARN of an SNS topic or an SQS queue.
pub fn check_destination(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && matches!(parts[2], "sns" | "sqs")
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5].len() <= 256
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    (!valid).then(|| {
        format!(
            "`{arn}` is not the ARN of an SNS topic or SQS queue (write it like \
             arn:aws:sns:eu-west-1:123456789012:oncall)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_reads_back_from_its_name() {
        for o in Outcome::ALL {
            let parsed: Outcome = serde_json::from_value(serde_json::json!(o.as_str())).unwrap();
            assert_eq!(parsed, o);
        }
    }

    #[test]
    fn destinations_are_sns_topics_and_sqs_queues() {
        assert_eq!(
            check_destination("arn:aws:sns:eu-west-1:123456789012:oncall"),
            None
        );
        assert_eq!(
            check_destination("arn:aws-cn:sqs:cn-north-1:123456789012:alerts.fifo"),
            None
        );
        for bad in [
            "oncall",
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "arn:aws:sns:eu-west-1:12345:oncall",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:on call",
        ] {
            assert!(check_destination(bad).is_some(), "{bad}");
        }
    }
}
