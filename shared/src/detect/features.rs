//! Turns parsed records into the model's inputs, exactly as the training pipeline
//! preprocesses them (`model/train.py`): the numeric block (optional `log1p`, then
//! standardised), and for protocol, service and flag each the slot of its one-hot
//! block (a trailing "other" slot for values never seen in training).
//!
//! The model takes the one-hot blocks as slot indices, not as 85 mostly-zero floats
//! (`model/gather.py`): its graph gathers the weight rows of the three slots a record
//! has, which is the same sum as multiplying the one-hot vector, at a third of the
//! work. `wide` gives the one-hot vector itself, the contract the golden vectors and
//! `model/check_schema.py` hold training and serving to.

use super::{
    record::{ConnectionRecord, FEATURES, FeatureKind, NUMERIC_FEATURES},
    schema::{FeatureSchema, Transform},
};
use std::{collections::HashMap, hash::BuildHasherDefault, sync::OnceLock};

/// FNV-1a, for the vocabulary lookups: three short words a record, where SipHash (the
/// default, which resists crafted collisions) cost more than the rest of encoding. A
/// vocabulary is fixed at training and at most a few dozen words, so collisions cannot
/// be made to cost anything that matters.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Counts below this are looked up rather than computed (`log1p` below).
const LOG1P_TABLE: usize = 1024;

/// `x.ln_1p()`, bit for bit: whole numbers below 1,024 (most counts and many byte
/// sizes) from a table the same function filled once, the rest computed. log1p was a
/// tenth of the CSV path's time.
fn log1p(x: f64) -> f64 {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    // A cast and a compare, not `fract` (a libm call on baseline x86-64).
    let k = x as usize;
    if k < LOG1P_TABLE && k as f64 == x {
        let table = TABLE.get_or_init(|| (0..LOG1P_TABLE).map(|k| (k as f64).ln_1p()).collect());
        return table[k];
    }
    x.ln_1p()
}

/// Categorical features a record has: protocol_type, service, flag.
pub const CATEGORIES: usize = 3;

#[derive(Debug, thiserror::Error)]
#[error("the feature schema does not fit this build: {0}")]
pub struct SchemaMismatch(pub String);

/// The numeric block's slots, a column each: `encode_row` runs one loop over the
/// transforms and then one over `(t - mean) / std` alone, which the compiler does two
/// divisions at a time (divisions were half of encoding when a loop did both).
#[derive(Default)]
struct NumericSlots {
    /// Index into `ConnectionRecord::numeric`.
    source: Vec<usize>,
    log1p: Vec<bool>,
    mean: Vec<f64>,
    std: Vec<f64>,
}

struct CategoricalBlock {
    /// 0 = protocol_type, 1 = service, 2 = flag.
    which: usize,
    /// The block's first slot among all categorical slots.
    offset: usize,
    values: HashMap<Box<[u8]>, usize, BuildHasherDefault<Fnv>>,
    /// Position of the "other" slot, relative to `offset`.
    other: usize,
}

/// A batch's model inputs: the numeric block `[n, numeric_width]`, and each record's
/// three categorical slots `[n, 3]` (indexes among all the one-hot slots).
#[derive(Debug, Default, Clone)]
pub struct Encoded {
    pub numeric: Vec<f32>,
    pub categories: Vec<i64>,
}

/// What blanking a feature means, for an explanation's occlusion: a numeric feature
/// goes to 0 (its training mean, standardised), a categorical one to no slot at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occlusion {
    /// Index into the numeric block.
    Numeric(usize),
    /// Which of the three categorical features (0 = protocol_type, 1 = service,
    /// 2 = flag).
    Category(usize),
}

/// Precomputed from the schema once at start-up; `encode` allocates nothing per record.
pub struct FeatureEncoder {
    numeric: NumericSlots,
    categorical: Vec<CategoricalBlock>,
    /// One-hot slots in all (the "no category" index is this one past the last).
    slots: usize,
}

impl FeatureEncoder {
    pub fn new(schema: &FeatureSchema) -> Result<Self, SchemaMismatch> {
        let numeric_names: Vec<&str> = FEATURES
            .iter()
            .filter(|(_, k)| *k != FeatureKind::Categorical)
            .map(|(n, _)| *n)
            .collect();
        let mut numeric = NumericSlots::default();
        for f in &schema.numeric {
            let source = numeric_names
                .iter()
                .position(|n| *n == f.name)
                .ok_or_else(|| SchemaMismatch(format!("unknown numeric feature {}", f.name)))?;
            if numeric.source.contains(&source) {
                return Err(SchemaMismatch(format!("{} appears twice", f.name)));
            }
            if !(f.std > 0.0 && f.std.is_finite() && f.mean.is_finite()) {
                return Err(SchemaMismatch(format!("bad scaling for {}", f.name)));
            }
            numeric.source.push(source);
            numeric.log1p.push(f.transform == Transform::Log1p);
            numeric.mean.push(f.mean);
            numeric.std.push(f.std);
        }
        let mut offset = 0;
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
                .map(|(i, v)| (v.as_bytes().into(), i))
                .collect();
            categorical.push(CategoricalBlock {
                which,
                offset,
                values,
                other: block.values.len(),
            });
            offset += block.values.len() + 1;
        }
        if numeric.source.len() + offset != schema.feature_count {
            return Err(SchemaMismatch(format!(
                "the blocks add up to {} features, the schema says {}",
                numeric.source.len() + offset,
                schema.feature_count
            )));
        }
        if categorical.len() != CATEGORIES {
            return Err(SchemaMismatch(format!(
                "{} categorical blocks, the model takes {CATEGORIES}",
                categorical.len()
            )));
        }
        categorical.sort_by_key(|b| b.which);
        Ok(Self {
            numeric,
            categorical,
            slots: offset,
        })
    }

    /// Numeric features a record has (the width of the `numeric` input).
    pub fn numeric_width(&self) -> usize {
        self.numeric.source.len()
    }

    /// The width of the one-hot vector the schema describes (numeric block, then
    /// every categorical slot): `feature_count`.
    pub fn wide_width(&self) -> usize {
        self.numeric_width() + self.slots
    }

    /// The slot index that stands for "no category" (an occluded categorical): the
    /// model's table has a row of zeros there.
    pub fn no_category(&self) -> i64 {
        self.slots as i64
    }

    /// What blanking each of the 41 features means, in [`FEATURES`] order.
    pub fn occlusions(&self) -> Vec<Occlusion> {
        let mut numeric_seen = 0;
        FEATURES
            .iter()
            .map(|(name, kind)| {
                if *kind == FeatureKind::Categorical {
                    let which = ["protocol_type", "service", "flag"]
                        .iter()
                        .position(|n| n == name)
                        .expect("the three categorical features");
                    Occlusion::Category(which)
                } else {
                    let source = numeric_seen;
                    numeric_seen += 1;
                    let slot = self
                        .numeric
                        .source
                        .iter()
                        .position(|s| *s == source)
                        .expect("a slot per numeric feature");
                    Occlusion::Numeric(slot)
                }
            })
            .collect()
    }

    /// Writes one record's inputs: `numeric` (exactly `numeric_width()` long) and
    /// `categories` (3 long).
    pub fn encode_row(
        &self,
        record: &ConnectionRecord,
        numeric: &mut [f32],
        categories: &mut [i64],
    ) {
        let slots = &self.numeric;
        debug_assert_eq!(numeric.len(), slots.source.len());
        // Distinct sources (checked in `new`): at most as many slots as numerics.
        let mut t = [0f64; NUMERIC_FEATURES];
        for ((t, source), log) in t.iter_mut().zip(&slots.source).zip(&slots.log1p) {
            let x = record.numeric[*source].max(0.0);
            *t = if *log { log1p(x) } else { x };
        }
        // f64 like numpy in training, so both sides round once, at the end.
        for (((value, t), mean), std) in numeric.iter_mut().zip(&t).zip(&slots.mean).zip(&slots.std)
        {
            *value = ((t - mean) / std) as f32;
        }
        for (block, category) in self.categorical.iter().zip(categories.iter_mut()) {
            let value = match block.which {
                0 => &record.protocol_type,
                1 => &record.service,
                _ => &record.flag,
            };
            let position = block
                .values
                .get(value.as_bytes())
                .copied()
                .unwrap_or(block.other);
            *category = (block.offset + position) as i64;
        }
    }

    /// Encodes a batch (replacing what `out` held).
    pub fn encode(&self, records: &[ConnectionRecord], out: &mut Encoded) {
        let width = self.numeric_width();
        out.numeric.clear();
        out.numeric.resize(records.len() * width, 0.0);
        out.categories.clear();
        out.categories.resize(records.len() * CATEGORIES, 0);
        for ((record, numeric), categories) in records
            .iter()
            .zip(out.numeric.chunks_exact_mut(width))
            .zip(out.categories.chunks_exact_mut(CATEGORIES))
        {
            self.encode_row(record, numeric, categories);
        }
    }

    /// The one-hot vector of the schema (`feature_count` long) for one record: the
    /// numeric block, then a 1 in each categorical feature's slot.
    pub fn wide(&self, record: &ConnectionRecord) -> Vec<f32> {
        let width = self.numeric_width();
        let mut numeric = vec![0.0; width];
        let mut categories = [0i64; CATEGORIES];
        self.encode_row(record, &mut numeric, &mut categories);
        let mut wide = numeric;
        wide.resize(self.wide_width(), 0.0);
        for c in categories {
            wide[width + c as usize] = 1.0;
        }
        wide
    }
}
