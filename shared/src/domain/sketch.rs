//! Bounded summaries of the values an alert groups (its sources, targets, ports):
//! how many distinct values, and which are the most frequent. Both have a fixed
//! maximum size however many values arrive, which is what keeps an attack's alert —
//! and its DynamoDB item — small.
//!
//! - `distinct` is a HyperLogLog with 2^14 registers: standard error 1.04/√16384 =
//!   0.81 %, and below 2.5 × 16,384 values it switches to linear counting, which is
//!   better still. It is kept sparse (3 bytes per register that is set) until that
//!   would pass the dense form's 12 KB, so a one-source alert stays a few bytes.
//! - `top` is Space-Saving with 20 slots: any value seen more than 1/20 of the time is
//!   in it, and each count is high by at most the smallest count in it.
//!
//! Two summaries merge (register-wise max; counts added), so a batch's group and the
//! stored alert combine exactly as if every value had been added to one.
//!
//! Serde: `Serialize` is the API view (`{"distinct": n, "top": [...]}`); the stored
//! form is [`ValueSummary::encode`], a byte string, which is what `Deserialize` reads
//! (the DynamoDB store writes it as a binary attribute).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// HyperLogLog precision: 2^14 registers.
const P: u32 = 14;
const M: usize = 1 << P;
/// The dense form: 6 bits a register.
const DENSE_BYTES: usize = M * 6 / 8;
/// A sparse entry: register index (2 bytes) and rank (1 byte).
const SPARSE_ENTRY_BYTES: usize = 3;
const SPARSE_MAX: usize = DENSE_BYTES / SPARSE_ENTRY_BYTES;
/// Space-Saving slots.
pub const TOP_SLOTS: usize = 20;
/// Longest value kept in `top` (an IPv6 address is at most 45 bytes).
const MAX_VALUE_BYTES: usize = 64;
/// The largest an encoded summary can be: tag, dense registers, slot count, and 20
/// slots of (length, value, count).
pub const MAX_ENCODED_BYTES: usize = 1 + DENSE_BYTES + 1 + TOP_SLOTS * (1 + MAX_VALUE_BYTES + 8);

/// A stable 64-bit hash (FNV-1a, then the SplitMix64 finaliser for well-mixed high
/// bits). Stable across builds and machines: registers are stored.
fn hash(value: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Registers {
    Sparse(BTreeMap<u16, u8>),
    Dense(Box<[u8]>),
}

/// A HyperLogLog distinct counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinctCount(Registers);

impl Default for DistinctCount {
    fn default() -> Self {
        Self(Registers::Sparse(BTreeMap::new()))
    }
}

impl DistinctCount {
    pub fn add(&mut self, value: &str) {
        let h = hash(value);
        let index = (h >> (64 - P)) as u16;
        // The rank of the remaining bits; the guard bit caps it at 64 - P + 1 = 51.
        let rank = ((h << P) | (1 << (P - 1))).leading_zeros() as u8 + 1;
        self.set(index, rank);
    }

    fn set(&mut self, index: u16, rank: u8) {
        match &mut self.0 {
            Registers::Sparse(map) => {
                let r = map.entry(index).or_insert(0);
                *r = (*r).max(rank);
                if map.len() > SPARSE_MAX {
                    self.densify();
                }
            }
            Registers::Dense(regs) => {
                let r = &mut regs[usize::from(index)];
                *r = (*r).max(rank);
            }
        }
    }

    fn densify(&mut self) {
        if let Registers::Sparse(map) = &self.0 {
            let mut regs = vec![0u8; M].into_boxed_slice();
            for (i, r) in map {
                regs[usize::from(*i)] = *r;
            }
            self.0 = Registers::Dense(regs);
        }
    }

    pub fn merge(&mut self, other: &DistinctCount) {
        match &other.0 {
            Registers::Sparse(map) => {
                for (i, r) in map {
                    self.set(*i, *r);
                }
            }
            Registers::Dense(regs) => {
                self.densify();
                for (i, r) in regs.iter().enumerate() {
                    if *r > 0 {
                        self.set(i as u16, *r);
                    }
                }
            }
        }
    }

    /// The estimated number of distinct values added.
    pub fn estimate(&self) -> u64 {
        let (mut sum, mut zeros) = (0f64, 0usize);
        let mut visit = |r: u8| {
            sum += 2f64.powi(-i32::from(r));
            if r == 0 {
                zeros += 1;
            }
        };
        match &self.0 {
            Registers::Sparse(map) => {
                map.values().for_each(|r| visit(*r));
                // Every unset register adds 2^0 and counts as a zero: no need to
                // walk all 16,384 for an alert with a handful of values.
                let unset = M - map.len();
                sum += unset as f64;
                zeros += unset;
            }
            Registers::Dense(regs) => regs.iter().for_each(|r| visit(*r)),
        }
        let m = M as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Registers::Sparse(map) => {
                out.push(0);
                out.extend_from_slice(&(map.len() as u16).to_be_bytes());
                for (i, r) in map {
                    out.extend_from_slice(&i.to_be_bytes());
                    out.push(*r);
                }
            }
            Registers::Dense(regs) => {
                out.push(1);
                for four in regs.chunks(4) {
                    let bits = four
                        .iter()
                        .fold(0u32, |acc, r| (acc << 6) | u32::from(*r & 0x3f));
                    out.extend_from_slice(&bits.to_be_bytes()[1..]);
                }
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, SketchError> {
        match take(input, 1)?[0] {
            0 => {
                let n = u16::from_be_bytes(take(input, 2)?.try_into().expect("2 bytes"));
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let e = take(input, SPARSE_ENTRY_BYTES)?;
                    let index = u16::from_be_bytes([e[0], e[1]]);
                    if usize::from(index) >= M || e[2] > 64 {
                        return Err(SketchError("a register is out of range"));
                    }
                    map.insert(index, e[2]);
                }
                Ok(Self(Registers::Sparse(map)))
            }
            1 => {
                let packed = take(input, DENSE_BYTES)?;
                let mut regs = Vec::with_capacity(M);
                for three in packed.chunks(3) {
                    let bits = u32::from_be_bytes([0, three[0], three[1], three[2]]);
                    for shift in [18, 12, 6, 0] {
                        regs.push(((bits >> shift) & 0x3f) as u8);
                    }
                }
                Ok(Self(Registers::Dense(regs.into_boxed_slice())))
            }
            _ => Err(SketchError("unknown register form")),
        }
    }
}

/// One of the most frequent values and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// The most frequent values (Space-Saving).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopValues(Vec<ValueCount>);

impl TopValues {
    pub fn add(&mut self, value: &str, count: u64) {
        let value = truncate(value);
        if let Some(slot) = self.0.iter_mut().find(|s| s.value == value) {
            slot.count += count;
        } else if self.0.len() < TOP_SLOTS {
            self.0.push(ValueCount {
                value: value.to_owned(),
                count,
            });
        } else if let Some(min) = self.0.iter_mut().min_by_key(|s| s.count) {
            // Space-Saving: the newcomer takes the smallest slot and inherits its
            // count, so a count can only be overestimated, by at most that minimum.
            *min = ValueCount {
                value: value.to_owned(),
                count: min.count + count,
            };
        }
    }

    pub fn merge(&mut self, other: &TopValues) {
        for slot in &other.0 {
            self.add(&slot.value, slot.count);
        }
    }

    /// Most frequent first (ties by value, so the order is stable).
    pub fn ranked(&self) -> Vec<ValueCount> {
        let mut all = self.0.clone();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        all
    }

    /// The stored form on its own (the report counters keep top sources per hour).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    pub fn from_bytes(mut input: &[u8]) -> Result<Self, SketchError> {
        let top = Self::decode(&mut input)?;
        if !input.is_empty() {
            return Err(SketchError("trailing bytes"));
        }
        Ok(top)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.0.len() as u8);
        for slot in &self.0 {
            out.push(slot.value.len() as u8);
            out.extend_from_slice(slot.value.as_bytes());
            out.extend_from_slice(&slot.count.to_be_bytes());
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, SketchError> {
        let n = usize::from(take(input, 1)?[0]);
        if n > TOP_SLOTS {
            return Err(SketchError("too many top values"));
        }
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let len = usize::from(take(input, 1)?[0]);
            let value = std::str::from_utf8(take(input, len)?)
                .map_err(|_| SketchError("a top value is not UTF-8"))?
                .to_owned();
            let count = u64::from_be_bytes(take(input, 8)?.try_into().expect("8 bytes"));
            slots.push(ValueCount { value, count });
        }
        Ok(Self(slots))
    }
}

fn truncate(value: &str) -> &str {
    if value.len() <= MAX_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], SketchError> {
    if input.len() < n {
        return Err(SketchError("the summary is truncated"));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// A stored summary that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a value summary is corrupt: {0}")]
pub struct SketchError(&'static str);

/// How many distinct values an alert groups, and the most frequent of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueSummary {
    distinct: DistinctCount,
    top: TopValues,
}

impl ValueSummary {
    pub fn add(&mut self, value: &str, count: u64) {
        self.distinct.add(value);
        self.top.add(value, count);
    }

    pub fn merge(&mut self, other: &ValueSummary) {
        self.distinct.merge(&other.distinct);
        self.top.merge(&other.top);
    }

    pub fn distinct(&self) -> u64 {
        // Never below what `top` shows for certain.
        self.distinct.estimate().max(self.top.0.len() as u64)
    }

    pub fn top(&self) -> Vec<ValueCount> {
        self.top.ranked()
    }

    /// The stored form; at most [`MAX_ENCODED_BYTES`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.distinct.encode(&mut out);
        self.top.encode(&mut out);
        out
    }

    pub fn decode(mut input: &[u8]) -> Result<Self, SketchError> {
        let distinct = DistinctCount::decode(&mut input)?;
        let top = TopValues::decode(&mut input)?;
        if !input.is_empty() {
            return Err(SketchError("trailing bytes"));
        }
        Ok(Self { distinct, top })
    }
}

/// The API view of a [`ValueSummary`].
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ValueSummary)]
pub struct ValueSummaryView {
    /// How many distinct values (an estimate within 2 % once there are thousands).
    #[schema(minimum = 0)]
    pub distinct: u64,
    /// The most frequent values, most frequent first; at most 20.
    #[schema(max_items = 20)]
    pub top: Vec<ValueCount>,
}

impl Serialize for ValueSummary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ValueSummaryView {
            distinct: self.distinct(),
            top: self.top(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ValueSummary {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Stored;
        impl<'de> serde::de::Visitor<'de> for Stored {
            type Value = ValueSummary;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an encoded value summary (bytes)")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                ValueSummary::decode(v).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut bytes = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                self.visit_bytes(&bytes)
            }
        }
        deserializer.deserialize_bytes(Stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(i: u32) -> String {
        std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string()
    }

    #[test]
    fn distinct_is_within_two_percent_from_ten_to_a_million() {
        for n in [10u32, 1_000, 10_000, 100_000, 1_000_000] {
            let mut d = DistinctCount::default();
            for i in 0..n {
                d.add(&ip(i));
                d.add(&ip(i)); // repeats change nothing
            }
            let error = (d.estimate() as f64 - f64::from(n)).abs() / f64::from(n);
            assert!(error < 0.02, "{n} distinct: estimate {}", d.estimate());
        }
    }

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let (mut a, mut b, mut all) = (
            ValueSummary::default(),
            ValueSummary::default(),
            ValueSummary::default(),
        );
        for i in 0..30_000 {
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.add(&ip(i % 20_000), 1);
            all.add(&ip(i % 20_000), 1);
        }
        a.merge(&b);
        assert_eq!(a.distinct(), all.distinct());
    }

    #[test]
    fn a_heavy_value_is_on_top_and_the_top_is_bounded() {
        let mut s = ValueSummary::default();
        for i in 0..5_000 {
            s.add(&ip(i), 1);
            s.add("198.51.100.7", 1);
        }
        let top = s.top();
        assert_eq!(top.len(), TOP_SLOTS);
        assert_eq!(top[0].value, "198.51.100.7");
        assert!(top[0].count >= 5_000);
    }

    #[test]
    fn the_stored_form_round_trips_and_is_bounded() {
        let mut s = ValueSummary::default();
        s.add("10.0.0.1", 3);
        assert!(s.encode().len() < 32, "one value is a few bytes");
        assert_eq!(ValueSummary::decode(&s.encode()).unwrap(), s);
        for i in 0..100_000 {
            s.add(&format!("{}-{}", "x".repeat(80), i), 1);
        }
        let encoded = s.encode();
        assert!(encoded.len() <= MAX_ENCODED_BYTES);
        assert_eq!(ValueSummary::decode(&encoded).unwrap(), s);
        assert!(ValueSummary::decode(&encoded[..100]).is_err());
    }
}
