//! The contract functions, one module per port, and the fixtures they share (also used by `tests/`).

pub mod launcher;
pub mod rollups;
pub mod scaler;
pub mod store;

use crate::domain::cost::Cost;
use crate::domain::fargate::{Architecture, Capacity};
use crate::domain::job::{JobSpec, Launch, Network, Overlap, Retries};

/// What a stopped task of 0.25 vCPU and 0.5 GB on x86_64 Fargate cost: `usd` for `billed_seconds`.
pub fn cost(usd: f64, billed_seconds: u64) -> Cost {
    Cost {
        usd,
        billed_seconds,
        vcpu: 0.25,
        memory_gb: 0.5,
        architecture: Architecture::X86_64,
        capacity: Capacity::Fargate,
    }
}

/// A job definition for tests: `schedule` in UTC on plain Fargate in cluster `batch`, with the jobs file's
/// defaults for everything else. Tests override what they are about with struct update syntax.
pub fn job_spec(schedule: &str) -> JobSpec {
    JobSpec {
        schedule: Some(schedule.parse().expect("a test's schedule parses")),
        timezone: "UTC".parse().expect("UTC is a zone"),
        start: None,
        end: None,
        paused: false,
        run_skipped_times: false,
        cluster: "batch".into(),
        task_definition: "etl:7".into(),
        launch: Launch::Fargate,
        platform_version: None,
        network: Network {
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: false,
        },
        containers: Default::default(),
        cpu: None,
        memory: None,
        tags: Default::default(),
        group: None,
        overlap: Overlap::Allow,
        max_running: None,
        catch_up: JobSpec::DEFAULT_CATCH_UP,
        max_runtime: None,
        retries: Retries::default(),
        history: JobSpec::DEFAULT_HISTORY,
        prices: None,
        on_event: None,
        event_bus: None,
        on_interruption: Default::default(),
        params: Vec::new(),
        alerts: Vec::new(),
        expect: None,
        retry: None,
        jitter: None,
        together: Default::default(),
    }
}
