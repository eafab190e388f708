//! `fsched doctor`: is a deployed stack healthy? Its resources, what waits in its failure queues, its alarms, its
//! table's settings, and whether every stored job is one the stack may run. Each finding is a line with a verdict;
//! the command fails (exit 1) when any is a failure.

use std::io::Write;

use anyhow::Context;
use aws_sdk_cloudformation::types::StackResourceSummary;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::trigger::stack_tag;
use fsched_core::ports::JobStore;
use fsched_core::service::scope::scope_problems;
use serde::Serialize;
use serde_json::json;

use crate::aws::{stack_error, AwsArgs};
use crate::output::{emit, Format};
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {}

/// How one finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub verdict: Verdict,
    pub what: String,
    pub detail: String,
}

fn finding(verdict: Verdict, what: impl Into<String>, detail: impl Into<String>) -> Finding {
    Finding {
        verdict,
        what: what.into(),
        detail: detail.into(),
    }
}

/// What the stack's resources say, as CloudFormation lists them.
pub fn resources(listed: &[StackResourceSummary]) -> Vec<Finding> {
    let mut out = Vec::new();
    let functions = listed
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::Lambda::Function"))
        .count();
    out.push(if functions == 4 {
        finding(
            Verdict::Ok,
            "functions",
            "dispatcher, recorder, trigger and waker deployed",
        )
    } else {
        finding(
            Verdict::Fail,
            "functions",
            format!("{functions} of the 4 functions found in the stack"),
        )
    });
    for r in listed {
        let status = r.resource_status().map(|s| s.as_str()).unwrap_or_default();
        if !status.ends_with("_COMPLETE") || status.starts_with("DELETE") {
            out.push(finding(
                Verdict::Fail,
                format!("resource {}", r.logical_resource_id().unwrap_or_default()),
                format!(
                    "{status}{}",
                    r.resource_status_reason()
                        .map(|why| format!(": {why}"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    out
}

/// A setting template.yaml turns on: a warning when it is off.
fn setting(what: &str, on: bool, if_on: &str, if_off: &str) -> Finding {
    if on {
        finding(Verdict::Ok, what, if_on)
    } else {
        finding(Verdict::Warn, what, if_off)
    }
}

/// A failure queue's depth: anything in it is work fsched could not do.
pub fn queue(name: &str, depth: u64) -> Finding {
    if depth == 0 {
        finding(Verdict::Ok, format!("queue {name}"), "empty")
    } else {
        finding(
            Verdict::Fail,
            format!("queue {name}"),
            format!("{depth} message(s) waiting: see docs/security.md and the function's logs"),
        )
    }
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<u64> {
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .with_context(|| format!("reading queue {url}"))?;
    Ok(got
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// A function's errors in the last day: a warning, not a failure (a retried tick or event counts too).
pub fn errors_finding(name: &str, function: &str, errors: f64) -> Finding {
    if errors == 0.0 {
        finding(
            Verdict::Ok,
            format!("function {name}"),
            "no errors in the last 24 hours",
        )
    } else {
        finding(
            Verdict::Warn,
            format!("function {name}"),
            format!(
                "{errors} error(s) in the last 24 hours: see its log group /aws/lambda/{function}"
            ),
        )
    }
}

/// The sum of a function's `Errors` metric over the 24 hours before `now`.
async fn function_errors(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<f64> {
    use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let metric = Metric::builder()
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        )
        .build();
    let query = MetricDataQuery::builder()
        .id("errors")
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(86_400)
                .stat("Sum")
                .build(),
        )
        .build();
    let got = cw
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(AwsTime::from_secs(
            (now - chrono::Duration::days(1)).timestamp(),
        ))
        .end_time(AwsTime::from_secs(now.timestamp()))
        .send()
        .await
        .with_context(|| format!("reading the Errors metric of {function}"))?;
    Ok(got
        .metric_data_results()
        .iter()
        .flat_map(|r| r.values())
        .sum())
}

pub async fn run(
    _: Args,
    aws: &AwsArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let Some(stack) = aws.stack_name() else {
        return Err(Failure::Invalid(
            "doctor checks a deployed stack: pass --stack (or set FSCHED_STACK)".to_owned(),
        ));
    };
    let config = aws.config().await?;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let listed: Vec<StackResourceSummary> = cfn
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| stack_error(stack, &e))?;
    let mut findings = resources(&listed);

    let sqs = aws_sdk_sqs::Client::new(&config);
    for r in listed.iter().filter(|r| {
        r.resource_type() == Some("AWS::SQS::Queue")
            && r.logical_resource_id()
                .is_some_and(|id| id.starts_with("Failed") || id.starts_with("Undelivered"))
    }) {
        let name = r.logical_resource_id().unwrap_or_default();
        let url = r.physical_resource_id().unwrap_or_default();
        findings.push(match queue_depth(&sqs, url).await {
            Ok(depth) => queue(name, depth),
            Err(e) => finding(Verdict::Fail, format!("queue {name}"), format!("{e:#}")),
        });
    }

    let cw = aws_sdk_cloudwatch::Client::new(&config);
    for r in listed
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::Lambda::Function"))
    {
        let name = r.logical_resource_id().unwrap_or_default();
        let function = r.physical_resource_id().unwrap_or_default();
        findings.push(match function_errors(&cw, function, now).await {
            Ok(errors) => errors_finding(name, function, errors),
            Err(e) => finding(Verdict::Warn, format!("function {name}"), format!("{e:#}")),
        });
    }

    let alarms: Vec<String> = listed
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::CloudWatch::Alarm"))
        .filter_map(|r| r.physical_resource_id().map(str::to_owned))
        .collect();
    if alarms.is_empty() {
        findings.push(finding(Verdict::Warn, "alarms", "none found in the stack"));
    } else {
        let described = aws_sdk_cloudwatch::Client::new(&config)
            .describe_alarms()
            .set_alarm_names(Some(alarms))
            .send()
            .await
            .context("reading the stack's alarms")?;
        for alarm in described.metric_alarms() {
            let state = alarm.state_value().map(|s| s.as_str()).unwrap_or("?");
            let name = alarm.alarm_name().unwrap_or_default();
            findings.push(match state {
                "OK" => finding(Verdict::Ok, format!("alarm {name}"), "OK"),
                "ALARM" => finding(
                    Verdict::Fail,
                    format!("alarm {name}"),
                    alarm.alarm_description().unwrap_or("in ALARM").to_owned(),
                ),
                other => finding(Verdict::Warn, format!("alarm {name}"), other.to_owned()),
            });
        }
    }

    let store = aws.store_with(&config).await?;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let ttl = ddb
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .context("reading the table's TTL")?;
    let ttl_on = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    findings.push(setting(
        "table TTL",
        ttl_on,
        "on: runs expire with their job's history",
        "off: run records are never deleted (template.yaml turns it on)",
    ));
    let backups = ddb
        .describe_continuous_backups()
        .table_name(store.table())
        .send()
        .await
        .context("reading the table's backups")?;
    let pitr_on = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    findings.push(setting(
        "table backups",
        pitr_on,
        "point-in-time recovery on",
        "point-in-time recovery off (template.yaml turns it on)",
    ));

    // Every stored job, checked as `plan --stack` checks a file's.
    if let Some(scope) = aws.stack_scope(&config).await? {
        let jobs = store.list_jobs().await.context("reading the stored jobs")?;
        let file = JobsFile {
            jobs: jobs.into_iter().map(|j| (j.name, j.spec)).collect(),
            services: Default::default(),
        };
        let ecs = EcsLauncher::new(aws_sdk_ecs::Client::new(&config), stack_tag(store.table()));
        let problems = scope_problems(&ecs, &scope, &file).await;
        if problems.is_empty() {
            findings.push(finding(
                Verdict::Ok,
                "jobs",
                format!(
                    "all {} stored job(s) within the stack's permissions",
                    file.jobs.len()
                ),
            ));
        }
        for p in problems {
            findings.push(finding(Verdict::Fail, "jobs", p));
        }
    }

    let failed = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    match format {
        Format::Json | Format::Yaml => {
            let body = json!({"stack": stack, "ok": failed == 0, "findings": findings});
            emit(out, format, "DoctorReport", body)?;
        }
        Format::Table | Format::Wide => {
            for f in &findings {
                let verdict = match f.verdict {
                    Verdict::Ok => "ok  ",
                    Verdict::Warn => "WARN",
                    Verdict::Fail => "FAIL",
                };
                writeln!(out, "{verdict}  {:<28} {}", f.what, f.detail)?;
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Other(anyhow::anyhow!(
            "stack `{stack}`: {failed} check(s) failed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn resource(id: &str, kind: &str, status: ResourceStatus) -> StackResourceSummary {
        StackResourceSummary::builder()
            .logical_resource_id(id)
            .resource_type(kind)
            .resource_status(status)
            .last_updated_timestamp(aws_smithy_types::DateTime::from_secs(0))
            .build()
    }

    #[test]
    fn missing_functions_and_failed_resources_fail() {
        let complete = ResourceStatus::CreateComplete;
        let all = [
            resource("Dispatcher", "AWS::Lambda::Function", complete.clone()),
            resource("Recorder", "AWS::Lambda::Function", complete.clone()),
            resource("Trigger", "AWS::Lambda::Function", complete.clone()),
            resource("Waker", "AWS::Lambda::Function", complete.clone()),
        ];
        assert!(resources(&all).iter().all(|f| f.verdict == Verdict::Ok));
        let broken = [
            all[0].clone(),
            resource(
                "Table",
                "AWS::DynamoDB::Table",
                ResourceStatus::CreateFailed,
            ),
        ];
        let found = resources(&broken);
        assert_eq!(
            found.iter().filter(|f| f.verdict == Verdict::Fail).count(),
            2,
            "{found:?}"
        );
        assert!(found.iter().any(|f| f.what == "resource Table"));
    }

    #[test]
    fn function_errors_warn_and_name_the_log_group() {
        assert_eq!(
            errors_finding("Dispatcher", "s-Dispatcher-X", 0.0).verdict,
            Verdict::Ok
        );
        let some = errors_finding("Dispatcher", "s-Dispatcher-X", 4.0);
        assert_eq!(some.verdict, Verdict::Warn);
        assert!(
            some.detail.contains("/aws/lambda/s-Dispatcher-X"),
            "{}",
            some.detail
        );
    }

    #[test]
    fn a_queue_with_messages_fails() {
        assert_eq!(queue("FailedTicks", 0).verdict, Verdict::Ok);
        let waiting = queue("FailedTicks", 3);
        assert_eq!(waiting.verdict, Verdict::Fail);
        assert!(waiting.detail.starts_with("3 message(s)"));
    }
}
