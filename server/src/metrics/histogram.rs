//! Request latency histograms, and the exposition form of every
//! histogram (the engine's fsync and group-commit ones too).
//!
//! The atomics are the engine's [`jubilant_engine::histogram::Histogram`]
//! (observing is a few relaxed adds); this module adds the request-latency
//! buckets and the conversion to the units /metrics and INFO show. A
//! snapshot reads the buckets one by one, so it may split a concurrent
//! observation (its count may be in a bucket and not yet in the sum). The
//! count is the sum of the buckets, so the Prometheus invariant
//! `+Inf bucket == count` always holds.

use std::time::Duration;

use jubilant_engine::histogram::{Histogram as Buckets, HistogramSnapshot as RawSnapshot};

/// Upper bounds of the request-latency buckets, microseconds (the last
/// bucket, +Inf, is implicit). Prometheus renders them in seconds: 0.0001,
/// 0.00025, ...
pub const BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// A histogram of request durations.
#[derive(Debug)]
pub struct Histogram(Buckets);

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram(Buckets::new(BOUNDS_US))
    }
}

/// A histogram's values at one moment, in the unit it is shown in
/// (seconds for durations).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Finite upper bounds.
    pub bounds: Vec<f64>,
    /// Observations in each finite bucket (not cumulative).
    pub counts: Vec<u64>,
    /// Observations above the last bound.
    pub overflow: u64,
    /// Sum of the observations.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// Every observation.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.overflow
    }

    /// A histogram recorded in microseconds, shown in seconds.
    #[must_use]
    pub fn from_micros(raw: &RawSnapshot) -> HistogramSnapshot {
        HistogramSnapshot::scaled(raw, 1e6)
    }

    /// A histogram of counts (batch sizes), shown as is.
    #[must_use]
    pub fn from_counts(raw: &RawSnapshot) -> HistogramSnapshot {
        HistogramSnapshot::scaled(raw, 1.0)
    }

    /// Divides (rather than multiplies by the inverse, which would show
    /// 100 µs as 9.999999999999999e-5 s).
    fn scaled(raw: &RawSnapshot, per_unit: f64) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: raw.bounds.iter().map(|&b| b as f64 / per_unit).collect(),
            counts: raw.counts.clone(),
            overflow: raw.overflow,
            sum: raw.sum as f64 / per_unit,
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        self.0.observe(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// The current values, in seconds.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot::from_micros(&self.0.snapshot())
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
        assert!((s.sum - 60.000201).abs() < 1e-9);
        assert_eq!(s.bounds[0], 0.0001);
        assert_eq!(s.bounds.len(), s.counts.len());
    }

    #[test]
    fn engine_histograms_keep_their_buckets_in_the_shown_unit() {
        let h = Buckets::new(&[50, 1_000]);
        for v in [10, 60, 2_000_000] {
            h.observe(v);
        }
        let s = HistogramSnapshot::from_micros(&h.snapshot());
        assert_eq!(s.bounds, vec![0.000_05, 0.001]);
        assert_eq!((s.counts.clone(), s.overflow), (vec![1, 1], 1));
        assert!((s.sum - 2.000_07).abs() < 1e-9, "{}", s.sum);
        let c = HistogramSnapshot::from_counts(&h.snapshot());
        assert_eq!(c.bounds, vec![50.0, 1000.0]);
        assert_eq!(c.sum, 2_000_070.0);
    }
}
