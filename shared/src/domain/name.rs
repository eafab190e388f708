//! Names of what fsched manages (jobs, services): 1-64 characters of `A-Z a-z 0-9 _ -`, starting with a letter or
//! digit. The charset is what DynamoDB keys, ECS `startedBy`/tags and EventBridge rule names all accept, so a name
//! can be used in each unescaped. Each kind is its own type, so a service name cannot be passed where a job's is
//! wanted, and each error names its kind.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const NAME_MAX: usize = 64;
pub const JOB_NAME_MAX: usize = NAME_MAX;

/// What is wrong with a name, whatever it names.
enum Problem {
    Empty,
    TooLong,
    BadStart,
    BadChar(char),
}

fn check(name: &str) -> Result<(), Problem> {
    let first = name.chars().next().ok_or(Problem::Empty)?;
    if name.len() > NAME_MAX {
        return Err(Problem::TooLong);
    }
    if !first.is_ascii_alphanumeric() {
        return Err(Problem::BadStart);
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(bad) => Err(Problem::BadChar(bad)),
        None => Ok(()),
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $error:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $error {
            Empty,
            TooLong(String),
            BadStart(String),
            BadChar { name: String, bad: char },
        }

        impl fmt::Display for $error {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $error::Empty => write!(f, "a {} name cannot be empty", $kind),
                    $error::TooLong(name) => {
                        write!(f, "{} name `{name}` is longer than {NAME_MAX} characters", $kind)
                    }
                    $error::BadStart(name) => {
                        write!(f, "{} name `{name}` must start with a letter or digit", $kind)
                    }
                    $error::BadChar { name, bad } => write!(
                        f,
                        "{} name `{name}` contains `{bad}`: use only letters, digits, `-` and `_`",
                        $kind
                    ),
                }
            }
        }

        impl std::error::Error for $error {}

        impl $name {
            pub fn new(name: impl Into<String>) -> Result<Self, $error> {
                let name = name.into();
                match check(&name) {
                    Ok(()) => Ok($name(name)),
                    Err(Problem::Empty) => Err($error::Empty),
                    Err(Problem::TooLong) => Err($error::TooLong(name)),
                    Err(Problem::BadStart) => Err($error::BadStart(name)),
                    Err(Problem::BadChar(bad)) => Err($error::BadChar { name, bad }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::new(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

name_type!(
    /// A job's name.
    JobName,
    JobNameError,
    "job"
);
name_type!(
    /// A service's name (fsched's name for it, not the ECS service's).
    ServiceName,
    ServiceNameError,
    "service"
);
name_type!(
    /// A pool's name (`pools:` in the jobs file).
    PoolName,
    PoolNameError,
    "pool"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_name_says_what_it_names() {
        assert_eq!(
            ServiceName::new("-x").unwrap_err().to_string(),
            "service name `-x` must start with a letter or digit"
        );
        assert_eq!(
            JobName::new("a b").unwrap_err().to_string(),
            "job name `a b` contains ` `: use only letters, digits, `-` and `_`"
        );
        let json = serde_json::to_string(&ServiceName::new("api").unwrap()).unwrap();
        assert_eq!(json, "\"api\"");
        assert!(serde_json::from_str::<ServiceName>("\"../x\"").is_err());
    }
}
