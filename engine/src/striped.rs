//! Counters that many threads add to at once without sharing a cache line.
//!
//! A relaxed `fetch_add` on one atomic is cheap on one thread, but when two
//! threads add to the same cache line on every request the line moves
//! between their cores each time (100+ cycles per add). A served GET added
//! to four such shared counters (request count, latency buckets and sum,
//! transactions): 5–15% of its CPU. Here every counter has one copy per
//! *stripe*, each thread adds to its own stripe, and a read sums the
//! stripes. Reads are rare (stats, /metrics) and may miss adds that are
//! in flight, as any relaxed counter does.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Copies of each counter. Threads beyond this share stripes, which only
/// costs speed.
pub const STRIPES: usize = 8;

/// Counters per cache-line group.
const CELLS: usize = 16;

/// 16 counters on a 128-byte boundary: Intel's adjacent-line prefetcher
/// fetches lines in pairs, so 64-byte alignment would still let two stripes
/// contend.
#[repr(align(128))]
#[derive(Debug, Default)]
struct Cells([AtomicU64; CELLS]);

/// The calling thread's stripe (assigned round-robin on first use).
#[must_use]
pub fn stripe() -> usize {
    thread_local! {
        static STRIPE: usize = {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
        };
    }
    STRIPE.with(|s| *s)
}

/// `width` counters, each striped.
#[derive(Debug)]
pub struct Counters {
    width: usize,
    /// Cell groups per stripe: `width` rounded up to whole groups.
    groups: usize,
    /// Stripe `s`'s counter `i` is `cells[s * groups + i / CELLS].0[i % CELLS]`.
    cells: Box<[Cells]>,
}

impl Counters {
    /// `width` counters at zero.
    #[must_use]
    pub fn new(width: usize) -> Counters {
        let groups = width.div_ceil(CELLS).max(1);
        Counters { width, groups, cells: (0..groups * STRIPES).map(|_| Cells::default()).collect() }
    }

    /// How many counters.
    #[must_use]
    pub fn width(&self) -> usize {
        self.width
    }

    fn cell(&self, stripe: usize, i: usize) -> Option<&AtomicU64> {
        if i >= self.width {
            return None;
        }
        self.cells.get(stripe * self.groups + i / CELLS).and_then(|c| c.0.get(i % CELLS))
    }

    /// Adds `n` to counter `i` (ignored past the width).
    pub fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.cell(stripe(), i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counter `i`: the sum of its stripes (0 past the width).
    #[must_use]
    pub fn get(&self, i: usize) -> u64 {
        (0..STRIPES).filter_map(|s| self.cell(s, i)).fold(0, |sum, c| sum.wrapping_add(c.load(Ordering::Relaxed)))
    }
}

/// One striped counter.
#[derive(Debug)]
pub struct Counter(Counters);

impl Default for Counter {
    fn default() -> Counter {
        Counter(Counters::new(1))
    }
}

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.add(0, n);
    }

    /// The total.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.get(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_from_many_threads_all_count() {
        let c = Counters::new(20);
        std::thread::scope(|s| {
            for t in 0..12u64 {
                let c = &c;
                s.spawn(move || {
                    for _ in 0..1_000 {
                        c.add(0, 1);
                        c.add(19, t);
                    }
                });
            }
        });
        assert_eq!(c.get(0), 12_000);
        assert_eq!(c.get(19), (0..12u64).sum::<u64>() * 1_000);
        assert_eq!(c.get(5), 0);
        c.add(20, 1);
        assert_eq!(c.get(20), 0, "past the width: nothing");
        let one = Counter::default();
        one.add(3);
        one.add(4);
        assert_eq!(one.get(), 7);
    }
}
