//! Why a record is a threat: occlusion. Each of the 41 features in turn is set to a
//! neutral baseline in the encoded vector (a numeric feature to 0, its training mean
//! after standardisation; a categorical one to no category at all) and the record is
//! scored again; how much that moves the deciding signal is the feature's
//! contribution. For a known category the signal is −ln P(normal), the evidence
//! against normal in nats: a score saturates at 1.0 for a clear attack, so removing
//! one feature would show no change in it, while the log-probability still moves. For
//! an anomaly the signal is the novelty.
//!
//! Why occlusion and not integrated gradients: tract runs the ONNX graph forward only,
//! and 41 forward passes of a 6,500-multiply-add MLP are cheap; identical records (a
//! flood's) are explained once. Measured cost: see the README ("Every threat says why").

use super::{
    CATEGORIES, Detector, Encoded, Occlusion,
    prediction::{CLASS_COUNT, Prediction},
    record::{ConnectionRecord, FEATURES, FeatureKind},
};
use crate::domain::{Category, Contribution, FeatureValue};
use std::collections::HashMap;

/// Features an explanation names.
pub const TOP_FEATURES: usize = 3;

/// P(normal) is floored here before its logarithm: float32 softmax outputs reach 0.
const MIN_PROBABILITY: f32 = 1e-30;

impl Detector {
    /// The top contributing features of each record at `threats` (indexes into
    /// `records` and `predictions`), in that order; split across the detector's
    /// threads like `predict` when there are enough of them.
    pub fn explain(
        &self,
        records: &[ConnectionRecord],
        predictions: &[Prediction],
        threats: &[usize],
    ) -> Result<Vec<Vec<Contribution>>, super::DetectError> {
        let parts = self.parts(threats.len() * FEATURES.len());
        if parts <= 1 {
            return self.explain_here(records, predictions, threats);
        }
        let per_part = threats.len().div_ceil(parts);
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = threats
                .chunks(per_part)
                .map(|part| scope.spawn(move || self.explain_here(records, predictions, part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(super::DetectError::Inference(
                            "an explaining thread panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        let mut explanations = Vec::with_capacity(threats.len());
        for part in results {
            explanations.extend(part?);
        }
        Ok(explanations)
    }

    fn explain_here(
        &self,
        records: &[ConnectionRecord],
        predictions: &[Prediction],
        threats: &[usize],
    ) -> Result<Vec<Vec<Contribution>>, super::DetectError> {
        let encoder = self.encoder();
        let width = encoder.numeric_width();
        let occlusions = encoder.occlusions();
        // Identical records are explained once; each distinct record, encoded once,
        // goes in with each feature at its baseline, all in one run.
        let mut encoded = Encoded::default();
        let mut distinct: HashMap<(Vec<u32>, [i64; CATEGORIES]), usize> = HashMap::new();
        let mut which: Vec<usize> = Vec::with_capacity(threats.len());
        let mut firsts: Vec<usize> = Vec::new();
        let mut variants = Encoded::default();
        for &i in threats {
            encoder.encode(std::slice::from_ref(&records[i]), &mut encoded);
            let mut categories = [0; CATEGORIES];
            categories.copy_from_slice(&encoded.categories);
            let key = (
                encoded.numeric.iter().map(|f| f.to_bits()).collect(),
                categories,
            );
            let next = distinct.len();
            let d = *distinct.entry(key).or_insert_with(|| {
                firsts.push(i);
                for occlusion in &occlusions {
                    let (numeric, cats) = (variants.numeric.len(), variants.categories.len());
                    variants.numeric.extend_from_slice(&encoded.numeric);
                    variants.categories.extend_from_slice(&encoded.categories);
                    match *occlusion {
                        Occlusion::Numeric(f) => variants.numeric[numeric + f] = 0.0,
                        Occlusion::Category(c) => {
                            variants.categories[cats + c] = encoder.no_category()
                        }
                    }
                }
                next
            });
            which.push(d);
        }
        let per_record = occlusions.len();
        debug_assert_eq!(variants.numeric.len(), firsts.len() * per_record * width);
        let scored = self.run(&variants, firsts.len() * per_record)?;
        let explanations: Vec<Vec<Contribution>> = firsts
            .iter()
            .enumerate()
            .map(|(d, &i)| {
                let p = &predictions[i];
                let by_novelty = p.category == Some(Category::Anomaly);
                let signal = |probabilities: &[f32; CLASS_COUNT], novelty: f32| {
                    if by_novelty {
                        novelty
                    } else {
                        -probabilities[0].max(MIN_PROBABILITY).ln()
                    }
                };
                let whole = signal(&p.probabilities, p.novelty);
                let mut parts: Vec<(usize, f32)> = scored[d * per_record..(d + 1) * per_record]
                    .iter()
                    .enumerate()
                    .map(|(f, (probabilities, novelty))| {
                        (f, whole - signal(probabilities, *novelty))
                    })
                    .collect();
                parts.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                parts
                    .into_iter()
                    .take(TOP_FEATURES)
                    .map(|(f, contribution)| Contribution {
                        feature: FEATURES[f].0.into(),
                        value: value_of(&records[i], f),
                        contribution,
                    })
                    .collect()
            })
            .collect();
        Ok(which.into_iter().map(|d| explanations[d].clone()).collect())
    }
}

/// Feature `f`'s value in `record`, as the request carried it.
fn value_of(record: &ConnectionRecord, f: usize) -> FeatureValue {
    let (name, kind) = FEATURES[f];
    match (kind, name) {
        (FeatureKind::Categorical, "protocol_type") => {
            FeatureValue::Word(record.protocol_type.into())
        }
        (FeatureKind::Categorical, "service") => FeatureValue::Word(record.service.into()),
        (FeatureKind::Categorical, _) => FeatureValue::Word(record.flag.into()),
        _ => FeatureValue::Number(record.numeric_by_name(name).unwrap_or_default()),
    }
}
