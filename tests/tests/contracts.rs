//! The ECS and scaling adapters held to the ports' contracts against the local emulator: the same functions
//! `shared/tests/contract.rs` runs on the in-memory fakes (`fsched_core::testing::contract`), so a fake that drifts
//! from what AWS (as the emulator plays it) does fails one side or the other. The store's contract is in
//! `store.rs`.

use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::services::EcsServices;
use fsched_core::domain::job::{JobSpec, Network};
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::contract::tests::scaler::{ScalerPlace, ScalerWorld};
use fsched_tests::ecs::{sandbox, service, task_definition};
use fsched_tests::elb::{alb, forwards_to};
use fsched_tests::{local_sdk_config, unique_name};

/// A cluster, a task definition and the default network in the emulator, and the real launcher. The emulator
/// stops a task at once, so settling does nothing.
async fn emulator_ecs() -> (EcsLauncher, JobSpec, impl Fn()) {
    let config = local_sdk_config().await.unwrap();
    let place = sandbox(&config, &unique_name("contract")).await.unwrap();
    let spec = JobSpec {
        cluster: place.cluster.clone(),
        task_definition: task_definition(&config, &unique_name("contract"))
            .await
            .unwrap(),
        network: Network {
            subnets: place.subnets.clone(),
            security_groups: vec![place.security_group.clone()],
            assign_public_ip: false,
        },
        ..job_spec("cron(0 2 * * ? *)")
    };
    let launcher = EcsLauncher::new(aws_sdk_ecs::Client::new(&config), "contract".to_owned());
    (launcher, spec, || {})
}

fsched_core::launcher_contract!(emulator_ecs().await);

struct EmulatorScaler {
    config: aws_config::SdkConfig,
    scaler: EcsServices,
    place: ScalerPlace,
}

impl ScalerWorld for EmulatorScaler {
    type Scaler = EcsServices;
    fn scaler(&self) -> &EcsServices {
        &self.scaler
    }
    fn place(&self) -> &ScalerPlace {
        &self.place
    }
    async fn forwards_to(&self, rule: &str) -> String {
        forwards_to(&self.config, rule).await.unwrap()
    }
}

/// Two services (one with a scalable target of 2 to 6) and a load balancer whose rule forwards to a target group.
async fn emulator_scaler() -> EmulatorScaler {
    let config = local_sdk_config().await.unwrap();
    let place = sandbox(&config, &unique_name("contract")).await.unwrap();
    let scaled = service(&config, &place, &unique_name("api"), 3, Some((2, 6)))
        .await
        .unwrap();
    let plain = service(&config, &place, &unique_name("worker"), 1, None)
        .await
        .unwrap();
    let lb = alb(&config, &place, "contract.example.com").await.unwrap();
    EmulatorScaler {
        scaler: EcsServices::new(&config),
        place: ScalerPlace {
            cluster: place.cluster,
            scaled,
            plain,
            rule: lb.rule,
            service_group: lb.service_group,
            waker_group: lb.waker_group,
        },
        config,
    }
}

fsched_core::scaler_contract!(emulator_scaler().await);
