//! [`SimRng`]: the deterministic pseudo-random generator behind every random
//! choice the simulator makes.

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and the same
/// sequence from the same seed on every platform.
///
/// Public so that crash tests can drive their workloads from the same seed.
#[derive(Debug, Clone)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`. The modulo bias is negligible for the small
    /// bounds the simulator uses.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0) has no valid result");
        self.next_u64() % bound
    }

    /// An index in `0..=len`, for choosing how many of `len` items survive.
    pub fn prefix_len(&mut self, len: usize) -> usize {
        let bound = (len as u64).saturating_add(1);
        // The result is at most `len`, so it fits in `usize`.
        usize::try_from(self.below(bound)).unwrap_or(len)
    }

    /// True with probability 1/2.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            for (dst, src) in chunk.iter_mut().zip(bytes) {
                *dst = src;
            }
        }
    }
}
