//! Where a run's container output is: read off its task definition's log configuration. With the `awslogs`
//! driver, ECS writes each container's output to CloudWatch Logs, group `awslogs-group`, stream
//! `<awslogs-stream-prefix>/<container>/<task id>` (Fargate requires the prefix). Any other driver sends it
//! elsewhere, which fsched says instead of guessing.

use std::collections::BTreeMap;
use std::fmt;

/// A container's log configuration, as its task definition declares it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerLogs {
    pub container: String,
    /// `awslogs`, `awsfirelens`, `splunk`, ...; `None` when the container has no log configuration.
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// Where one container's output is in CloudWatch Logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub container: String,
    pub group: String,
    /// `awslogs-region`; `None`: the task's own Region.
    pub region: Option<String>,
    pub stream: String,
}

impl fmt::Display for LogStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.container, self.group, self.stream)?;
        if let Some(region) = &self.region {
            write!(f, " ({region})")?;
        }
        Ok(())
    }
}

/// Why a run's output cannot be read from CloudWatch Logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogsError {
    #[error("the task definition has no container `{asked}` (it has: {})", .known.join(", "))]
    NoSuchContainer { asked: String, known: Vec<String> },
    #[error(
        "the output of {} is not in CloudWatch Logs: {}. fsched reads containers that log with the `awslogs` driver",
        .containers.join(", "),
        .why.join("; ")
    )]
    Elsewhere {
        containers: Vec<String>,
        why: Vec<String>,
    },
}

/// The task id: the last part of a task ARN (`arn:aws:ecs:<region>:<account>:task/<cluster>/<id>`).
pub fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// The streams of a task's containers (only `container` when given), in the definition's order. Containers that
/// log elsewhere are left out while at least one logs to CloudWatch; when none does, the error says where each
/// one's output goes.
pub fn streams(
    logs: &[ContainerLogs],
    task_arn: &str,
    container: Option<&str>,
) -> Result<Vec<LogStream>, LogsError> {
    let chosen: Vec<&ContainerLogs> = match container {
        Some(name) => {
            let found: Vec<_> = logs.iter().filter(|c| c.container == name).collect();
            if found.is_empty() {
                return Err(LogsError::NoSuchContainer {
                    asked: name.to_owned(),
                    known: logs.iter().map(|c| c.container.clone()).collect(),
                });
            }
            found
        }
        None => logs.iter().collect(),
    };
    let mut out = Vec::new();
    let mut why = Vec::new();
    for c in &chosen {
        match (c.driver.as_deref(), c.options.get("awslogs-group")) {
            (Some("awslogs"), Some(group)) => {
                let stream = match c.options.get("awslogs-stream-prefix") {
                    Some(prefix) => format!("{prefix}/{}/{}", c.container, task_id(task_arn)),
                    None => {
                        why.push(format!(
                            "`{}` has no awslogs-stream-prefix (Fargate requires one)",
                            c.container
                        ));
                        continue;
                    }
                };
                out.push(LogStream {
                    container: c.container.clone(),
                    group: group.clone(),
                    region: c.options.get("awslogs-region").cloned(),
                    stream,
                });
            }
            (Some("awslogs"), None) => {
                why.push(format!("`{}` names no awslogs-group", c.container))
            }
            (Some("awsfirelens"), _) => why.push(format!(
                "`{}` logs through FireLens, to where its log router sends it",
                c.container
            )),
            (Some(driver), _) => {
                why.push(format!("`{}` logs with the `{driver}` driver", c.container))
            }
            (None, _) => why.push(format!(
                "`{}` has no log configuration, so its output is not kept",
                c.container
            )),
        }
    }
    if out.is_empty() {
        return Err(LogsError::Elsewhere {
            containers: chosen
                .iter()
                .map(|c| format!("`{}`", c.container))
                .collect(),
            why,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = "arn:aws:ecs:eu-west-1:123456789012:task/data/0123456789abcdef";

    fn container(name: &str, driver: Option<&str>, options: &[(&str, &str)]) -> ContainerLogs {
        ContainerLogs {
            container: name.to_owned(),
            driver: driver.map(str::to_owned),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn awslogs_containers_have_a_stream_per_container_and_task() {
        let logs = [
            container(
                "app",
                Some("awslogs"),
                &[
                    ("awslogs-group", "/ecs/etl"),
                    ("awslogs-stream-prefix", "etl"),
                ],
            ),
            container("sidecar", Some("splunk"), &[]),
        ];
        let found = streams(&logs, TASK, None).unwrap();
        assert_eq!(
            found,
            [LogStream {
                container: "app".into(),
                group: "/ecs/etl".into(),
                region: None,
                stream: "etl/app/0123456789abcdef".into(),
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "app: /ecs/etl etl/app/0123456789abcdef"
        );
    }

    #[test]
    fn output_kept_elsewhere_or_a_wrong_container_is_said_plainly() {
        let logs = [
            container("app", Some("awsfirelens"), &[]),
            container("sidecar", None, &[]),
        ];
        let err = streams(&logs, TASK, None).unwrap_err().to_string();
        assert!(err.contains("`app` logs through FireLens"), "{err}");
        assert!(err.contains("`sidecar` has no log configuration"), "{err}");
        let err = streams(&logs, TASK, Some("ap")).unwrap_err().to_string();
        assert_eq!(
            err,
            "the task definition has no container `ap` (it has: app, sidecar)"
        );
        let no_prefix = [container(
            "app",
            Some("awslogs"),
            &[("awslogs-group", "/ecs/etl")],
        )];
        let err = streams(&no_prefix, TASK, Some("app"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no awslogs-stream-prefix"), "{err}");
    }
}
