use serde::{Deserialize, Serialize};

/// An operating point of the detector: how much evidence a record needs before it is
/// called a threat. The operator picks one per deployment (`VIGIL_DETECTION_PROFILE`);
/// the thresholds of each come with the model (`model/feature_schema.json`, chosen on
/// validation as the model card says), so a new model brings its own.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The fewest false alarms (a budget of about 1 % of normal traffic): for
    /// networks where analysts cannot keep up otherwise.
    Strict,
    /// The default: the model card's recommended trade-off.
    #[default]
    Balanced,
    /// Misses the least, at more false alarms: for a network under attack, or one
    /// with analysts to spare.
    Sensitive,
}

words!(Profile {
    Strict => "strict",
    Balanced => "balanced",
    Sensitive => "sensitive",
});
