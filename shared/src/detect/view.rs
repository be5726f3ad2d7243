//! What predict answers: a prediction per record, the model, and the batch's counts.

use super::{Contribution, FEATURES, FeatureKind, FeatureSchema, Thresholds};
use crate::domain::{AlertId, AlertIdText, Attack, Category, Model, Profile, Severity};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Predictions for a batch, in the order of its records.
#[derive(Serialize, ToSchema)]
pub struct PredictResponse {
    /// The model that scored the batch.
    pub(super) model: Model,
    /// The operating point that decided every prediction below, and its thresholds.
    pub(super) profile: Profile,
    #[serde(flatten)]
    pub(super) thresholds: Thresholds,
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
    /// The operating point that decided `is_threat` (the deployment's
    /// `VIGIL_DETECTION_PROFILE`).
    pub(super) profile: Profile,
    /// The probability that the record is an attack (1 − P(normal)).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub(super) score: f32,
    /// `normal`, or the threat's category: dos, probe, r2l, u2r, anomaly.
    #[schema(value_type = String, example = "dos")]
    pub(super) category: &'static str,
    /// The classifier's probability per class.
    pub(super) probabilities: Probabilities,
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
    /// For a threat: the features that made it one, most first (see the README's
    /// "Every threat says why"). Absent for normal records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) explanation: Option<Vec<Contribution>>,
}

/// The classifier's probability of each class. (A struct, not a map: 10,000 of
/// them are written per batch, and a map costs a hash table each.)
#[derive(Serialize, ToSchema)]
#[schema(as = ClassProbabilities)]
pub(super) struct Probabilities {
    normal: f32,
    dos: f32,
    probe: f32,
    r2l: f32,
    u2r: f32,
}

impl From<[f32; super::CLASS_COUNT]> for Probabilities {
    /// From the model's output order: normal, dos, probe, r2l, u2r.
    fn from([normal, dos, probe, r2l, u2r]: [f32; super::CLASS_COUNT]) -> Self {
        Self {
            normal,
            dos,
            probe,
            r2l,
            u2r,
        }
    }
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

/// The validation figures of the bundled model, as `train.py` wrote them
/// (`model/reports/metrics.json`): a random split of KDDTrain+, and folds that hold
/// out whole attack types. Read at compile time, like the model.
const VALIDATION: &str = include_str!("../../../model/reports/metrics.json");

/// `GET /model`.
#[derive(Serialize, ToSchema)]
pub struct ModelView {
    #[serde(flatten)]
    pub(super) model: Model,
    /// The classes the classifier scores, in output order.
    #[schema(example = json!(["normal", "dos", "probe", "r2l", "u2r"]))]
    pub(super) classes: Vec<String>,
    /// The 41 NSL-KDD features a record carries, in CSV order.
    pub(super) features: Vec<FeatureView>,
    /// The profile this deployment decides at (`VIGIL_DETECTION_PROFILE`).
    pub(super) profile: Profile,
    /// How a record becomes a threat at that profile: `score >= threshold`, or
    /// `novelty >= novelty_threshold`.
    pub(super) decision: Thresholds,
    /// Every profile the model offers: its thresholds and the model card's validation
    /// figures for it.
    pub(super) profiles: Vec<ProfileView>,
    /// The model card's validation figures (`model/reports/metrics.json`), at the
    /// default profile: `random_split` (classifier and novelty together), `heldout`
    /// (whole attack types left out of training), `heldout_normals` (whole groups of
    /// normal traffic left out: the false-alarm estimate) and `shortcuts` (decisions
    /// that flip when a categorical field is masked or swapped).
    #[schema(value_type = Object)]
    pub(super) validation: serde_json::Value,
    /// What MITRE ATT&CK calls each category the model finds.
    pub(super) attack: Vec<CategoryAttack>,
}

#[derive(Serialize, ToSchema)]
pub struct FeatureView {
    #[schema(example = "src_bytes")]
    pub(super) name: &'static str,
    pub(super) kind: FeatureKind,
}

#[derive(Serialize, ToSchema)]
pub struct ProfileView {
    pub(super) name: Profile,
    #[serde(flatten)]
    pub(super) thresholds: Thresholds,
    /// What the model card measured at these thresholds (`random_split`,
    /// `heldout_attacks`, `heldout_normals`); null where it has no figures.
    #[schema(value_type = Object)]
    pub(super) validation: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryAttack {
    pub(super) category: Category,
    pub(super) attack: Attack,
}

impl ModelView {
    pub(super) fn of(schema: &FeatureSchema, profile: Profile) -> Self {
        // Parsed once per process: the file is part of the binary.
        static METRICS: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
        let metrics = METRICS.get_or_init(|| {
            serde_json::from_str(VALIDATION).expect("the bundled metrics.json is JSON")
        });
        Self {
            model: schema.model.clone(),
            classes: schema.classes.clone(),
            features: FEATURES
                .iter()
                .map(|(name, kind)| FeatureView { name, kind: *kind })
                .collect(),
            profile,
            decision: schema.profiles.of(profile),
            profiles: Profile::ALL
                .into_iter()
                .map(|name| ProfileView {
                    name,
                    thresholds: schema.profiles.of(name),
                    validation: metrics["profiles"][name.as_str()]["validation"].clone(),
                })
                .collect(),
            validation: serde_json::json!({
                "random_split": metrics["random_split"]["classifier_or_novelty"],
                "heldout": {
                    "mean_fpr_normal": metrics["heldout"]["mean_fpr_normal"],
                    "max_fpr_normal": metrics["heldout"]["max_fpr_normal"],
                    "macro_detection": metrics["heldout"]["macro_detection"],
                    "folds": metrics["heldout"]["folds"],
                },
                // Normal traffic unlike the training normals: whole groups (by service,
                // by protocol) left out of training, and how often decisions flip when a
                // categorical field is masked or swapped.
                "heldout_normals": {
                    "mean_fpr_normal": metrics["heldout_normals"]["mean_fpr_normal"],
                    "max_fpr_normal": metrics["heldout_normals"]["max_fpr_normal"],
                    "groups": metrics["heldout_normals"]["groups"],
                },
                "shortcuts": metrics["shortcuts"],
            }),
            attack: Category::ALL
                .into_iter()
                .map(|category| CategoryAttack {
                    category,
                    attack: category.attack(),
                })
                .collect(),
        }
    }
}

/// The compact form of a predict answer (`Accept: text/csv`): one line per record, in
/// order, for machines that want the verdicts and nothing else.
pub const PREDICTIONS_CSV_HEADER: &str =
    "index,is_threat,profile,category,severity,score,novelty,alert_id,alert_error\n";
/// The compact form as the contract shows it (a test holds it to what `to_csv` writes).
pub const PREDICTIONS_CSV_EXAMPLE: &str = "index,is_threat,profile,category,severity,score,novelty,alert_id,alert_error\n0,false,balanced,normal,,0.0012,0.31,,\n1,true,balanced,dos,critical,1.0,1.24,01M8S4F4PR5B9J7F21PDMQ3T5M,\n";

/// [`PREDICTIONS_CSV_EXAMPLE`] for the OpenAPI document.
pub fn predictions_csv_example() -> serde_json::Value {
    PREDICTIONS_CSV_EXAMPLE.into()
}

impl PredictResponse {
    /// The answer for `predictions`: each with its explanation (taken from
    /// `explanations`, by record index) and its alert's outcome, if stored.
    pub(super) fn new(
        detector: &super::Detector,
        predictions: &[super::Prediction],
        mut explanations: HashMap<usize, Vec<Contribution>>,
        outcomes: &HashMap<usize, Result<AlertId, &'static str>>,
        summary: Summary,
    ) -> Self {
        let profile = detector.profile();
        let predictions = predictions
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let outcome = outcomes.get(&index);
                PredictionView {
                    index,
                    is_threat: p.is_threat,
                    profile,
                    score: p.score,
                    category: p.category.map(|c| c.as_str()).unwrap_or("normal"),
                    probabilities: p.probabilities.into(),
                    novelty: p.novelty,
                    severity: p.severity.map(|s| s.as_str()),
                    alert_id: outcome.and_then(|o| o.ok()),
                    alert_error: outcome.and_then(|o| o.err()),
                    explanation: explanations.remove(&index),
                }
            })
            .collect();
        Self {
            model: detector.schema().model.clone(),
            profile,
            thresholds: detector.thresholds(),
            predictions,
            summary,
        }
    }

    /// The compact form: [`PREDICTIONS_CSV_HEADER`], then a line per prediction.
    pub(super) fn to_csv(&self) -> String {
        let mut out =
            String::with_capacity(PREDICTIONS_CSV_HEADER.len() + 64 * self.predictions.len());
        out.push_str(PREDICTIONS_CSV_HEADER);
        let (mut integers, mut floats) = (itoa::Buffer::new(), ryu::Buffer::new());
        for p in &self.predictions {
            // Floats in the shortest form that reads back the same, as the JSON answer
            // writes them.
            for cell in [
                integers.format(p.index),
                if p.is_threat { "true" } else { "false" },
                p.profile.as_str(),
                p.category,
                p.severity.unwrap_or(""),
            ] {
                out.push_str(cell);
                out.push(',');
            }
            out.push_str(floats.format(p.score));
            out.push(',');
            out.push_str(floats.format(p.novelty));
            out.push(',');
            if let Some(id) = p.alert_id {
                out.push_str(&id.to_string());
            }
            out.push(',');
            out.push_str(p.alert_error.unwrap_or(""));
            out.push('\n');
        }
        out
    }
}
