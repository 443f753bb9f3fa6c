//! Seeded workloads: a seed determines every operation exactly.

use jubilant_format::wire::{AssertCondition, Op};

/// A deterministic random source (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Generates transactions over a small key space, so that reads, writes,
/// deletes, asserts and scans meet each other often.
#[derive(Debug, Clone)]
pub struct Workload {
    rng: Rng,
    keys: u64,
    n: u64,
}

impl Workload {
    /// A workload of `keys` distinct keys.
    #[must_use]
    pub fn new(seed: u64, keys: u64) -> Workload {
        Workload { rng: Rng::new(seed), keys, n: 0 }
    }

    fn key(&mut self) -> Vec<u8> {
        format!("key{:04}", self.rng.below(self.keys)).into_bytes()
    }

    /// The next transaction. `version_of` gives the last version the
    /// driver saw for a key (for version ASSERTs); the choice of
    /// operations depends on the seed alone.
    pub fn next_txn(&mut self, version_of: impl Fn(&[u8]) -> u64) -> Vec<Op> {
        self.n += 1;
        let len = 1 + self.rng.below(5);
        let mut ops = Vec::new();
        for i in 0..len {
            let op = match self.rng.below(12) {
                0..=3 => Op::Get { key: self.key() },
                4..=6 => {
                    let value = format!("v{}-{i}-{}", self.n, self.rng.below(1_000_000)).into_bytes();
                    Op::Set { key: self.key(), value, ttl_ms: None }
                }
                7 => Op::Del { key: self.key() },
                8 => {
                    let start = self.key();
                    let end = self.key();
                    let (start, end) = if start <= end { (start, end) } else { (end, start) };
                    let limit = 1 + self.rng.below(10) as u32;
                    Op::Scan { start: Some(start), end: Some(end), limit, reverse: self.rng.below(2) == 0 }
                }
                9 => Op::Assert { key: self.key(), condition: AssertCondition::Exists },
                10 => Op::Assert { key: self.key(), condition: AssertCondition::Absent },
                _ => {
                    let key = self.key();
                    let version = version_of(&key);
                    Op::Assert { key, condition: AssertCondition::VersionEquals(version) }
                }
            };
            ops.push(op);
        }
        ops
    }
}
