//! Fargate's vocabulary, shared by every other domain module and importing none: the capacity a task runs on, its
//! CPU architecture, and the lifecycle status ECS reports. Each is read once, where ECS's words enter fsched.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The capacity a task ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Capacity {
    Fargate,
    FargateSpot,
}

impl Capacity {
    /// ECS's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::Fargate => "FARGATE",
            Capacity::FargateSpot => "FARGATE_SPOT",
        }
    }

    /// The capacity named by ECS's capacity provider or launch type, when it is one of Fargate's.
    pub fn named(provider: Option<&str>, launch_type: Option<&str>) -> Option<Capacity> {
        match (provider, launch_type) {
            (Some("FARGATE_SPOT"), _) => Some(Capacity::FargateSpot),
            (Some("FARGATE"), _) | (None, Some("FARGATE")) => Some(Capacity::Fargate),
            _ => None,
        }
    }
}

/// The CPU architecture of a task, from its task definition's runtime platform. Fargate runs x86_64 unless the
/// definition says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64", alias = "X86_64")]
    X86_64,
    #[serde(rename = "arm64", alias = "ARM64")]
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// ECS's word for it (`X86_64`, `ARM64`, in any case); `None` for anything else.
    pub fn named(word: &str) -> Option<Architecture> {
        if word.eq_ignore_ascii_case("arm64") {
            Some(Architecture::Arm64)
        } else if word.eq_ignore_ascii_case("x86_64") {
            Some(Architecture::X86_64)
        } else {
            None
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Architecture {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A task's `lastStatus`, in the order of its lifecycle. A word this version does not know is kept as it is (ECS
/// adds states from time to time) and ranks before every known one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TaskStatus {
    Provisioning,
    #[default]
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
    Other(String),
}

impl TaskStatus {
    const KNOWN: [TaskStatus; 8] = [
        TaskStatus::Provisioning,
        TaskStatus::Pending,
        TaskStatus::Activating,
        TaskStatus::Running,
        TaskStatus::Deactivating,
        TaskStatus::Stopping,
        TaskStatus::Deprovisioning,
        TaskStatus::Stopped,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Activating => "ACTIVATING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => "STOPPED",
            TaskStatus::Other(word) => word,
        }
    }

    /// Reads ECS's word.
    pub fn named(word: &str) -> TaskStatus {
        Self::KNOWN
            .into_iter()
            .find(|s| s.as_str() == word)
            .unwrap_or_else(|| TaskStatus::Other(word.to_owned()))
    }

    /// How far along the lifecycle: 0 for a word this version does not know.
    pub fn stage(&self) -> u8 {
        Self::KNOWN
            .iter()
            .position(|s| s == self)
            .map_or(0, |i| i as u8)
    }

    /// The task has started its containers and not yet finished stopping.
    pub fn has_started(&self) -> bool {
        matches!(
            self,
            TaskStatus::Running
                | TaskStatus::Deactivating
                | TaskStatus::Stopping
                | TaskStatus::Deprovisioning
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for TaskStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for TaskStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TaskStatus::named(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_words_and_lifecycle_order() {
        for s in TaskStatus::KNOWN {
            assert_eq!(TaskStatus::named(s.as_str()), s);
        }
        let odd = TaskStatus::named("SUSPENDED");
        assert_eq!(odd.as_str(), "SUSPENDED");
        assert_eq!(odd.stage(), 0);
        assert!(TaskStatus::Stopped.stage() > TaskStatus::Deprovisioning.stage());
        assert!(TaskStatus::Running.stage() > TaskStatus::Pending.stage());
        let json = serde_json::to_string(&TaskStatus::Deprovisioning).unwrap();
        assert_eq!(json, "\"DEPROVISIONING\"");
        assert_eq!(
            serde_json::from_str::<TaskStatus>("\"SUSPENDED\"").unwrap(),
            odd
        );
    }

    #[test]
    fn architectures_read_ecs_and_stored_words() {
        assert_eq!(Architecture::named("ARM64"), Some(Architecture::Arm64));
        assert_eq!(Architecture::named("x86_64"), Some(Architecture::X86_64));
        assert_eq!(Architecture::named("sparc"), None);
        for a in [Architecture::X86_64, Architecture::Arm64] {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{a}\""));
            assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), a);
        }
    }

    #[test]
    fn capacities_are_named_by_provider_then_launch_type() {
        assert_eq!(
            Capacity::named(Some("FARGATE_SPOT"), Some("FARGATE")),
            Some(Capacity::FargateSpot)
        );
        assert_eq!(
            Capacity::named(None, Some("FARGATE")),
            Some(Capacity::Fargate)
        );
        assert_eq!(Capacity::named(None, Some("EC2")), None);
    }
}
