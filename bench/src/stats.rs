//! Small statistics helpers: medians and percentiles of samples.

use std::time::Duration;

/// The median of `values` (the mean of the two middle ones for an even
/// count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted.get(mid).copied()
    } else {
        Some((sorted.get(mid.checked_sub(1)?)? + sorted.get(mid)?) / 2.0)
    }
}

/// Latency summary of a set of durations, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Arithmetic mean.
    pub mean_us: f64,
    /// 50th percentile (nearest rank).
    pub p50_us: f64,
    /// 99th percentile (nearest rank).
    pub p99_us: f64,
}

/// Summarises `samples`; `None` when empty.
pub fn latency(samples: &[Duration]) -> Option<Latency> {
    let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let mean_us = us.iter().sum::<f64>() / us.len() as f64;
    Some(Latency { mean_us, p50_us: percentile_sorted(&us, 50)?, p99_us: percentile_sorted(&us, 99)? })
}

/// The nearest-rank `pct` percentile of ascending `sorted`.
fn percentile_sorted(sorted: &[f64], pct: usize) -> Option<f64> {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Operations per second.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let count = count as f64;
    count / elapsed.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let l = latency(&samples).unwrap();
        assert!((l.p50_us - 50.0).abs() < 1e-6);
        assert!((l.p99_us - 99.0).abs() < 1e-6);
        assert!((l.mean_us - 50.5).abs() < 1e-6);
        assert!(latency(&[]).is_none());
    }
}
