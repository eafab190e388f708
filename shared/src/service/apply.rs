//! `plan` and `apply` of a jobs file: jobs, services and the stack's EventBridge rules as one change set, computed
//! against what is stored and written in a fixed order (services, jobs, then rules). Each job or service is one
//! conditional write, so a failure part-way leaves each at either its old or its new definition, and a concurrent
//! writer is detected, never overwritten. The CLI renders what this returns and picks exit codes; nothing else.

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};

use super::rules::{apply_rules, rule_plan, RuleScope};
use crate::domain::clock::DEFAULT_SKEW;
use crate::domain::health;
use crate::domain::job::{fire_from, moves_fires, repair, Job, JobName};
use crate::domain::jobs_file::JobsFile;
use crate::domain::plan::{plan, Change, Declared, FieldChange, Plan};
use crate::domain::service::{Phase, ServiceName, ServiceState};
use crate::domain::trigger::{
    desired_alert_rules, desired_rules, desired_service_rules, RuleChange,
};
use crate::ports::{EventRules, JobStore, RuleError, ServiceStore, StoreError};

/// Everything applying a file would change.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub jobs: Plan<Job>,
    pub services: Plan<ServiceState>,
    /// The rule changes, when the stack's bus and trigger queue are known (`None`: not known, and nothing in the
    /// file needs a rule).
    pub rules: Option<(RuleScope, Vec<RuleChange>)>,
}

/// How many jobs `apply --prune` removes without an explicit yes (it always wants one to remove every job).
pub const PRUNE_WITHOUT_YES: usize = 3;

impl FilePlan {
    /// What applying would remove: jobs, and services that are awake (an asleep one is kept, see `Outcome`).
    pub fn removals(&self) -> Vec<String> {
        let jobs = self.jobs.changes.iter().filter_map(|c| match c {
            Change::Remove { current } => Some(format!("job {}", current.name)),
            _ => None,
        });
        let services = self.services.changes.iter().filter_map(|c| match c {
            Change::Remove { current } if current.phase != Phase::Asleep => {
                Some(format!("service {}", current.name))
            }
            _ => None,
        });
        jobs.chain(services).collect()
    }

    /// Why applying wants an explicit yes: it removes every stored job, or more than `PRUNE_WITHOUT_YES` jobs. A
    /// file that lost its content by mistake (an empty `jobs:`, a second YAML document that was meant to be the
    /// file) must not wipe a stack. (Services are not counted: removing one stops fsched managing it, its tasks
    /// keep running, and an asleep one is never removed.)
    pub fn needs_yes(&self) -> Option<String> {
        let (_, _, jobs) = self.jobs.counts();
        let what = if jobs > 0 && jobs == self.jobs.stored() {
            format!("every stored job ({jobs})")
        } else if jobs > PRUNE_WITHOUT_YES {
            format!("{jobs} jobs, more than {PRUNE_WITHOUT_YES}")
        } else {
            return None;
        };
        Some(format!(
            "--prune would remove {what}: {}; if that is what you want, apply again with --yes",
            self.removals().join(", ")
        ))
    }

    /// Whether applying it would write anything.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
            && self.services.is_empty()
            && self.rules.as_ref().is_none_or(|(_, c)| c.is_empty())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("reading the stored {what}: {source}")]
    Store {
        what: &'static str,
        source: StoreError,
    },
    #[error("reading the stack's EventBridge rules: {0}")]
    Rules(#[from] RuleError),
    /// The file has `on_event`, `alerts` or `wake_on`, and the stack's bus and trigger queue were not given.
    #[error(
        "{} need the stack's event bus and trigger queue (their EventBridge rules live there): pass \
         --stack (FSCHED_STACK), or --bus and --trigger-queue (FSCHED_EVENT_BUS, FSCHED_TRIGGER_QUEUE)",
        .needing.join(", ")
    )]
    NeedsStack { needing: Vec<String> },
}

impl PlanError {
    /// The file (or how the command was called) is at fault, not the table or the account.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, PlanError::NeedsStack { .. })
    }
}

/// What the file would change against what is stored at `now`. `scope`: where the stack's rules live, when known.
pub async fn plan_file<S: JobStore + ServiceStore, R: EventRules>(
    store: &S,
    rules: &R,
    file: &JobsFile,
    scope: Option<RuleScope>,
    prune: bool,
    now: DateTime<Utc>,
) -> Result<FilePlan, PlanError> {
    let stored = store.list_jobs().await.map_err(|source| PlanError::Store {
        what: "jobs",
        source,
    })?;
    let mut jobs = plan(&file.jobs, &stored, prune);
    repairs(&mut jobs, &stored, now);
    let stored_services = store
        .list_services()
        .await
        .map_err(|source| PlanError::Store {
            what: "services",
            source,
        })?;
    let services = plan(&file.services, &stored_services, prune);
    let rules = match scope {
        Some(scope) => {
            // The rules wanted once applied: the file's, and those of stored jobs and services that stay.
            let bus = &scope.buses[0];
            let mut desired = desired_rules(file.jobs.iter().chain(jobs.kept()), &scope.stack, bus);
            desired.extend(desired_service_rules(
                file.services.iter().chain(services.kept()),
                &scope.stack,
                bus,
            ));
            desired.extend(desired_alert_rules(
                file.jobs.iter().chain(jobs.kept()),
                &scope.stack,
                bus,
            ));
            let changes = rule_plan(rules, &scope, &desired).await?;
            Some((scope, changes))
        }
        None => {
            let needing = super::rules::needing_rules(file);
            if !needing.is_empty() {
                return Err(PlanError::NeedsStack { needing });
            }
            None
        }
    };
    Ok(FilePlan {
        jobs,
        services,
        rules,
    })
}

/// Turns each unchanged job whose stored fire times cannot be right (`domain::job::repair`) into an update of those
/// times, so `plan` shows it and `apply` writes it.
fn repairs(jobs: &mut Plan<Job>, stored: &[Job], now: DateTime<Utc>) {
    let show = |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
    jobs.unchanged.retain(|name| {
        let Some(current) = stored.iter().find(|j| &j.name == name) else {
            return true;
        };
        let Some(fixed) = repair(current, now, DEFAULT_SKEW) else {
            return true;
        };
        let mut fields = Vec::new();
        for (field, from, to) in [
            ("next_fire", current.next_fire, fixed.next_fire),
            ("last_fire", current.last_fire, fixed.last_fire),
        ] {
            if from != to {
                fields.push(FieldChange {
                    field: format!("{field} (repaired)"),
                    from: show(from),
                    to: show(to),
                });
            }
        }
        jobs.changes.push(Change::Update {
            current: Box::new(current.clone()),
            spec: Box::new(current.spec.clone()),
            fields,
        });
        false
    });
}

/// What happened to one job or service when a plan was applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created,
    Updated,
    Removed,
    /// A service not removed: it is asleep, and removing it would leave it at 0 with nobody to wake it.
    KeptAsleep,
    /// Someone changed it since the plan was made: nothing was written for it.
    Conflict(String),
    /// The write failed for another reason: nothing was written for it.
    Failed(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        !matches!(self, Outcome::Conflict(_) | Outcome::Failed(_))
    }

    /// One word for it, as JSON output reports it.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Removed => "removed",
            Outcome::KeptAsleep => "kept_asleep",
            Outcome::Conflict(_) => "conflict",
            Outcome::Failed(_) => "failed",
        }
    }
}

fn outcome_of(result: Result<(), StoreError>, ok: Outcome) -> Outcome {
    match result {
        Ok(()) => ok,
        Err(StoreError::Conflict { .. }) => Outcome::Conflict(
            "changed by someone else since the plan was made; run plan and apply again".to_owned(),
        ),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// What applying a plan did, change by change.
#[derive(Debug, Default)]
pub struct Applied {
    pub services: Vec<(ServiceName, Outcome)>,
    pub jobs: Vec<(JobName, Outcome)>,
    pub rules: Vec<(RuleChange, Result<(), RuleError>)>,
}

impl Applied {
    /// How many services, jobs and rules were not changed as planned.
    pub fn failures(&self) -> (usize, usize, usize) {
        fn failed<N>(outcomes: &[(N, Outcome)]) -> usize {
            outcomes.iter().filter(|(_, o)| !o.is_ok()).count()
        }
        (
            failed(&self.services),
            failed(&self.jobs),
            self.rules.iter().filter(|(_, r)| r.is_err()).count(),
        )
    }
}

/// Makes the plan's changes: services, then jobs, then rules, each change on its own (one failing does not stop
/// the others). A job whose schedule moves gets its next fire after `now`; a changed service takes the phase its
/// new periods want at the next tick.
pub async fn apply_file<S: JobStore + ServiceStore, R: EventRules>(
    store: &S,
    rules: &R,
    plan: FilePlan,
    now: DateTime<Utc>,
) -> Applied {
    Applied {
        services: apply_services(store, &plan.services, now).await,
        jobs: apply_jobs(store, &plan.jobs, now).await,
        rules: match plan.rules {
            Some((scope, changes)) => apply_rules(rules, &scope, changes).await,
            None => Vec::new(),
        },
    }
}

/// How many writes of a plan are in flight at once: 10,000 new jobs take about 10,000 / 16 round trips, and a
/// DynamoDB table on demand takes the burst (throttled writes are retried by the SDK).
pub const APPLY_CONCURRENCY: usize = 16;

/// Each change of a plan made by `one`, up to `APPLY_CONCURRENCY` at once, with its outcome in the plan's order
/// (changes that keep things as they are left out). Each change is its own conditional write, so their order among
/// themselves does not matter.
async fn each<D: Declared>(
    plan: &Plan<D>,
    one: impl AsyncFn(&Change<D>) -> Option<Outcome>,
) -> Vec<(D::Name, Outcome)> {
    let one = &one;
    stream::iter(&plan.changes)
        .map(|change| async move { one(change).await.map(|o| (change.name().clone(), o)) })
        .buffered(APPLY_CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await
}

/// Writes the jobs' changes, one conditional write per job.
pub async fn apply_jobs<S: JobStore>(
    store: &S,
    plan: &Plan<Job>,
    now: DateTime<Utc>,
) -> Vec<(JobName, Outcome)> {
    each(plan, async |change| apply_job(store, change, now).await).await
}

/// Writes the services' changes, one conditional write per service.
pub async fn apply_services<S: ServiceStore>(
    store: &S,
    plan: &Plan<ServiceState>,
    now: DateTime<Utc>,
) -> Vec<(ServiceName, Outcome)> {
    each(plan, async |change| apply_service(store, change, now).await).await
}

/// One job's change; `None` for a job kept as it is.
async fn apply_job<S: JobStore>(
    store: &S,
    change: &Change<Job>,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    Some(match change {
        Change::Add { name, spec } => {
            let job = Job {
                name: name.clone(),
                spec: (**spec).clone(),
                version: 1,
                next_fire: fire_from(spec, now),
                last_fire: None,
                health: health::applied(None, spec, now),
            };
            outcome_of(store.put_job(&job, None).await, Outcome::Created)
        }
        Change::Update { current, spec, .. } => {
            let repaired = repair(current, now, DEFAULT_SKEW);
            let next_fire = match repaired {
                _ if moves_fires(&current.spec, spec) => fire_from(spec, now),
                Some(fixed) => fixed.next_fire,
                None => current.next_fire,
            };
            let job = Job {
                spec: (**spec).clone(),
                version: current.version + 1,
                next_fire,
                last_fire: repaired.map_or(current.last_fire, |fixed| fixed.last_fire),
                health: health::applied(Some(&current.health), spec, now),
                ..(**current).clone()
            };
            outcome_of(
                store.put_job(&job, Some(current.version)).await,
                Outcome::Updated,
            )
        }
        Change::Remove { current } => outcome_of(
            store.delete_job(&current.name, current.version).await,
            Outcome::Removed,
        ),
        Change::Keep { .. } => return None,
    })
}

/// One service's change; `None` for a service kept as it is.
async fn apply_service<S: ServiceStore>(
    store: &S,
    change: &Change<ServiceState>,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    Some(match change {
        Change::Add { name, spec } => {
            let state = ServiceState::declared(name.clone(), (**spec).clone(), now);
            outcome_of(store.put_service(&state, None).await, Outcome::Created)
        }
        Change::Update { current, spec, .. } => {
            let mut state = (**current).clone();
            state.spec = (**spec).clone();
            state.transition_at = Some(now);
            state.check_at = Some(now);
            state.version += 1;
            outcome_of(
                store.put_service(&state, Some(current.version)).await,
                Outcome::Updated,
            )
        }
        Change::Remove { current } if current.phase == Phase::Asleep => Outcome::KeptAsleep,
        Change::Remove { current } => outcome_of(
            store.delete_service(&current.name, current.version).await,
            Outcome::Removed,
        ),
        Change::Keep { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::job::JobSpec;

    fn stored(n: usize) -> Vec<Job> {
        (0..n)
            .map(|i| Job {
                name: JobName::new(format!("job-{i}")).unwrap(),
                spec: JobSpec::placeholder(),
                version: 1,
                next_fire: None,
                last_fire: None,
                health: Default::default(),
            })
            .collect()
    }

    fn keeping(n: usize) -> BTreeMap<JobName, JobSpec> {
        (0..n)
            .map(|i| {
                (
                    JobName::new(format!("job-{i}")).unwrap(),
                    JobSpec::placeholder(),
                )
            })
            .collect()
    }

    fn file_plan(jobs: Plan<Job>) -> FilePlan {
        FilePlan {
            jobs,
            services: Plan::default(),
            rules: None,
        }
    }

    #[test]
    fn pruning_every_job_or_more_than_a_few_wants_a_yes() {
        let ten = stored(10);
        let few = file_plan(plan(&keeping(7), &ten, true));
        assert_eq!(few.removals().len(), 3);
        assert_eq!(few.needs_yes(), None);
        let many = file_plan(plan(&keeping(6), &ten, true));
        assert!(many.needs_yes().unwrap().contains("4 jobs, more than 3"));
        let all = file_plan(plan(&BTreeMap::new(), &stored(2), true));
        let why = all.needs_yes().unwrap();
        assert!(
            why.contains("every stored job (2)") && why.contains("job job-0, job job-1"),
            "{why}"
        );
        let kept = file_plan(plan(&BTreeMap::new(), &ten, false));
        assert_eq!(kept.needs_yes(), None, "without --prune nothing is removed");
        let nothing = file_plan(plan(&BTreeMap::new(), &[], true));
        assert_eq!(nothing.needs_yes(), None);
    }
}
