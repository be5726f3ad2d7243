//! Business metrics in CloudWatch Embedded Metric Format (EMF): one JSON line on stdout
//! per event, which CloudWatch Logs turns into metrics. No API calls, no extra latency,
//! nothing to fail on the request path — the trade-off is that a metric costs one log
//! line, so handlers emit one line per request, not per record.
//!
//! Emission is on in Lambda (where stdout goes to CloudWatch Logs) and off elsewhere,
//! unless `VIGIL_METRICS=emf` asks for it; `VIGIL_METRICS=off` silences it in Lambda.
//!
//! `VIGIL_STAGE` (the template sets it to the stack's stage) becomes a `Stage`
//! dimension on every metric, so dev and prod in one account stay apart in the one
//! `Vigil` namespace.

use serde_json::{Map, Value, json};
use std::{
    io::Write,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

/// The CloudWatch namespace of every Vigil metric (the template's dashboard and alarms
/// read from it).
pub const NAMESPACE: &str = "Vigil";

static ENABLED: AtomicBool = AtomicBool::new(false);
static STAGE: OnceLock<Option<String>> = OnceLock::new();

/// Decides once, at start-up, whether metrics are written and under which stage
/// (every function's start-up calls it with its [`Config`](crate::config::Config)).
pub fn init(config: &crate::config::MetricsConfig) {
    let _ = STAGE.set(config.stage.clone());
    ENABLED.store(config.enabled, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn stage() -> Option<&'static str> {
    STAGE.get().and_then(|s| s.as_deref())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Percent,
    /// A plain number (a mean score).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Percent => "Percent",
            Unit::None => "None",
        }
    }
}

/// One EMF document: a set of dimensions and the metrics measured under them.
#[derive(Debug, Clone)]
pub struct MetricSet {
    dimensions: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, Unit, f64)>,
}

impl Default for MetricSet {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricSet {
    /// A set carrying the process's `Stage` dimension, when one is configured.
    pub fn new() -> Self {
        Self::in_stage(stage())
    }

    /// A set whose first dimension is `Stage` (none when `stage` is `None`).
    pub fn in_stage(stage: Option<&str>) -> Self {
        Self {
            dimensions: stage.map(|s| ("Stage", s.to_owned())).into_iter().collect(),
            metrics: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name, unit, value));
        self
    }

    /// The EMF JSON document (specification: `_aws.CloudWatchMetrics` names the
    /// metrics and dimension keys; their values are top-level members).
    pub fn to_emf(&self, timestamp_ms: u64) -> Value {
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [self.dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                    "Metrics": self.metrics.iter()
                        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            doc.insert((*name).into(), Value::String(value.clone()));
        }
        for (name, _, value) in &self.metrics {
            doc.insert((*name).into(), json!(value));
        }
        Value::Object(doc)
    }

    /// Writes the document as one line on stdout, when metrics are enabled.
    pub fn emit(&self) {
        if !enabled() || self.metrics.is_empty() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let line = self.to_emf(now).to_string();
        // One write of a whole line, so it never interleaves with a log line.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_set_is_an_emf_document() {
        let doc = MetricSet::in_stage(None)
            .dimension("ModelVersion", "1.0.0")
            .metric("RecordsScored", Unit::Count, 100.0)
            .metric("PredictLatency", Unit::Milliseconds, 12.5)
            .to_emf(1_700_000_000_000);
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(cw["Namespace"], "Vigil");
        assert_eq!(cw["Dimensions"], json!([["ModelVersion"]]));
        assert_eq!(
            cw["Metrics"],
            json!([
                { "Name": "RecordsScored", "Unit": "Count" },
                { "Name": "PredictLatency", "Unit": "Milliseconds" },
            ])
        );
        assert_eq!(doc["ModelVersion"], "1.0.0");
        assert_eq!(doc["RecordsScored"], 100.0);
        assert_eq!(doc["PredictLatency"], 12.5);
    }

    #[test]
    fn a_stage_is_the_first_dimension_of_every_set() {
        let doc = MetricSet::in_stage(Some("prod"))
            .dimension("ToStatus", "resolved")
            .metric("AlertStatusChanges", Unit::Count, 1.0)
            .to_emf(0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stage", "ToStatus"]])
        );
        assert_eq!(doc["Stage"], "prod");
        assert_eq!(doc["ToStatus"], "resolved");
    }

    #[test]
    fn a_set_without_dimensions_has_one_empty_dimension_set() {
        let doc = MetricSet::in_stage(None)
            .metric("AlertsCreated", Unit::Count, 1.0)
            .to_emf(0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}
