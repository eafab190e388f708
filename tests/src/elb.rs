//! An Application Load Balancer in the emulator, as a request-woken service sits behind one: a listener whose rule
//! forwards the service's host to the service's target group, and a Lambda target group standing for the stack's
//! waker (template.yaml's WakerTargetGroup).

use anyhow::Context;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, RuleCondition, TargetDescription,
    TargetTypeEnum,
};

use crate::ecs::Sandbox;
use crate::unique_name;

/// The load balancer's parts fsched deals with, by ARN.
pub struct Alb {
    pub rule: String,
    pub service_group: String,
    pub waker_group: String,
}

/// Creates the load balancer in the sandbox's subnets, its listener, the service's target group (IP targets, as
/// Fargate's), the waker's (a Lambda target group), and a rule forwarding `host` to the service's.
pub async fn alb(
    config: &aws_config::SdkConfig,
    place: &Sandbox,
    host: &str,
) -> anyhow::Result<Alb> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let lb = elb
        .create_load_balancer()
        .name(unique_name("lb").chars().take(32).collect::<String>())
        .set_subnets(Some(place.subnets.clone()))
        .send()
        .await
        .context("creating the load balancer")?;
    let lb = lb.load_balancers().first().context("no load balancer")?;
    let group = |name: &str| name.chars().take(32).collect::<String>();
    let service_group = elb
        .create_target_group()
        .name(group(&unique_name("svc")))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .target_type(TargetTypeEnum::Ip)
        .vpc_id(lb.vpc_id().unwrap_or_default())
        .send()
        .await
        .context("creating the service's target group")?;
    let service_group = service_group
        .target_groups()
        .first()
        .and_then(|g| g.target_group_arn())
        .context("no target group")?
        .to_owned();
    let waker_group = elb
        .create_target_group()
        .name(group(&unique_name("waker")))
        .target_type(TargetTypeEnum::Lambda)
        .send()
        .await
        .context("creating the waker's target group")?;
    let waker_group = waker_group
        .target_groups()
        .first()
        .and_then(|g| g.target_group_arn())
        .context("no target group")?
        .to_owned();
    let forward = |group: &str| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(group)
            .build()
    };
    let listener = elb
        .create_listener()
        .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&service_group))
        .send()
        .await
        .context("creating the listener")?;
    let listener = listener
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .context("no listener")?
        .to_owned();
    let rule = elb
        .create_rule()
        .listener_arn(listener)
        .priority(10)
        .conditions(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(HostHeaderConditionConfig::builder().values(host).build())
                .build(),
        )
        .actions(forward(&service_group))
        .send()
        .await
        .context("creating the listener rule")?;
    let rule = rule
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .context("no rule")?
        .to_owned();
    Ok(Alb {
        rule,
        service_group,
        waker_group,
    })
}

/// The target group the rule forwards to now.
pub async fn forwards_to(config: &aws_config::SdkConfig, rule: &str) -> anyhow::Result<String> {
    let out = aws_sdk_elasticloadbalancingv2::Client::new(config)
        .describe_rules()
        .rule_arns(rule)
        .send()
        .await
        .context("describing the rule")?;
    out.rules()
        .first()
        .and_then(|r| r.actions().first())
        .and_then(|a| a.target_group_arn())
        .map(str::to_owned)
        .context("the rule forwards nowhere")
}

/// Registers a task's address in the service's target group, as ECS does once a task runs (the emulator reports it
/// healthy).
pub async fn register(config: &aws_config::SdkConfig, group: &str, ip: &str) -> anyhow::Result<()> {
    aws_sdk_elasticloadbalancingv2::Client::new(config)
        .register_targets()
        .target_group_arn(group)
        .targets(TargetDescription::builder().id(ip).port(80).build())
        .send()
        .await
        .context("registering a target")?;
    Ok(())
}
