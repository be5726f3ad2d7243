use serde::{Deserialize, Serialize};

/// The kind of threat an alert is about: the four NSL-KDD attack families, plus
/// `Anomaly` for traffic the model finds novel without matching a known family.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Dos,
    Probe,
    R2l,
    U2r,
    Anomaly,
}

words!(Category {
    Dos => "dos",
    Probe => "probe",
    R2l => "r2l",
    U2r => "u2r",
    Anomaly => "anomaly",
});
