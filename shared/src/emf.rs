//! Metrics without extra calls: CloudWatch Embedded Metric Format. A function prints one JSON line per invocation
//! to its log; CloudWatch Logs turns the named fields into metrics (namespace `fsched`, dimension `Table`: the
//! stack's table, so stacks side by side keep their own). No PutMetricData, no latency, no extra permission.
//! template.yaml's dashboard draws them; docs/operations.md says what each means.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The namespace of every fsched metric.
pub const NAMESPACE: &str = "fsched";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// The metrics of one invocation.
#[derive(Debug, Clone)]
pub struct Emf {
    table: String,
    at: DateTime<Utc>,
    values: Vec<(&'static str, Unit, Vec<f64>)>,
}

impl Emf {
    pub fn new(table: &str, at: DateTime<Utc>) -> Emf {
        Emf {
            table: table.to_owned(),
            at,
            values: Vec::new(),
        }
    }

    /// A count; zero counts are kept too, so a quiet stack's graphs show zero rather than gaps.
    pub fn count(mut self, name: &'static str, n: usize) -> Emf {
        self.values.push((name, Unit::Count, vec![n as f64]));
        self
    }

    /// Several samples of one metric (one per run, say); none is left out of the line.
    pub fn samples(mut self, name: &'static str, unit: Unit, values: Vec<f64>) -> Emf {
        if !values.is_empty() {
            self.values.push((name, unit, values));
        }
        self
    }

    /// The EMF line, or `None` with nothing to say.
    pub fn line(&self) -> Option<String> {
        if self.values.is_empty() {
            return None;
        }
        let mut root = Map::new();
        let metrics: Vec<Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": self.at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Table"]],
                    "Metrics": metrics,
                }],
            }),
        );
        root.insert("Table".to_owned(), json!(self.table));
        for (name, _, values) in &self.values {
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            root.insert((*name).to_owned(), value);
        }
        Some(Value::Object(root).to_string())
    }

    /// Prints the line on standard output, where Lambda's log capture finds it.
    pub fn emit(&self) {
        if let Some(line) = self.line() {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_each_metric_once_with_its_values_beside() {
        let at: DateTime<Utc> = "2026-11-29T02:00:00Z".parse().unwrap();
        let line = Emf::new("fsched-prod-Table", at)
            .count("RunsLaunched", 3)
            .samples("LaunchDelay", Unit::Seconds, vec![0.4, 1.5])
            .samples("Nothing", Unit::Seconds, vec![])
            .line()
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_795_917_600_000_i64);
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "fsched");
        assert_eq!(declared["Dimensions"], json!([["Table"]]));
        assert_eq!(
            declared["Metrics"],
            json!([{"Name": "RunsLaunched", "Unit": "Count"}, {"Name": "LaunchDelay", "Unit": "Seconds"}])
        );
        assert_eq!(v["Table"], "fsched-prod-Table");
        assert_eq!(v["RunsLaunched"], 3.0);
        assert_eq!(v["LaunchDelay"], json!([0.4, 1.5]));
        assert!(v.get("Nothing").is_none());
        assert_eq!(Emf::new("t", at).line(), None);
    }
}
