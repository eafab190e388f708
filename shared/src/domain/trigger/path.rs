//! Paths into an event (`$.detail.files[0].key`) and the values they read: text only, short, without control
//! characters, so that nothing an event sender writes can reach a task as anything but one plain value.

use std::fmt;

use serde_json::Value;

/// The longest value one reference may contribute.
pub const VALUE_MAX: usize = 1024;
/// The deepest path a template may name.
pub const PATH_DEPTH_MAX: usize = 16;

/// One step of a path: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path into an event: `$`, then `.key` or `[n]` steps. Keys are `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    text: String,
    steps: Vec<Step>,
}

/// Why a value cannot be taken from an event or passed to a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("`{text}` is not a path: {why} (write e.g. `$.detail.id` or `$.detail.files[0].key`)")]
    NotAPath { text: String, why: &'static str },
    #[error("`{text}`: `{{{{` without `}}}}`")]
    Unclosed { text: String },
    #[error("the event has no `{0}`")]
    Missing(String),
    #[error("`{0}` is null in the event")]
    Null(String),
    #[error("`{path}` is {shape} in the event, not a single value")]
    NotScalar { path: String, shape: &'static str },
    #[error("{what} is {len} bytes long; at most {VALUE_MAX} are passed to a task")]
    TooLong { what: String, len: usize },
    #[error(
        "{what} contains the control character U+{code:04X}; such values are not passed to tasks"
    )]
    Control { what: String, code: u32 },
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, ValueError> {
        let bad = |why: &'static str| {
            Err(ValueError::NotAPath {
                text: text.to_owned(),
                why,
            })
        };
        let Some(mut rest) = text.strip_prefix('$') else {
            return bad("it must start with `$`");
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(after.len());
                if end == 0 {
                    return bad("a `.` must be followed by a key");
                }
                steps.push(Step::Key(after[..end].to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else {
                    return bad("`[` without `]`");
                };
                let Ok(index) = after[..close].parse::<usize>() else {
                    return bad("an index must be a whole number");
                };
                steps.push(Step::Index(index));
                rest = &after[close + 1..];
            } else {
                return bad("expected `.key` or `[n]`");
            }
        }
        if steps.is_empty() {
            return bad("it names nothing; `$` alone is the whole event");
        }
        if steps.len() > PATH_DEPTH_MAX {
            return bad("it is deeper than 16 steps");
        }
        Ok(Path {
            text: text.to_owned(),
            steps,
        })
    }

    /// The value at this path as text: strings as they are, numbers and booleans as JSON writes them.
    pub fn read(&self, event: &Value) -> Result<String, ValueError> {
        let mut at = event;
        for step in &self.steps {
            let next = match (step, at) {
                (Step::Key(k), Value::Object(map)) => map.get(k),
                (Step::Index(i), Value::Array(items)) => items.get(*i),
                _ => None,
            };
            at = next.ok_or_else(|| ValueError::Missing(self.text.clone()))?;
        }
        let text = match at {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => return Err(ValueError::Null(self.text.clone())),
            Value::Array(_) | Value::Object(_) => {
                return Err(ValueError::NotScalar {
                    path: self.text.clone(),
                    shape: if at.is_array() { "a list" } else { "an object" },
                })
            }
        };
        check_value(&format!("`{self}`"), &text)?;
        Ok(text)
    }
}

/// A value may be passed to a task: short enough, and without control characters.
pub fn check_value(what: &str, text: &str) -> Result<(), ValueError> {
    if text.len() > VALUE_MAX {
        return Err(ValueError::TooLong {
            what: what.to_owned(),
            len: text.len(),
        });
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(ValueError::Control {
            what: what.to_owned(),
            code: c as u32,
        });
    }
    Ok(())
}
