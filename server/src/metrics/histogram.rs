//! A latency histogram of atomics with fixed buckets, from 100 µs to 10 s.
//!
//! Observing is a few relaxed atomic adds; a snapshot reads the buckets one
//! by one, so it may split a concurrent observation (its count may be in
//! a bucket and not yet in the sum). The count is the sum of the buckets,
//! so the Prometheus invariant `+Inf bucket == count` always holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, microseconds (the last bucket, +Inf, is
/// implicit). Prometheus renders them in seconds: 0.0001, 0.00025, ...
pub const BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// A histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket; the last one is above every bound.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    /// Sum of the observations, microseconds.
    sum_us: AtomicU64,
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Finite upper bounds, seconds.
    pub bounds_seconds: Vec<f64>,
    /// Observations in each finite bucket (not cumulative).
    pub counts: Vec<u64>,
    /// Observations above the last bound.
    pub overflow: u64,
    /// Sum of the observations, seconds.
    pub sum_seconds: f64,
}

impl HistogramSnapshot {
    /// Every observation.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.overflow
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let index = BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(BOUNDS_US.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let overflow = counts.pop().unwrap_or(0);
        HistogramSnapshot {
            bounds_seconds: BOUNDS_US.iter().map(|&b| b as f64 / 1e6).collect(),
            counts,
            overflow,
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.counts[0], 1);
        assert_eq!(s.counts[1], 1);
        assert_eq!(s.overflow, 1);
        assert_eq!(s.count(), 3);
        assert!((s.sum_seconds - 60.000201).abs() < 1e-9);
        assert_eq!(s.bounds_seconds[0], 0.0001);
        assert_eq!(s.bounds_seconds.len(), s.counts.len());
    }
}
