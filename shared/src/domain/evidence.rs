//! What an alert keeps of the records that raised it: the first and the latest, each
//! with its scores and its explanation. Two records however many the alert groups, so
//! an alert item stays the same size through a flood (see `ALERT_MAX_BYTES`).

use super::Profile;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A feature's value as the request carried it: a number, or a categorical's word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FeatureValue {
    #[schema(example = 1.0)]
    Number(f64),
    #[schema(example = "private")]
    Word(String),
}

/// One feature's part in a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contribution {
    /// The feature's NSL-KDD name. (Borrowed from the feature list when the detector
    /// writes it; owned when read back from the store.)
    #[schema(value_type = String, example = "serror_rate")]
    pub feature: Cow<'static, str>,
    /// The record's value of it.
    pub value: FeatureValue,
    /// How much the deciding signal (−ln P(normal) in nats, or the novelty for an
    /// anomaly) falls when the feature is set to its baseline: positive pushed the
    /// record towards the verdict, negative held it back.
    #[schema(example = 0.42)]
    pub contribution: f32,
}

/// One record that raised (or repeated) an alert, as the detector saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sighting {
    /// When it was observed (the sensor's time, else when it arrived).
    pub seen_at: DateTime<Utc>,
    /// The record's 41 NSL-KDD features as one CSV line in column order: the form
    /// predict takes with `Content-Type: text/csv` and `GET /feedback` exports. (One
    /// string, not 41 attributes: an alert item is rewritten on every repeat, and
    /// DynamoDB bills each write by the whole item's size.)
    #[schema(
        example = "0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1,1,0,0,0.05,0.07,0,255,26,0.1,0.05,0,0,1,1,0,0"
    )]
    pub record: String,
    /// Its attack score (1 − P(normal)).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: f32,
    /// Its distance from known-normal traffic.
    pub novelty: f32,
    /// The operating point that called it a threat.
    pub profile: Profile,
    /// The features that made it one, most first.
    pub explanation: Vec<Contribution>,
}

/// The first and the latest record of an alert (the same one until a repeat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    pub first: Sighting,
    pub latest: Sighting,
}

/// The largest a [`Sighting`] can be, stored: 41 fields of a CSV line (three words of
/// at most 64 characters, 38 numbers of at most 24), the explanation's few features
/// (a name and a value each), and the fixed fields with their names.
pub const SIGHTING_MAX_BYTES: usize = 3 * 64 + 38 * 25 + 5 * (32 + 64 + 24 + 48) + 160;

impl Evidence {
    /// Evidence that starts with `sighting`.
    pub fn of(sighting: Sighting) -> Self {
        Self {
            first: sighting.clone(),
            latest: sighting,
        }
    }

    /// Takes in a later sighting: it becomes the latest unless it was seen before it.
    pub fn see(&mut self, sighting: Sighting) {
        if sighting.seen_at >= self.latest.seen_at {
            self.latest = sighting;
        }
    }

    /// Takes in another alert's evidence (a repeat absorbed across batches): the
    /// earliest first, the newest latest.
    pub fn merge(&mut self, other: &Evidence) {
        if other.first.seen_at < self.first.seen_at {
            self.first = other.first.clone();
        }
        self.see(other.latest.clone());
    }

    /// The distinct records it holds: the first, and the latest when it differs.
    pub fn records(&self) -> impl Iterator<Item = &Sighting> {
        let latest = (self.latest != self.first).then_some(&self.latest);
        std::iter::once(&self.first).chain(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(minute: u32, record: &str) -> Sighting {
        Sighting {
            seen_at: format!("2026-12-01T10:{minute:02}:00Z").parse().unwrap(),
            record: record.into(),
            score: 0.9,
            novelty: 0.5,
            profile: Profile::Balanced,
            explanation: vec![],
        }
    }

    #[test]
    fn evidence_keeps_the_first_and_the_latest_whatever_the_order() {
        let mut evidence = Evidence::of(sighting(10, "a"));
        assert_eq!(evidence.records().count(), 1);
        evidence.see(sighting(12, "c"));
        evidence.see(sighting(11, "b"));
        assert_eq!(
            (&*evidence.first.record, &*evidence.latest.record),
            ("a", "c")
        );
        let mut other = Evidence::of(sighting(5, "early"));
        other.see(sighting(20, "late"));
        evidence.merge(&other);
        let records: Vec<&str> = evidence.records().map(|s| s.record.as_str()).collect();
        assert_eq!(records, ["early", "late"]);
    }
}
