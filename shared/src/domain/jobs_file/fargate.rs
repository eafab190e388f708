//! Fargate's task size rules and ECS reference syntax: what RunTask would reject, caught before anything is stored.

/// Valid task memory (MiB) for each Fargate task CPU size (CPU units), per the ECS documentation.
pub fn memory_options(cpu: u32) -> Option<Vec<u32>> {
    let gb = |from: u32, to: u32, step: u32| {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect::<Vec<_>>()
    };
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => gb(1, 4, 1),
        1024 => gb(2, 8, 1),
        2048 => gb(4, 16, 1),
        4096 => gb(8, 30, 1),
        8192 => gb(16, 60, 4),
        16384 => gb(32, 120, 8),
        _ => return None,
    })
}

pub const CPU_OPTIONS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// Checks a task size; `None` means fine.
pub fn check_size(cpu: Option<u32>, memory: Option<u32>) -> Option<String> {
    match (cpu, memory) {
        (Some(cpu), _) if memory_options(cpu).is_none() => Some(format!(
            "cpu {cpu} is not a Fargate task size: use one of {}",
            CPU_OPTIONS.map(|c| c.to_string()).join(", ")
        )),
        (Some(cpu), Some(memory)) => {
            let options = memory_options(cpu)?;
            (!options.contains(&memory)).then(|| {
                format!(
                    "memory {memory} MiB does not go with cpu {cpu} on Fargate: use {} MiB{}",
                    options.iter().take(4).map(|m| m.to_string()).collect::<Vec<_>>().join(", "),
                    if options.len() > 4 { format!(" ... {}", options[options.len() - 1]) } else { String::new() }
                )
            })
        }
        (None, Some(memory)) if !CPU_OPTIONS.iter().any(|c| memory_options(*c).is_some_and(|o| o.contains(&memory))) => {
            Some(format!("memory {memory} MiB is not a Fargate task size (512, 1024, 2048, ... in steps of 1024)"))
        }
        _ => None,
    }
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A task definition reference: `family`, `family:revision` or a task definition ARN.
pub fn check_task_definition(reference: &str) -> Option<String> {
    let family_rev = match reference.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            match parts[..] {
                [partition, "ecs", region, account, resource]
                    if partition.starts_with("aws")
                        && !region.is_empty()
                        && account.len() == 12
                        && account.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    match resource.strip_prefix("task-definition/") {
                        Some(fr) if fr.contains(':') => fr,
                        _ => return Some(format!("`{reference}` is not a task definition ARN: expected arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION")),
                    }
                }
                _ => return Some(format!("`{reference}` is not a task definition ARN: expected arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION")),
            }
        }
        None => reference,
    };
    let (family, revision) = match family_rev.split_once(':') {
        Some((f, r)) => (f, Some(r)),
        None => (family_rev, None),
    };
    if !is_name(family, 255) {
        return Some(format!(
            "task definition family `{family}` may only contain letters, digits, `-` and `_` (write FAMILY, FAMILY:REVISION or an ARN)"
        ));
    }
    match revision {
        Some(r) if r.parse::<u32>().map_or(true, |n| n == 0) => Some(format!(
            "task definition revision `{r}` must be a positive number, as in `{family}:7`"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_fargate_table() {
        assert_eq!(check_size(Some(256), Some(512)), None);
        assert_eq!(check_size(Some(4096), Some(30 * 1024)), None);
        assert_eq!(check_size(Some(16384), Some(120 * 1024)), None);
        assert_eq!(check_size(Some(8192), Some(20 * 1024)), None);
        assert!(check_size(Some(8192), Some(18 * 1024))
            .unwrap()
            .contains("does not go with cpu 8192"));
        assert!(check_size(Some(256), Some(4096))
            .unwrap()
            .contains("use 512, 1024, 2048 MiB"));
        assert!(check_size(Some(300), None)
            .unwrap()
            .contains("cpu 300 is not a Fargate task size"));
        assert!(check_size(None, Some(1000)).is_some());
        assert_eq!(check_size(None, Some(3072)), None);
    }

    #[test]
    fn task_definition_references() {
        for ok in [
            "etl",
            "etl:7",
            "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:7",
            "my_app-2",
        ] {
            assert_eq!(check_task_definition(ok), None, "{ok}");
        }
        for bad in [
            "etl:0",
            "etl:x",
            "etl:",
            "e tl",
            "arn:aws:ecs:eu-central-1:123:task-definition/etl:7",
            "arn:aws:ecs:eu-central-1:123456789012:service/etl",
        ] {
            assert!(check_task_definition(bad).is_some(), "{bad}");
        }
    }
}
