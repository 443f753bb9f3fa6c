//! The generated data set: seeded, deterministic random keys and values.
//!
//! Keys are 16 random bytes and values 100 random (so incompressible)
//! bytes derived from the key, so every engine and every round sees the
//! same data.

/// Bytes of a key.
pub const KEY_LEN: usize = 16;
/// Bytes of a value.
pub const VALUE_LEN: usize = 100;

/// Seed of the bulk-loaded keys.
pub const SEED_BULK: u64 = 0x6a75_6269_6c61_6e74;
/// Seed of the keys written by the commit-latency workload.
pub const SEED_LATENCY: u64 = 0x6c61_7465_6e63_7900;
/// Seed of the keys written by the group-commit workload (plus thread
/// count and thread index).
pub const SEED_GROUP: u64 = 0x6772_6f75_7000_0000;
/// Seed of the read workloads' choices (plus the thread index).
pub const SEED_READS: u64 = 0x7265_6164_7300_0000;
/// Seed of the scans' start keys.
pub const SEED_SCANS: u64 = 0x7363_616e_7300_0000;
/// Seed of the large-value workload's keys and choices.
pub const SEED_LARGE: u64 = 0x6c61_7267_6500_0000;
/// Seed of the transaction workload's keys and choices (plus the thread
/// index).
pub const SEED_TXN: u64 = 0x7478_6e00_0000_0000;

/// SplitMix64: a small, fast, seedable generator; good enough to pick keys.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`; the tiny modulo bias does not
    /// matter here).
    pub fn below(&mut self, bound: usize) -> usize {
        assert!(bound > 0, "empty range");
        let bound = bound as u64;
        usize::try_from(self.next_u64() % bound).unwrap_or(0)
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            for (o, b) in chunk.iter_mut().zip(bytes) {
                *o = b;
            }
        }
    }

    /// A random key.
    pub fn key(&mut self) -> [u8; KEY_LEN] {
        let mut key = [0; KEY_LEN];
        self.fill(&mut key);
        key
    }
}

/// The value stored under `key`.
pub fn value_for(key: &[u8; KEY_LEN]) -> [u8; VALUE_LEN] {
    let mut seed = [0; 8];
    for (s, k) in seed.iter_mut().zip(key) {
        *s = *k;
    }
    let mut value = [0; VALUE_LEN];
    Rng::new(u64::from_le_bytes(seed)).fill(&mut value);
    value
}

/// Fills `out` with the random bytes of `key`'s value of generation
/// `generation` (an overwrite writes the next generation), so a large
/// value can be regenerated to check what was read.
pub fn fill_value(key: &[u8; KEY_LEN], generation: u64, out: &mut [u8]) {
    let mut seed = [0; 8];
    for (s, k) in seed.iter_mut().zip(key) {
        *s = *k;
    }
    Rng::new(u64::from_le_bytes(seed) ^ generation.wrapping_mul(0x9e37_79b9_7f4a_7c15)).fill(out);
}

/// The numbers `0..count` in a random order (Fisher–Yates).
pub fn shuffled(seed: u64, count: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..count).collect();
    for i in (1..count).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// `count` keys from the generator seeded with `seed`.
pub fn keys(seed: u64, count: usize) -> Vec<[u8; KEY_LEN]> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| rng.key()).collect()
}

/// The pair of every key in `keys`.
pub fn pairs(keys: &[[u8; KEY_LEN]]) -> Vec<crate::engines::Pair> {
    keys.iter().map(|k| (*k, value_for(k))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(keys(SEED_BULK, 10), keys(SEED_BULK, 10));
        assert_ne!(keys(SEED_BULK, 10), keys(SEED_LATENCY, 10));
        let k = keys(SEED_BULK, 1)[0];
        assert_eq!(value_for(&k), value_for(&k));
    }

    #[test]
    fn large_values_differ_by_generation() {
        let k = keys(SEED_LARGE, 1)[0];
        let (mut a, mut b, mut c) = ([0; 64], [0; 64], [0; 64]);
        fill_value(&k, 0, &mut a);
        fill_value(&k, 0, &mut b);
        fill_value(&k, 1, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn shuffled_is_a_permutation() {
        let mut order = shuffled(3, 100);
        assert_ne!(order, (0..100).collect::<Vec<_>>());
        order.sort_unstable();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            assert!(rng.below(13) < 13);
        }
    }
}
