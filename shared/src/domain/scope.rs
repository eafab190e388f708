//! What a deployed stack may launch and scale: its template parameters `ClusterArns`, `TaskDefinitionArns`,
//! `TaskRoleArns` and `ServiceArns`, matched as IAM matches them. `plan` and `apply` check every job and service of a
//! file against them, so a job the stack may not run is refused up front, naming the parameter to change, instead of
//! failing at every fire with ECS's AccessDenied.

use super::job::JobSpec;

/// A stack's permission parameters, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackScope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub clusters: Vec<String>,
    pub task_definitions: Vec<String>,
    pub roles: Vec<String>,
    pub services: Vec<String>,
    /// `ListenerRuleArns`: the ALB rules the stack may point (`wake_on_request`).
    pub listener_rules: Vec<String>,
}

/// A job's task definition as ECS describes it: its ARN (with the revision RunTask would use) and the roles it passes
/// (task role, execution role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub arn: String,
    pub roles: Vec<String>,
}

/// IAM's `ArnLike`: `*` matches any run of characters, `?` any one character; everything else literally.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let (p, a): (Vec<char>, Vec<char>) = (pattern.chars().collect(), arn.chars().collect());
    // Classic wildcard matching with one backtrack point for the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < a.len() {
        if i < p.len() && (p[i] == '?' || p[i] == a[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

impl StackScope {
    /// An ECS cluster's ARN from its name (or its ARN).
    fn cluster_arn(&self, cluster: &str) -> String {
        if cluster.starts_with("arn:") {
            return cluster.to_owned();
        }
        format!(
            "arn:{}:ecs:{}:{}:cluster/{cluster}",
            self.partition, self.region, self.account
        )
    }

    fn admits(patterns: &[String], arn: &str) -> bool {
        patterns.iter().any(|p| arn_like(p, arn))
    }

    /// Why the stack may not run this job (empty: it may).
    pub fn job_problems(&self, spec: &JobSpec, definition: &Definition) -> Vec<String> {
        let mut out = Vec::new();
        let cluster = self.cluster_arn(&spec.cluster);
        if !Self::admits(&self.clusters, &cluster) {
            out.push(format!(
                "the stack may not run tasks in cluster `{cluster}`: add it to the stack's ClusterArns parameter"
            ));
        }
        if !Self::admits(&self.task_definitions, &definition.arn) {
            out.push(format!(
                "the stack may not run task definition `{}`: add its family (`...:task-definition/FAMILY:*`) to the \
                 stack's TaskDefinitionArns parameter",
                definition.arn
            ));
        }
        for role in &definition.roles {
            if !Self::admits(&self.roles, role) {
                out.push(format!(
                    "the stack may not pass role `{role}` (the task definition's): add it to the stack's \
                     TaskRoleArns parameter"
                ));
            }
        }
        out
    }

    /// Why the stack may not scale the ECS service `service` of `cluster` (a name or ARN); empty: it may.
    pub fn service_problems(&self, cluster: &str, service: &str) -> Vec<String> {
        let cluster_arn = self.cluster_arn(cluster);
        let cluster_name = cluster_arn.rsplit('/').next().unwrap_or(cluster);
        let arn = format!(
            "arn:{}:ecs:{}:{}:service/{cluster_name}/{service}",
            self.partition, self.region, self.account
        );
        let mut out = Vec::new();
        if !Self::admits(&self.services, &arn) {
            out.push(format!(
                "the stack may not scale service `{arn}`: add it to the stack's ServiceArns parameter"
            ));
        }
        if !Self::admits(&self.clusters, &cluster_arn) {
            out.push(format!(
                "the stack may not use cluster `{cluster_arn}`: add it to the stack's ClusterArns parameter"
            ));
        }
        out
    }

    /// Why the stack may not point the ALB listener rule `rule` (a `wake_on_request`'s); empty: it may.
    pub fn rule_problems(&self, rule: &str) -> Vec<String> {
        match Self::admits(&self.listener_rules, rule) {
            true => Vec::new(),
            false => vec![format!(
                "the stack may not point listener rule `{rule}` at its waker: add it to the stack's \
                 ListenerRuleArns parameter"
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_match_as_iam_matches_them() {
        let td = "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:7";
        for yes in [
            "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:*",
            "arn:aws:ecs:*:123456789012:task-definition/*",
            "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:?",
            td,
            "*",
        ] {
            assert!(arn_like(yes, td), "{yes}");
        }
        for no in [
            "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl-v2:*",
            "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:",
            "arn:aws:ecs:eu-central-1:123456789012:task-definition/et:*",
            "",
        ] {
            assert!(!arn_like(no, td), "{no}");
        }
        assert!(arn_like("a*b*c", "aXbYbZc") && !arn_like("a*b*c", "aXbYbZ"));
    }

    fn scope() -> StackScope {
        StackScope {
            partition: "aws".into(),
            region: "eu-central-1".into(),
            account: "123456789012".into(),
            clusters: vec!["arn:aws:ecs:eu-central-1:123456789012:cluster/data-platform".into()],
            task_definitions: vec![
                "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:*".into(),
            ],
            roles: vec!["arn:aws:iam::123456789012:role/etl-*".into()],
            services: vec!["arn:aws:ecs:eu-central-1:123456789012:service/data-platform/*".into()],
            listener_rules: vec![
                "arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener-rule/app/web/*"
                    .into(),
            ],
        }
    }

    #[test]
    fn a_listener_rule_outside_listener_rule_arns_is_refused() {
        let web =
            "arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener-rule/app/web/1/2/3";
        assert!(scope().rule_problems(web).is_empty());
        let other = web.replace("app/web", "app/shop");
        let problems = scope().rule_problems(&other).join("\n");
        assert!(
            problems.contains("ListenerRuleArns") && problems.contains("app/shop"),
            "{problems}"
        );
    }

    #[test]
    fn a_job_outside_the_stacks_parameters_is_refused_naming_the_parameter() {
        let mut spec = JobSpec::placeholder();
        spec.cluster = "data-platform".into();
        let etl = Definition {
            arn: "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:7".into(),
            roles: vec!["arn:aws:iam::123456789012:role/etl-task".into()],
        };
        assert_eq!(scope().job_problems(&spec, &etl), Vec::<String>::new());

        spec.cluster = "arn:aws:ecs:eu-central-1:123456789012:cluster/other".into();
        let report = Definition {
            arn: "arn:aws:ecs:eu-central-1:123456789012:task-definition/report:4".into(),
            roles: vec!["arn:aws:iam::123456789012:role/admin".into()],
        };
        let problems = scope().job_problems(&spec, &report).join("\n");
        for parameter in ["ClusterArns", "TaskDefinitionArns", "TaskRoleArns"] {
            assert!(problems.contains(parameter), "{problems}");
        }
        assert!(
            problems.contains("cluster/other") && problems.contains("role/admin"),
            "{problems}"
        );
    }

    #[test]
    fn a_service_outside_service_arns_is_refused() {
        assert!(scope().service_problems("data-platform", "wiki").is_empty());
        let problems = scope().service_problems("prod", "api").join("\n");
        assert!(
            problems.contains("ServiceArns") && problems.contains("service/prod/api"),
            "{problems}"
        );
        let mut none = scope();
        none.services.clear();
        assert!(!none.service_problems("data-platform", "wiki").is_empty());
    }
}
