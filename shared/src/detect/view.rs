//! What predict answers: a prediction per record, the model, and the batch's counts.

use crate::domain::{AlertId, AlertIdText, Model, Severity};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Predictions for a batch, in the order of its records.
#[derive(Serialize, ToSchema)]
pub struct PredictResponse {
    /// The model that scored the batch.
    pub(super) model: Model,
    pub(super) threshold: f32,
    pub(super) novelty_threshold: Option<f32>,
    pub(super) predictions: Vec<PredictionView>,
    pub(super) summary: Summary,
}

/// The verdict on one record.
#[derive(Serialize, ToSchema)]
#[schema(as = Prediction)]
pub(super) struct PredictionView {
    /// The record's position in the batch.
    pub(super) index: usize,
    pub(super) is_threat: bool,
    /// The probability that the record is an attack (1 − P(normal)).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub(super) score: f32,
    /// `normal`, or the threat's category: dos, probe, r2l, u2r, anomaly.
    #[schema(value_type = String, example = "dos")]
    pub(super) category: &'static str,
    /// The classifier's probability per class (normal, dos, probe, r2l, u2r).
    #[schema(value_type = HashMap<String, f32>)]
    pub(super) probabilities: HashMap<&'static str, f32>,
    /// Distance from known-normal traffic; above `novelty_threshold` is an anomaly.
    pub(super) novelty: f32,
    /// The threat's severity (low, medium, high, critical); null for normal records.
    #[schema(value_type = Option<Severity>)]
    pub(super) severity: Option<&'static str>,
    /// The alert this threat was recorded in (when `store` is on).
    #[schema(value_type = Option<AlertIdText>)]
    pub(super) alert_id: Option<AlertId>,
    /// Set when the record's alert could not be stored (nothing was written for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub(super) alert_error: Option<&'static str>,
}

/// Counts for the batch.
#[derive(Serialize, Default, ToSchema)]
#[schema(as = PredictSummary)]
pub(super) struct Summary {
    pub(super) records: usize,
    pub(super) threats: usize,
    pub(super) alerts_created: usize,
    pub(super) alerts_updated: usize,
    pub(super) alerts_failed: usize,
}

pub(super) const CLASS_NAMES: [&str; 5] = ["normal", "dos", "probe", "r2l", "u2r"];
