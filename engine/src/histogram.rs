//! A fixed-bucket histogram for counters (fsync latency, group-commit
//! batch sizes, request latency), lock-free to record into and striped by
//! thread ([`crate::striped`]): threads recording at once do not share
//! cache lines.

use crate::striped::Counters;

/// Observations in buckets with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// One counter per bound, one for above the last bound, then the sum.
    cells: Counters,
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
        Histogram { bounds, cells: Counters::new(bounds.len() + 2) }
    }

    /// Records one observation.
    pub fn observe(&self, value: u64) {
        let index = self.bounds.iter().position(|&b| value <= b).unwrap_or(self.bounds.len());
        self.cells.add(index, 1);
        self.cells.add(self.bounds.len() + 1, value);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let n = self.bounds.len();
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            counts: (0..n).map(|i| self.cells.get(i)).collect(),
            overflow: self.cells.get(n),
            sum: self.cells.get(n + 1),
        }
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
