//! What a run cost, from Fargate's price model: vCPU-hours and GB-hours of the task's size, x86_64 or arm64,
//! on-demand or Spot, plus ephemeral storage beyond the included 20 GiB; billed per second from the start of the
//! image pull until the task stops, with a one-minute minimum.
//!
//! The built-in figures are one versioned table (`PRICES_SOURCE`); a jobs file overrides them under `prices:` for
//! other Regions, Savings Plans or discounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fargate::{Architecture, Capacity};
use super::task::TaskSnapshot;

/// Where the built-in figures come from. Change the figures and this line together.
pub const PRICES_SOURCE: &str =
    "AWS Fargate pricing, US East (N. Virginia), Linux, as published 2026-03; \
     Spot arm64 scaled from Spot x86 by the on-demand arm64/x86 ratio";

/// Price per vCPU-hour and per GB-hour of memory, in USD.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

/// The price model for one Region (or one contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Where the figures come from, shown next to costs.
    pub source: String,
    pub fargate_x86: Rates,
    pub fargate_arm64: Rates,
    pub spot_x86: Rates,
    pub spot_arm64: Rates,
    /// Per GB-hour of ephemeral storage beyond the included 20 GiB.
    pub storage_gb_hour: f64,
    /// Taken off every figure (Savings Plans, enterprise discounts), in percent.
    #[serde(default)]
    pub discount_percent: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            source: PRICES_SOURCE.to_owned(),
            fargate_x86: Rates {
                vcpu_hour: 0.04048,
                gb_hour: 0.004445,
            },
            fargate_arm64: Rates {
                vcpu_hour: 0.03238,
                gb_hour: 0.00356,
            },
            spot_x86: Rates {
                vcpu_hour: 0.01334053,
                gb_hour: 0.00146489,
            },
            spot_arm64: Rates {
                vcpu_hour: 0.01067140,
                gb_hour: 0.00117322,
            },
            storage_gb_hour: 0.000111,
            discount_percent: 0.0,
        }
    }
}

/// Storage every Fargate task gets without charge.
pub const INCLUDED_STORAGE_GIB: u32 = 20;
/// Fargate bills at least this many seconds per task.
pub const MINIMUM_SECONDS: u64 = 60;

/// The cost of one run's task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub usd: f64,
    /// Seconds billed: from image pull start to stop, rounded up, at least a minute.
    pub billed_seconds: u64,
    /// The vCPU and GB it was billed for.
    pub vcpu: f64,
    pub memory_gb: f64,
    pub architecture: Architecture,
    pub capacity: Capacity,
}

/// Seconds Fargate bills between `from` and `to`: rounded up to the second, at least a minute.
pub fn billed_seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    let millis = u64::try_from((to - from).num_milliseconds()).unwrap_or(0);
    millis.div_ceil(1000).max(MINIMUM_SECONDS)
}

impl Prices {
    fn rates(&self, capacity: Capacity, architecture: Architecture) -> Rates {
        match (capacity, architecture) {
            (Capacity::Fargate, Architecture::X86_64) => self.fargate_x86,
            (Capacity::Fargate, Architecture::Arm64) => self.fargate_arm64,
            (Capacity::FargateSpot, Architecture::X86_64) => self.spot_x86,
            (Capacity::FargateSpot, Architecture::Arm64) => self.spot_arm64,
        }
    }

    /// The cost of a stopped task. `None` while it is not stopped or when ECS did not report its size. A task that
    /// stopped before its image pull began (no resources were provisioned for it) costs nothing.
    pub fn cost(&self, task: &TaskSnapshot, capacity: Capacity) -> Option<Cost> {
        let stopped = task.stopped_at.filter(|_| task.is_stopped())?;
        let vcpu = f64::from(task.cpu?) / 1024.0;
        let memory_gb = f64::from(task.memory?) / 1024.0;
        let architecture = task.architecture.unwrap_or_default();
        let Some(from) = task.pull_started_at else {
            return Some(Cost {
                usd: 0.0,
                billed_seconds: 0,
                vcpu,
                memory_gb,
                architecture,
                capacity,
            });
        };
        let seconds = billed_seconds(from, stopped);
        let rates = self.rates(capacity, architecture);
        let extra_storage = f64::from(
            task.ephemeral_storage_gib
                .unwrap_or(INCLUDED_STORAGE_GIB)
                .saturating_sub(INCLUDED_STORAGE_GIB),
        );
        let per_hour = vcpu * rates.vcpu_hour
            + memory_gb * rates.gb_hour
            + extra_storage * self.storage_gb_hour;
        let usd = per_hour * seconds as f64 / 3600.0 * (1.0 - self.discount_percent / 100.0);
        Some(Cost {
            usd,
            billed_seconds: seconds,
            vcpu,
            memory_gb,
            architecture,
            capacity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fargate::TaskStatus;
    use crate::domain::task::TaskSnapshot;
    use chrono::TimeZone;

    fn task(cpu: u32, memory: u32, pulled: i64, ran_millis: i64) -> TaskSnapshot {
        let start = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
        TaskSnapshot {
            task_arn: "t".to_owned(),
            last_status: TaskStatus::Stopped,
            cpu: Some(cpu),
            memory: Some(memory),
            pull_started_at: Some(start + chrono::Duration::seconds(pulled)),
            stopped_at: Some(
                start
                    + chrono::Duration::seconds(pulled)
                    + chrono::Duration::milliseconds(ran_millis),
            ),
            ..TaskSnapshot::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn on_demand_x86_is_billed_per_started_second() {
        // 0.25 vCPU, 0.5 GB for 379.897 s -> 380 s.
        // By hand: 380 / 3600 h x (0.25 x 0.04048 + 0.5 x 0.004445) $/h = 0.105556 x 0.0123425 = $0.0013028194.
        let cost = Prices::default()
            .cost(&task(256, 512, 5, 379_897), Capacity::Fargate)
            .unwrap();
        assert_eq!(cost.billed_seconds, 380);
        assert!(close(cost.usd, 0.001_302_819_444_444), "{}", cost.usd);
        assert_eq!(cost.architecture, "x86_64");
    }

    #[test]
    fn short_tasks_pay_the_one_minute_minimum() {
        // 1 vCPU, 2 GB for 12 s -> 60 s: 60 / 3600 x (0.04048 + 2 x 0.004445) = $0.000822833.
        let cost = Prices::default()
            .cost(&task(1024, 2048, 0, 12_000), Capacity::Fargate)
            .unwrap();
        assert_eq!(cost.billed_seconds, 60);
        assert!(close(cost.usd, 0.000_822_833_333_333), "{}", cost.usd);
    }

    #[test]
    fn spot_arm64_storage_and_discount_change_the_figure() {
        // 2 vCPU, 4 GB, arm64 on Spot, 50 GiB storage (30 beyond the included 20) for one hour, 10% off:
        // (2 x 0.0106714 + 4 x 0.00117322 + 30 x 0.000111) x 0.9 = (0.0213428 + 0.00469288 + 0.00333) x 0.9
        // = 0.02936568 x 0.9 = $0.026429112.
        let mut t = task(2048, 4096, 0, 3_600_000);
        t.architecture = Some(Architecture::Arm64);
        t.ephemeral_storage_gib = Some(50);
        let prices = Prices {
            discount_percent: 10.0,
            ..Prices::default()
        };
        let cost = prices.cost(&t, Capacity::FargateSpot).unwrap();
        assert_eq!(cost.billed_seconds, 3600);
        assert!(close(cost.usd, 0.026_429_112), "{}", cost.usd);
        assert_eq!(cost.architecture, "arm64");
    }

    #[test]
    fn tasks_still_going_or_never_pulled_are_priced_accordingly() {
        let mut running = task(256, 512, 0, 60_000);
        running.last_status = TaskStatus::Running;
        assert_eq!(Prices::default().cost(&running, Capacity::Fargate), None);
        let mut never = task(256, 512, 0, 60_000);
        never.pull_started_at = None;
        let cost = Prices::default().cost(&never, Capacity::Fargate).unwrap();
        assert_eq!((cost.usd, cost.billed_seconds), (0.0, 0));
        let mut no_size = task(256, 512, 0, 60_000);
        no_size.cpu = None;
        assert_eq!(Prices::default().cost(&no_size, Capacity::Fargate), None);
    }
}
