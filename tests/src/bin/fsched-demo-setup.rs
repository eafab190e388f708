//! Sets the demo's scene in the local emulator: the table (from template.yaml), the event bus, the cluster and the
//! task definitions examples/jobs.yaml names, the trigger queue with the command rule, the load balancer of the
//! request-woken preview service (its rule, its target group and a Lambda target group standing for the stack's
//! waker), and a copy of that jobs file whose network ids and ARNs are the emulator's (the example's do not exist
//! there). Prints `KEY=value` lines for the demo script to export.
//!
//! Usage: fsched-demo-setup JOBS_IN JOBS_OUT

use anyhow::Context;
use fsched_tests::ecs::{example_task_definitions, sandbox, service};

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (input, output) = match (args.next(), args.next()) {
        (Some(i), Some(o)) => (i, o),
        _ => anyhow::bail!("usage: fsched-demo-setup JOBS_IN JOBS_OUT"),
    };
    let config = fsched_tests::local_sdk_config().await?;
    let table = fsched_tests::fresh_table(&aws_sdk_dynamodb::Client::new(&config)).await?;
    let bus = "fsched";
    aws_sdk_eventbridge::Client::new(&config)
        .create_event_bus()
        .name(bus)
        .send()
        .await
        .context("creating the event bus")?;
    let place = sandbox(&config, "data-platform").await?;
    // The services examples/jobs.yaml declares: the staging API with autoscaling, the wiki without.
    service(&config, &place, "staging-api", 2, Some((2, 6))).await?;
    service(&config, &place, "wiki", 1, None).await?;
    service(&config, &place, "preview-app", 1, None).await?;
    let lb = fsched_tests::elb::alb(&config, &place, "preview.example.com").await?;
    // The trigger queue and the command rule, as template.yaml's TriggerQueue and CommandsRule.
    let (queue_url, queue_arn) = fsched_tests::sqs_queue(&config, "fsched-trigger").await?;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    eb.put_rule()
        .name("fsched-commands")
        .event_bus_name(bus)
        .event_pattern(
            serde_json::json!({"source": [fsched_core::domain::trigger::COMMAND_SOURCE]})
                .to_string(),
        )
        .send()
        .await
        .context("creating the command rule")?;
    eb.put_targets()
        .rule("fsched-commands")
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("fsched-trigger")
                .arn(&queue_arn)
                .build()?,
        )
        .send()
        .await
        .context("pointing the command rule at the trigger queue")?;
    example_task_definitions(&config).await?;
    // The queue examples/jobs.yaml sends its alerts to (the team's chat bot would read it).
    let (alerts_url, _) = fsched_tests::sqs_queue(&config, "data-alerts").await?;

    let text = std::fs::read_to_string(&input).with_context(|| format!("reading {input}"))?;
    let mut rewritten = String::new();
    for line in text.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        let line = match line.trim_start() {
            l if l.starts_with("subnets:") => format!("{indent}subnets: {}", list(&place.subnets)),
            l if l.starts_with("security_groups:") => {
                format!(
                    "{indent}security_groups: {}",
                    list(std::slice::from_ref(&place.security_group))
                )
            }
            l if l.starts_with("listener_rule:") => format!("{indent}listener_rule: {}", lb.rule),
            l if l.starts_with("target_group:") => {
                format!("{indent}target_group: {}", lb.service_group)
            }
            _ => line.to_owned(),
        };
        rewritten.push_str(&line);
        rewritten.push('\n');
    }
    std::fs::write(&output, rewritten).with_context(|| format!("writing {output}"))?;
    println!("FSCHED_TABLE={table}");
    println!("FSCHED_EVENT_BUS={bus}");
    println!("FSCHED_DEMO_CLUSTER={}", place.cluster);
    println!("FSCHED_TRIGGER_QUEUE={queue_arn}");
    println!("FSCHED_DEMO_TRIGGER_QUEUE_URL={queue_url}");
    println!("FSCHED_DEMO_ALERTS_URL={alerts_url}");
    println!("FSCHED_WAKER_TARGET_GROUP={}", lb.waker_group);
    println!("FSCHED_DEMO_PREVIEW_RULE={}", lb.rule);
    println!("FSCHED_DEMO_PREVIEW_GROUP={}", lb.service_group);
    Ok(())
}
