//! What the detector says about one record, and the rule that turns it into a
//! category and a severity.

use super::schema::Thresholds;
use crate::domain::{Category, Severity};

/// normal, dos, probe, r2l, u2r — the model's output order.
pub const CLASS_COUNT: usize = 5;
const ATTACK_CATEGORIES: [Category; 4] =
    [Category::Dos, Category::Probe, Category::R2l, Category::U2r];

#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Probability that the record is an attack: 1 - P(normal).
    pub score: f32,
    pub probabilities: [f32; CLASS_COUNT],
    /// How unlike normal training traffic the record is (see the model card).
    pub novelty: f32,
    pub is_threat: bool,
    /// `None` when the record is judged normal.
    pub category: Option<Category>,
    pub severity: Option<Severity>,
}

impl Prediction {
    /// Applies a profile's thresholds.
    ///
    /// - A threat is a record whose attack score reaches `threshold`, or whose novelty
    ///   reaches `novelty_threshold`.
    /// - Its category is the most likely attack family when the score decided, and
    ///   `anomaly` when only novelty did (the model has not seen its like).
    pub fn new(probabilities: [f32; CLASS_COUNT], novelty: f32, at: Thresholds) -> Self {
        let score = (1.0 - probabilities[0]).clamp(0.0, 1.0);
        let by_score = score >= at.threshold;
        let by_novelty = at.novelty_threshold.is_some_and(|t| novelty >= t);
        let category =
            if by_score {
                let (best, _) = probabilities[1..].iter().enumerate().fold(
                    (0, f32::MIN),
                    |(bi, bp), (i, p)| if *p > bp { (i, *p) } else { (bi, bp) },
                );
                Some(ATTACK_CATEGORIES[best])
            } else if by_novelty {
                Some(Category::Anomaly)
            } else {
                None
            };
        let severity = category.map(|c| severity_for(c, score, novelty, at.novelty_threshold));
        Self {
            score,
            probabilities,
            novelty,
            is_threat: category.is_some(),
            category,
            severity,
        }
    }
}

/// The severity rule (documented in the README):
///
/// 1. A base per category, by what the attack can do: `u2r` (root on a host) is
///    critical; `r2l` (remote access) and `dos` are high; `probe` (reconnaissance)
///    and `anomaly` (unknown) are medium.
/// 2. Confidence moves it one step: up when the score is at least 0.95 (or, for an
///    anomaly, when novelty is at least twice its threshold); down when the score is
///    below 0.7 — a weak signal should not page anyone.
pub fn severity_for(
    category: Category,
    score: f32,
    novelty: f32,
    novelty_threshold: Option<f32>,
) -> Severity {
    let base: i8 = match category {
        Category::U2r => 3,
        Category::R2l | Category::Dos => 2,
        Category::Probe | Category::Anomaly => 1,
    };
    let confident = match category {
        Category::Anomaly => novelty_threshold.is_some_and(|t| novelty >= 2.0 * t),
        _ => score >= 0.95,
    };
    let weak = category != Category::Anomaly && score < 0.7;
    let level = base + i8::from(confident) - i8::from(weak);
    Severity::ALL[level.clamp(0, 3) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_category_and_confidence() {
        assert_eq!(
            severity_for(Category::U2r, 0.8, 0.0, None),
            Severity::Critical
        );
        assert_eq!(
            severity_for(Category::Dos, 0.99, 0.0, None),
            Severity::Critical
        );
        assert_eq!(severity_for(Category::Dos, 0.8, 0.0, None), Severity::High);
        assert_eq!(severity_for(Category::Probe, 0.6, 0.0, None), Severity::Low);
        assert_eq!(
            severity_for(Category::Anomaly, 0.1, 5.0, Some(2.0)),
            Severity::High
        );
        assert_eq!(
            severity_for(Category::Anomaly, 0.1, 2.5, Some(2.0)),
            Severity::Medium
        );
    }
}
