//! A reader over a YAML node tree that records every problem with its line and column instead of stopping at the
//! first: each `take_*` returns `None` after recording why, so validation carries on and reports all at once.

use std::collections::BTreeMap;
use std::fmt;

use crate::domain::suggest::nearest;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{Node, Span};

/// One problem in a jobs file, with where it is and, when known, the job it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub job: Option<String>,
    pub message: String,
}

/// Text from the file as it may be shown on a terminal: control characters (a terminal's escape sequences among
/// them) written as escapes, so a message can never repaint or hide anything.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| -> Box<dyn Iterator<Item = char>> {
            if c.is_control() {
                Box::new(c.escape_default())
            } else {
                Box::new(std::iter::once(c))
            }
        })
        .collect()
}

impl Diagnostic {
    /// The problem as `FILE:LINE:COLUMN: ...`, or `FILE: ...` for a problem of the whole file (line 0).
    pub fn in_file(&self, file: &str) -> String {
        if self.line == 0 {
            format!("{file}: {}", printable(&self.message))
        } else {
            format!("{file}:{self}")
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(job) = &self.job {
            write!(f, "job `{}`: ", printable(job))?;
        }
        f.write_str(&printable(&self.message))
    }
}

/// Collects diagnostics for one file; `job` names the job being read, for context.
#[derive(Default)]
pub struct Reader {
    pub diagnostics: Vec<Diagnostic>,
    pub job: Option<String>,
}

fn position(span: &Span) -> (usize, usize) {
    span.start()
        .map(|m| (m.line(), m.column()))
        .unwrap_or((0, 0))
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a single value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

impl Reader {
    pub fn error(&mut self, span: &Span, message: impl Into<String>) {
        let (line, column) = position(span);
        self.diagnostics.push(Diagnostic {
            line,
            column,
            job: self.job.clone(),
            message: message.into(),
        });
    }

    /// The mapping at `node`, or a diagnostic naming what was expected.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                self.error(
                    other.span(),
                    format!(
                        "{what} must be a mapping of keys to values, found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    pub fn scalar<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedScalarNode> {
        match node {
            Node::Scalar(s) => Some(s),
            other => {
                self.error(
                    other.span(),
                    format!("{what} must be a single value, found {}", describe(other)),
                );
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        self.scalar(node, what).map(|s| s.as_str().to_owned())
    }

    /// A non-empty string.
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if s.trim().is_empty() {
            self.error(node.span(), format!("{what} cannot be empty"));
            return None;
        }
        Some(s)
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        let s = self.scalar(node, what)?;
        match s.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            other => {
                self.error(
                    node.span(),
                    format!("{what} must be true or false, found `{other}`"),
                );
                None
            }
        }
    }

    pub fn number(
        &mut self,
        node: &Node,
        what: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Option<u32> {
        let s = self.scalar(node, what)?;
        match s.as_str().parse::<u32>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    node.span(),
                    format!(
                        "{what} must be a whole number {}-{}, found `{}`",
                        range.start(),
                        range.end(),
                        s.as_str()
                    ),
                );
                None
            }
        }
    }

    /// A decimal number in `range` (prices, percentages).
    pub fn decimal(
        &mut self,
        node: &Node,
        what: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Option<f64> {
        let s = self.scalar(node, what)?;
        match s.as_str().trim().parse::<f64>() {
            Ok(n) if n.is_finite() && range.contains(&n) => Some(n),
            _ => {
                self.error(
                    node.span(),
                    format!(
                        "{what} must be a number from {} to {}, found `{}`",
                        range.start(),
                        range.end(),
                        s.as_str()
                    ),
                );
                None
            }
        }
    }

    /// One of the allowed words.
    pub fn choice<T: Copy>(&mut self, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let s = self.scalar(node, what)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == s.as_str()) {
            return Some(*v);
        }
        let names: Vec<_> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        self.error(
            node.span(),
            format!(
                "{what} must be one of {}, found `{}`",
                names.join(", "),
                s.as_str()
            ),
        );
        None
    }

    /// A list of strings.
    pub fn strings(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        match node {
            Node::Sequence(items) => {
                let values: Vec<Option<String>> =
                    items.iter().map(|n| self.string(n, what)).collect();
                values.into_iter().collect()
            }
            other => {
                self.error(
                    other.span(),
                    format!("{what} must be a list, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A mapping of strings to strings.
    pub fn string_map(&mut self, node: &Node, what: &str) -> Option<BTreeMap<String, String>> {
        let map = self.mapping(node, what)?;
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, v) in map.iter() {
            match self.string(v, &format!("{what}.{}", k.as_str())) {
                Some(v) => {
                    out.insert(k.as_str().to_owned(), v);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// The keys of `map`, each checked against `known`: an unknown key is an error with the nearest known one as a
    /// hint, since a typo must never pass silently.
    pub fn fields<'n>(
        &mut self,
        map: &'n MarkedMappingNode,
        what: &str,
        known: &[&str],
    ) -> Fields<'n> {
        let mut present = BTreeMap::new();
        for (k, v) in map.iter() {
            let key = k.as_str();
            if known.contains(&key) {
                present.insert(key.to_owned(), v);
                continue;
            }
            let hint = match nearest(key, known.iter().copied()) {
                Some(c) => format!(" (did you mean `{c}`?)"),
                None => format!(" (known keys: {})", known.join(", ")),
            };
            self.error(k.span(), format!("unknown key `{key}` in {what}{hint}"));
        }
        Fields {
            present,
            span: map.span().to_owned(),
        }
    }
}

/// The known keys present in one mapping.
pub struct Fields<'n> {
    present: BTreeMap<String, &'n Node>,
    pub span: Span,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.present.get(key).copied()
    }
}
