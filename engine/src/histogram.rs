//! A fixed-bucket histogram for counters (fsync latency, group-commit
//! batch sizes), lock-free to record into.

use std::sync::atomic::{AtomicU64, Ordering};

/// Observations in buckets with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// One per bound, plus one above the last bound.
    buckets: Vec<AtomicU64>,
    sum: AtomicU64,
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HistogramSnapshot {
    /// Upper bounds of the buckets (inclusive), in the histogram's unit.
    pub bounds: Vec<u64>,
    /// Observations in each bucket (not cumulative).
    pub counts: Vec<u64>,
    /// Observations above the last bound.
    pub overflow: u64,
    /// Sum of all observations.
    pub sum: u64,
}

impl Histogram {
    /// An empty histogram with these bounds (ascending).
    #[must_use]
    pub fn new(bounds: &'static [u64]) -> Histogram {
        assert!(bounds.windows(2).all(|w| matches!(w, [a, b] if a < b)), "bounds ascend");
        Histogram { bounds, buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: AtomicU64::new(0) }
    }

    /// Records one observation.
    pub fn observe(&self, value: u64) {
        let index = self.bounds.iter().position(|&b| value <= b).unwrap_or(self.bounds.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let overflow = counts.pop().unwrap_or(0);
        HistogramSnapshot { bounds: self.bounds.to_vec(), counts, overflow, sum: self.sum.load(Ordering::Relaxed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_buckets() {
        let h = Histogram::new(&[10, 100]);
        for v in [0, 10, 11, 100, 101, 5_000] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!((s.counts, s.overflow, s.sum), (vec![2, 2], 2, 5_222));
    }
}
