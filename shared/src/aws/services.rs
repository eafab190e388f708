//! ECS services and their autoscaling: the `ServiceScaler` port over ECS DescribeServices, UpdateService and
//! DescribeTaskDefinition, Application Auto Scaling DescribeScalableTargets and RegisterScalableTarget, and Elastic
//! Load Balancing ModifyRule and DescribeTargetHealth (services woken by requests); and the `Metrics` port over
//! CloudWatch GetMetricData.

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Utc};

use super::sdk_error::{classify, Failure};
use crate::domain::service::IdleMetric;
use crate::ports::{MetricError, Metrics, ScaleError, ServiceNow, ServiceScaler};

#[derive(Clone, Debug)]
pub struct EcsServices {
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_applicationautoscaling::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
}

impl EcsServices {
    /// The three clients from one configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        EcsServices {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
        }
    }
}

fn scale_error<E, R>(what: &str, err: aws_sdk_ecs::error::SdkError<E, R>) -> ScaleError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match classify(&err) {
        Failure::Transient { message } => ScaleError::Transient {
            message: format!("{what}: {message}"),
        },
        Failure::Service { code, message } => ScaleError::Rejected {
            message: format!("{what}: {code}: {message}"),
        },
    }
}

/// Application Auto Scaling's id of an ECS service.
fn resource_id(cluster: &str, service: &str) -> String {
    let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
    format!("service/{cluster}/{service}")
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl ServiceScaler for EcsServices {
    async fn current(&self, cluster: &str, service: &str) -> Result<ServiceNow, ScaleError> {
        let what = format!("service `{service}` in cluster `{cluster}`");
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| scale_error(&what, e))?;
        let Some(svc) = described
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
        else {
            return Err(ScaleError::NotFound {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
            });
        };
        let (mut task_cpu, mut task_memory) = (None, None);
        if let Some(def) = svc.task_definition() {
            if let Ok(out) = self
                .ecs
                .describe_task_definition()
                .task_definition(def)
                .send()
                .await
            {
                let d = out.task_definition();
                task_cpu = d.and_then(|d| d.cpu()).and_then(|c| c.parse().ok());
                task_memory = d.and_then(|d| d.memory()).and_then(|m| m.parse().ok());
            }
        }
        let targets = self
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_ids(resource_id(cluster, service))
            .send()
            .await
            .map_err(|e| scale_error(&format!("{what}: its scalable target"), e))?;
        let autoscaling = targets
            .scalable_targets()
            .first()
            .map(|t| (count(t.min_capacity()), count(t.max_capacity())));
        Ok(ServiceNow {
            desired_count: count(svc.desired_count()),
            running_count: count(svc.running_count()),
            autoscaling,
            task_cpu,
            task_memory,
        })
    }

    async fn set(
        &self,
        cluster: &str,
        service: &str,
        desired_count: u32,
        autoscaling: Option<(u32, u32)>,
    ) -> Result<(), ScaleError> {
        let what = format!("service `{service}` in cluster `{cluster}`");
        let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        if let Some((min, max)) = autoscaling {
            self.autoscaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(resource_id(cluster, service))
                .min_capacity(n(min))
                .max_capacity(n(max))
                .send()
                .await
                .map_err(|e| {
                    scale_error(&format!("{what}: setting autoscaling to {min}-{max}"), e)
                })?;
        }
        self.ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(n(desired_count))
            .send()
            .await
            .map_err(|e| {
                scale_error(&format!("{what}: setting desired count {desired_count}"), e)
            })?;
        Ok(())
    }

    /// Replaces the rule's forward action (its target) and keeps its other actions as they are: an
    /// authentication action in front of the service stays in front of the waker too.
    async fn forward(&self, rule: &str, target_group: &str) -> Result<(), ScaleError> {
        use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};
        let what = format!("listener rule `{rule}`: forwarding to `{target_group}`");
        let described = self
            .elb
            .describe_rules()
            .rule_arns(rule)
            .send()
            .await
            .map_err(|e| scale_error(&what, e))?;
        let current = described
            .rules()
            .first()
            .map(|r| r.actions().to_vec())
            .unwrap_or_default();
        let forward = |order: Option<i32>| {
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(target_group)
                .set_order(order)
                .build()
        };
        let mut actions: Vec<Action> = current
            .iter()
            .map(|a| match a.r#type() {
                Some(ActionTypeEnum::Forward) => forward(a.order()),
                _ => a.clone(),
            })
            .collect();
        if !actions
            .iter()
            .any(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        {
            actions.push(forward(None));
        }
        self.elb
            .modify_rule()
            .rule_arn(rule)
            .set_actions(Some(actions))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| scale_error(&what, e))
    }

    async fn healthy(&self, target_group: &str) -> Result<u32, ScaleError> {
        use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| scale_error(&format!("target group `{target_group}`"), e))?;
        let healthy = out
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count();
        Ok(u32::try_from(healthy).unwrap_or(u32::MAX))
    }
}

#[derive(Clone, Debug)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchMetrics {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        CloudWatchMetrics { client }
    }
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

impl Metrics for CloudWatchMetrics {
    async fn sum(
        &self,
        metric: &IdleMetric,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<f64>, MetricError> {
        let (namespace, name, stat, dims) = match metric {
            IdleMetric::TargetGroup {
                load_balancer,
                target_group,
            } => (
                "AWS/ApplicationELB",
                "RequestCount",
                "Sum",
                vec![
                    dimension("LoadBalancer", load_balancer),
                    dimension("TargetGroup", target_group),
                ],
            ),
            IdleMetric::Queue { queue } => (
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "Maximum",
                vec![dimension("QueueName", queue)],
            ),
        };
        let query = MetricDataQuery::builder()
            .id("m")
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(namespace)
                            .metric_name(name)
                            .set_dimensions(Some(dims))
                            .build(),
                    )
                    .period(300)
                    .stat(stat)
                    .build(),
            )
            .build();
        let time = |t: DateTime<Utc>| {
            aws_sdk_cloudwatch::primitives::DateTime::from_millis(t.timestamp_millis())
        };
        let out = self
            .client
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(time(from))
            .end_time(time(to))
            .send()
            .await
            .map_err(|e| MetricError {
                message: format!("{namespace} {name}: {}", super::sdk_error::describe(&e)),
            })?;
        let values: Vec<f64> = out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.values().iter().copied())
            .collect();
        Ok((!values.is_empty()).then(|| values.iter().sum()))
    }
}

/// The emulator speaks CloudWatch's older protocols only, and this SDK speaks its newer one (Smithy RPC v2 CBOR):
/// the adapter is checked with aws-smithy-mocks on the typed GetMetricData operation.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataInput, GetMetricDataOutput};
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use chrono::TimeZone;

    use super::*;

    async fn sum_with(values: Vec<f64>, metric: IdleMetric) -> (Option<f64>, GetMetricDataInput) {
        let seen = Arc::new(Mutex::new(None));
        let keep = seen.clone();
        let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .match_requests(move |r| {
                *keep.lock().unwrap() = Some(r.clone());
                true
            })
            .then_output(move || {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m")
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .build()
            });
        let metrics = CloudWatchMetrics::new(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&rule]
        ));
        let from = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
        let sum = metrics
            .sum(&metric, from, from + chrono::Duration::hours(2))
            .await
            .unwrap();
        let input = seen.lock().unwrap().clone().unwrap();
        (sum, input)
    }

    #[tokio::test]
    async fn an_albs_requests_are_summed_per_target_group() {
        let metric = IdleMetric::TargetGroup {
            load_balancer: "app/staging/1".into(),
            target_group: "targetgroup/api/2".into(),
        };
        let (sum, input) = sum_with(vec![0.0, 3.0, 4.0], metric).await;
        assert_eq!(sum, Some(7.0));
        let q = &input.metric_data_queries()[0];
        let stat = q.metric_stat().unwrap();
        let m = stat.metric().unwrap();
        assert_eq!(
            (m.namespace(), m.metric_name(), stat.stat(), stat.period()),
            (
                Some("AWS/ApplicationELB"),
                Some("RequestCount"),
                Some("Sum"),
                Some(300)
            )
        );
        let dims: Vec<_> = m
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            dims,
            [
                ("LoadBalancer", "app/staging/1"),
                ("TargetGroup", "targetgroup/api/2")
            ]
        );
        assert_eq!(input.start_time().unwrap().secs(), 1_795_860_000);
    }

    #[tokio::test]
    async fn no_data_points_is_none_and_a_queue_reads_its_visible_messages() {
        let (sum, input) = sum_with(
            vec![],
            IdleMetric::Queue {
                queue: "jobs".into(),
            },
        )
        .await;
        assert_eq!(sum, None);
        let stat = input.metric_data_queries()[0]
            .metric_stat()
            .unwrap()
            .clone();
        assert_eq!(
            stat.metric().unwrap().metric_name(),
            Some("ApproximateNumberOfMessagesVisible")
        );
        assert_eq!(stat.stat(), Some("Maximum"));
    }
}
