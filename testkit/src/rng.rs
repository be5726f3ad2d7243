//! A small deterministic generator, so every bench run scores the same synthetic
//! records (a linear congruential generator: not for anything but test data).

pub struct Lcg(pub u64);

impl Lcg {
    /// A number in [0, 1).
    pub fn fraction(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A whole number from `lo` to `hi`, both included.
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + (self.fraction() * (hi - lo + 1) as f64) as u64
    }
}
