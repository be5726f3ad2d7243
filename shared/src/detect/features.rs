//! Turns parsed records into the model's input vectors, exactly as the training
//! pipeline did (`model/train.py`): the numeric block (optional `log1p`, then
//! standardised), then one-hot blocks for protocol, service and flag, each with a
//! trailing "other" slot for values never seen in training.

use super::{
    record::{ConnectionRecord, FEATURES, FeatureKind},
    schema::{FeatureSchema, Transform},
};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
#[error("the feature schema does not fit this build: {0}")]
pub struct SchemaMismatch(pub String);

struct NumericSlot {
    /// Index into `ConnectionRecord::numeric`.
    source: usize,
    log1p: bool,
    mean: f64,
    std: f64,
}

struct CategoricalBlock {
    /// 0 = protocol_type, 1 = service, 2 = flag.
    which: usize,
    offset: usize,
    values: HashMap<String, usize>,
    /// Position of the "other" slot, relative to `offset`.
    other: usize,
}

/// Precomputed from the schema once at start-up; `encode` allocates nothing per record.
pub struct FeatureEncoder {
    numeric: Vec<NumericSlot>,
    categorical: Vec<CategoricalBlock>,
    width: usize,
}

impl FeatureEncoder {
    pub fn new(schema: &FeatureSchema) -> Result<Self, SchemaMismatch> {
        let numeric_names: Vec<&str> = FEATURES
            .iter()
            .filter(|(_, k)| *k != FeatureKind::Categorical)
            .map(|(n, _)| *n)
            .collect();
        let numeric = schema
            .numeric
            .iter()
            .map(|f| {
                let source = numeric_names
                    .iter()
                    .position(|n| *n == f.name)
                    .ok_or_else(|| SchemaMismatch(format!("unknown numeric feature {}", f.name)))?;
                if !(f.std > 0.0 && f.std.is_finite() && f.mean.is_finite()) {
                    return Err(SchemaMismatch(format!("bad scaling for {}", f.name)));
                }
                Ok(NumericSlot {
                    source,
                    log1p: f.transform == Transform::Log1p,
                    mean: f.mean,
                    std: f.std,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut offset = numeric.len();
        let mut categorical = Vec::new();
        for block in &schema.categorical {
            let which = ["protocol_type", "service", "flag"]
                .iter()
                .position(|n| *n == block.name)
                .ok_or_else(|| {
                    SchemaMismatch(format!("unknown categorical feature {}", block.name))
                })?;
            let values = block
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i))
                .collect();
            categorical.push(CategoricalBlock {
                which,
                offset,
                values,
                other: block.values.len(),
            });
            offset += block.values.len() + 1;
        }
        if offset != schema.feature_count {
            return Err(SchemaMismatch(format!(
                "the blocks add up to {offset} features, the schema says {}",
                schema.feature_count
            )));
        }
        Ok(Self {
            numeric,
            categorical,
            width: offset,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Where each of the 41 features lands in the encoded vector, in [`FEATURES`]
    /// order: one slot for a numeric feature, its one-hot block for a categorical.
    pub fn feature_slots(&self) -> Vec<std::ops::Range<usize>> {
        let mut numeric_seen = 0;
        FEATURES
            .iter()
            .map(|(name, kind)| {
                if *kind == FeatureKind::Categorical {
                    let which = ["protocol_type", "service", "flag"]
                        .iter()
                        .position(|n| n == name)
                        .expect("the three categorical features");
                    let block = self
                        .categorical
                        .iter()
                        .find(|b| b.which == which)
                        .expect("a block per categorical feature");
                    block.offset..block.offset + block.other + 1
                } else {
                    let source = numeric_seen;
                    numeric_seen += 1;
                    let slot = self
                        .numeric
                        .iter()
                        .position(|s| s.source == source)
                        .expect("a slot per numeric feature");
                    slot..slot + 1
                }
            })
            .collect()
    }

    /// Writes one record's features into `out` (exactly `width()` long).
    pub fn encode_into(&self, record: &ConnectionRecord, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.width);
        for (slot, value) in self.numeric.iter().zip(out.iter_mut()) {
            let x = record.numeric[slot.source].max(0.0);
            let t = if slot.log1p { x.ln_1p() } else { x };
            // f64 like numpy in training, so both sides round once, at the end.
            *value = ((t - slot.mean) / slot.std) as f32;
        }
        out[self.numeric.len()..].fill(0.0);
        for block in &self.categorical {
            let value = match block.which {
                0 => &record.protocol_type,
                1 => &record.service,
                _ => &record.flag,
            };
            let position = block.values.get(value).copied().unwrap_or(block.other);
            out[block.offset + position] = 1.0;
        }
    }

    /// Encodes a batch into one row-major `[records, width]` buffer.
    pub fn encode(&self, records: &[ConnectionRecord], buffer: &mut Vec<f32>) {
        buffer.clear();
        buffer.resize(records.len() * self.width, 0.0);
        for (record, row) in records.iter().zip(buffer.chunks_exact_mut(self.width)) {
            self.encode_into(record, row);
        }
    }
}
