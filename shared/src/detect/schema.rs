//! The feature contract written by the training pipeline (`model/feature_schema.json`)
//! and read here at compile time, so training and serving cannot drift apart.

use crate::domain::Profile;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct FeatureSchema {
    pub schema_version: u32,
    pub model: crate::domain::Model,
    pub training_data: TrainingData,
    pub numeric: Vec<NumericFeature>,
    pub categorical: Vec<CategoricalFeature>,
    pub feature_count: usize,
    pub classes: Vec<String>,
    /// Each operating point's thresholds, chosen on validation (see the model card).
    pub profiles: Profiles,
    pub inputs: Names,
    pub outputs: Outputs,
}

/// The thresholds of every [`Profile`]; the schema must name all three.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    strict: Thresholds,
    balanced: Thresholds,
    sensitive: Thresholds,
}

impl Profiles {
    pub fn of(&self, profile: Profile) -> Thresholds {
        match profile {
            Profile::Strict => self.strict,
            Profile::Balanced => self.balanced,
            Profile::Sensitive => self.sensitive,
        }
    }
}

/// How a record becomes a threat: its attack score (1 − P(normal)) reaches
/// `threshold`, or its novelty reaches `novelty_threshold` (a model without a novelty
/// head has none).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Thresholds {
    #[schema(example = 0.5)]
    pub threshold: f32,
    #[schema(example = 1.0)]
    pub novelty_threshold: Option<f32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrainingData {
    pub file: String,
    pub sha256: String,
    pub records: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Identity,
    Log1p,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NumericFeature {
    pub name: String,
    pub transform: Transform,
    pub mean: f64,
    pub std: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CategoricalFeature {
    pub name: String,
    pub values: Vec<String>,
}

/// The model's inputs, in order: the numeric block `[N, numeric]` (float32) and the
/// three categorical slots `[N, 3]` (int64).
#[derive(Debug, Clone, Deserialize)]
pub struct Names {
    pub numeric: String,
    pub categories: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Outputs {
    /// `[N, 5]` before the softmax: what the detector reads (see `detector.rs`).
    pub logits: String,
    pub class_probabilities: String,
    pub novelty: String,
}

/// The schema bundled with this build.
pub const BUNDLED_SCHEMA: &str = include_str!("../../../model/feature_schema.json");

impl FeatureSchema {
    pub fn bundled() -> Result<Self, serde_json::Error> {
        serde_json::from_str(BUNDLED_SCHEMA)
    }
}
