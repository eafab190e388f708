//! What ECS says about a task (from DescribeTasks or a task state change event), and what that means for its run.

use chrono::{DateTime, Utc};

use super::run::{Capacity, RunStatus};

/// One container of a task as ECS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSnapshot {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A task as ECS reports it. `last_status` is ECS's own word (PROVISIONING, PENDING, RUNNING, ..., STOPPED).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskSnapshot {
    pub task_arn: String,
    pub last_status: String,
    /// The capacity it runs on, when ECS says.
    pub capacity: Option<Capacity>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerSnapshot>,
}

impl TaskSnapshot {
    pub fn is_stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    /// The open status the run has while the task is not stopped yet.
    pub fn open_status(&self) -> RunStatus {
        match self.last_status.as_str() {
            "RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" => RunStatus::Running,
            _ => RunStatus::Pending,
        }
    }

    /// The final status of a stopped task and the reason, in words a user can act on: SUCCEEDED when every container
    /// that reported an exit code exited 0; FAILED naming the first container that did not, or why the task never
    /// started. `None` while the task is still going.
    pub fn outcome(&self) -> Option<(RunStatus, String)> {
        if !self.is_stopped() {
            return None;
        }
        let why = self
            .stopped_reason
            .clone()
            .unwrap_or_else(|| "no reason given".to_owned());
        if let Some(failed) = self
            .containers
            .iter()
            .find(|c| c.exit_code.is_some_and(|code| code != 0))
        {
            let code = failed.exit_code.unwrap_or_default();
            let detail = failed
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Some((
                RunStatus::Failed,
                format!(
                    "container `{}` exited with code {code}{detail}",
                    failed.name
                ),
            ));
        }
        let exited = self.containers.iter().any(|c| c.exit_code.is_some());
        match self.stop_code.as_deref() {
            Some("TaskFailedToStart") => Some((
                RunStatus::Failed,
                format!("the task failed to start: {why}"),
            )),
            Some("SpotInterruption") => Some((
                RunStatus::Interrupted,
                format!("Fargate Spot reclaimed the capacity: {why}"),
            )),
            _ if exited => Some((RunStatus::Succeeded, "every container exited 0".to_owned())),
            _ => Some((
                RunStatus::Failed,
                format!("the task stopped without an exit code: {why}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(containers: &[(&str, Option<i32>)], stop_code: Option<&str>) -> TaskSnapshot {
        TaskSnapshot {
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/c/abc".to_owned(),
            last_status: "STOPPED".to_owned(),
            stop_code: stop_code.map(str::to_owned),
            stopped_reason: Some("Essential container in task exited".to_owned()),
            containers: containers
                .iter()
                .map(|(name, code)| ContainerSnapshot {
                    name: (*name).to_owned(),
                    exit_code: *code,
                    reason: None,
                })
                .collect(),
            ..TaskSnapshot::default()
        }
    }

    #[test]
    fn a_running_task_has_no_outcome_yet() {
        let mut task = stopped(&[("app", None)], None);
        task.last_status = "RUNNING".to_owned();
        assert_eq!(task.outcome(), None);
        assert_eq!(task.open_status(), RunStatus::Running);
        task.last_status = "PROVISIONING".to_owned();
        assert_eq!(task.open_status(), RunStatus::Pending);
    }

    #[test]
    fn every_exit_zero_succeeds_and_a_non_zero_exit_names_its_container() {
        let ok = stopped(
            &[("app", Some(0)), ("sidecar", Some(0))],
            Some("EssentialContainerExited"),
        );
        assert_eq!(ok.outcome().unwrap().0, RunStatus::Succeeded);
        let failed = stopped(&[("app", Some(0)), ("sidecar", Some(137))], None);
        assert_eq!(
            failed.outcome(),
            Some((
                RunStatus::Failed,
                "container `sidecar` exited with code 137".to_owned()
            ))
        );
    }

    #[test]
    fn tasks_that_never_started_or_were_reclaimed_say_so() {
        let (status, reason) = stopped(&[("app", None)], Some("TaskFailedToStart"))
            .outcome()
            .unwrap();
        assert_eq!(status, RunStatus::Failed);
        assert!(reason.starts_with("the task failed to start"), "{reason}");
        let (status, _) = stopped(&[("app", None)], Some("SpotInterruption"))
            .outcome()
            .unwrap();
        assert_eq!(status, RunStatus::Interrupted);
    }
}
