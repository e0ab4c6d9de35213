//! The trainer's only source of randomness: SplitMix64 (Steele, Lea and Flood 2014), a 64-bit state
//! advanced by the golden-ratio increment and mixed by two multiply-xorshift rounds. Its output is
//! fixed by its definition (no library version can change it) and its whole state is one `u64`, so a
//! checkpoint captures it exactly. Seeds are derived per purpose ([`Rng::for_purpose`]) so that the
//! initialisation and each epoch's shuffle are independent of each other.

/// A SplitMix64 generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator starting from `state`.
    pub fn new(state: u64) -> Self {
        Self { state }
    }

    /// The generator for `purpose` (a small tag) and `index` under `seed`: its state is the first
    /// output of SplitMix64 from `seed ^ (purpose << 56) ^ index`.
    pub fn for_purpose(seed: u64, purpose: u8, index: u64) -> Self {
        let mut rng = Self::new(seed ^ (u64::from(purpose) << 56) ^ index);
        Self::new(rng.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` (`n > 0`), by Lemire's multiply-shift (its bias, below 2^-40 for
    /// the sizes used here, is part of the definition).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A Fisher–Yates shuffle of `0..n`, drawing from the last position down.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The reference implementation's first outputs from state 0.
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn a_permutation_holds_every_index_once() {
        let mut order = Rng::new(7).permutation(100);
        order.sort_unstable();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }
}
