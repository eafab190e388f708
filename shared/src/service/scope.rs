//! Whether a deployed stack may run what a jobs file declares (`domain::scope`), checked by `plan` and `apply`
//! before anything is written.

use std::collections::BTreeMap;

use crate::domain::jobs_file::JobsFile;
use crate::domain::scope::{Definition, StackScope};
use crate::ports::TaskLauncher;

/// Why the stack described by `scope` may not run the file's jobs or scale its services, one line each, naming the
/// job or service and the stack parameter to change; empty when it may. Each job's task definition is read (its
/// revision and roles decide), once however many jobs share it.
pub async fn scope_problems<L: TaskLauncher>(
    launcher: &L,
    scope: &StackScope,
    file: &JobsFile,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut read: BTreeMap<&str, Result<Definition, String>> = BTreeMap::new();
    for (name, spec) in &file.jobs {
        let asked = spec.task_definition.as_str();
        if !read.contains_key(asked) {
            let described = launcher.definition(asked).await.map(|facts| Definition {
                arn: facts.arn.unwrap_or_else(|| asked.to_owned()),
                roles: facts.roles,
            });
            read.insert(asked, described.map_err(|e| e.to_string()));
        }
        match &read[asked] {
            Ok(definition) => {
                out.extend(
                    scope
                        .job_problems(spec, definition)
                        .into_iter()
                        .map(|p| format!("job {name}: {p}")),
                );
            }
            Err(e) => out.push(format!(
                "job {name}: its task definition `{}` cannot be read: {e}",
                spec.task_definition
            )),
        }
    }
    for (name, spec) in &file.services {
        let rule = spec
            .wake_on_request
            .as_ref()
            .map(|w| w.listener_rule.as_str());
        out.extend(
            scope
                .service_problems(&spec.cluster, &spec.service)
                .into_iter()
                .chain(rule.map(|r| scope.rule_problems(r)).unwrap_or_default())
                .map(|p| format!("service {name}: {p}")),
        );
    }
    out
}
