//! TTL: which time "now" is when deciding whether a key has expired.
//!
//! Expiry is an absolute wall-clock time (ms since the Unix epoch) stored
//! with the entry. Reading the wall clock directly would let a clock step
//! backwards resurrect expired keys, and a step forwards expire keys early.
//! So the engine's TTL clock is:
//!
//! 1. **Never backwards.** It never returns less than the largest value it
//!    returned before in this process, or the newest commit time found in
//!    the WAL at open.
//! 2. **Anchored to the monotonic clock.** The manifest records a
//!    calibration pair (wall time and monotonic reading at creation). While
//!    the monotonic clock is the same one (same boot: its reading is not
//!    below the recorded one), `estimate = wall₀ + (mono − mono₀)` is a
//!    time that no wall-clock step can move. The TTL clock is the wall
//!    clock clamped to `[estimate − BACKWARD_SLACK, estimate +
//!    FORWARD_BOUND]`: a step back cannot go below the estimate (less a
//!    small slack for the monotonic clock's drift), and a step forward
//!    expires keys at most `FORWARD_BOUND` early.
//! 3. After a reboot the calibration pair says nothing (monotonic clocks
//!    restart); only rule 1 holds, with the WAL's newest commit time as the
//!    floor.

use std::sync::atomic::{AtomicU64, Ordering};

use jubilant_format::ClockCalibration;

use crate::clock::Clock;

/// How far ahead of the monotonic estimate the wall clock may be believed.
pub const FORWARD_BOUND_MS: u64 = 60 * 60 * 1000;
/// How far behind the monotonic estimate the wall clock may be believed
/// (both follow NTP frequency corrections; only steps separate them).
pub const BACKWARD_SLACK_MS: u64 = 1000;

/// The TTL clock of an open database.
#[derive(Debug)]
pub struct TtlClock {
    calibration: ClockCalibration,
    high_water_ms: AtomicU64,
}

impl TtlClock {
    /// A TTL clock for a directory with this calibration pair, never
    /// earlier than `floor_ms` (the newest commit time seen).
    #[must_use]
    pub fn new(calibration: ClockCalibration, floor_ms: u64) -> TtlClock {
        TtlClock { calibration, high_water_ms: AtomicU64::new(floor_ms) }
    }

    /// "Now" for expiry decisions, in ms since the Unix epoch.
    pub fn now_ms(&self, clock: &dyn Clock) -> u64 {
        let wall = clock.wall_unix_nanos() / 1_000_000;
        let mono = clock.monotonic_nanos();
        let mut now = wall;
        if mono >= self.calibration.monotonic_nanos && self.calibration.monotonic_nanos > 0 {
            let estimate = (self.calibration.wall_unix_nanos / 1_000_000)
                .saturating_add((mono - self.calibration.monotonic_nanos) / 1_000_000);
            now = now.clamp(estimate.saturating_sub(BACKWARD_SLACK_MS), estimate.saturating_add(FORWARD_BOUND_MS));
        }
        let previous = self.high_water_ms.fetch_max(now, Ordering::AcqRel);
        now.max(previous)
    }

    /// Raises the floor (a commit time seen).
    pub fn observe(&self, ms: u64) {
        self.high_water_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// Whether an entry expiring at `expires_at_unix_ms` has expired.
    pub fn expired(&self, clock: &dyn Clock, expires_at_unix_ms: Option<u64>) -> bool {
        expires_at_unix_ms.is_some_and(|t| t <= self.now_ms(clock))
    }
}

/// A clock for tests: both readings set by hand.
#[derive(Debug, Default)]
pub struct FakeClock {
    wall_ms: AtomicU64,
    mono_ms: AtomicU64,
}

impl FakeClock {
    /// A fake clock at the given wall time (ms), monotonic reading 1 s.
    #[must_use]
    pub fn new(wall_ms: u64) -> FakeClock {
        FakeClock { wall_ms: AtomicU64::new(wall_ms), mono_ms: AtomicU64::new(1_000) }
    }

    /// Lets time pass: both clocks advance.
    pub fn advance_ms(&self, ms: u64) {
        self.wall_ms.fetch_add(ms, Ordering::SeqCst);
        self.mono_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Steps the wall clock only (an operator or NTP setting the time).
    pub fn set_wall_ms(&self, ms: u64) {
        self.wall_ms.store(ms, Ordering::SeqCst);
    }

    /// The wall clock now, ms.
    #[must_use]
    pub fn wall_ms(&self) -> u64 {
        self.wall_ms.load(Ordering::SeqCst)
    }
}

impl Clock for FakeClock {
    fn wall_unix_nanos(&self) -> u64 {
        self.wall_ms.load(Ordering::SeqCst).saturating_mul(1_000_000)
    }

    fn monotonic_nanos(&self) -> u64 {
        self.mono_ms.load(Ordering::SeqCst).saturating_mul(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock_at(wall_ms: u64) -> (FakeClock, TtlClock) {
        let fake = FakeClock::new(wall_ms);
        let calibration =
            ClockCalibration { wall_unix_nanos: fake.wall_unix_nanos(), monotonic_nanos: fake.monotonic_nanos() };
        (fake, TtlClock::new(calibration, 0))
    }

    #[test]
    fn expiry_is_at_the_boundary_inclusive() {
        let (fake, ttl) = clock_at(1_000_000);
        assert!(!ttl.expired(&fake, Some(1_000_001)));
        assert!(ttl.expired(&fake, Some(1_000_000)));
        assert!(!ttl.expired(&fake, None));
        fake.advance_ms(1);
        assert!(ttl.expired(&fake, Some(1_000_001)));
    }

    #[test]
    fn a_wall_clock_step_backwards_resurrects_nothing() {
        let (fake, ttl) = clock_at(10_000_000);
        fake.advance_ms(5_000);
        assert!(ttl.expired(&fake, Some(10_004_000)));
        fake.set_wall_ms(1_000); // hours into the past
        assert!(ttl.expired(&fake, Some(10_004_000)), "a step back resurrected the key");
        assert!(ttl.now_ms(&fake) >= 10_005_000 - BACKWARD_SLACK_MS);
    }

    #[test]
    fn a_wall_clock_step_forwards_is_bounded() {
        let (fake, ttl) = clock_at(10_000_000);
        fake.set_wall_ms(10_000_000 + 365 * 24 * 3_600_000); // a year ahead
        let now = ttl.now_ms(&fake);
        assert_eq!(now, 10_000_000 + FORWARD_BOUND_MS);
        assert!(!ttl.expired(&fake, Some(10_000_000 + FORWARD_BOUND_MS + 1)));
    }

    #[test]
    fn after_a_reboot_the_floor_still_holds() {
        let fake = FakeClock::new(5_000);
        // Calibrated in an earlier boot, with a larger monotonic reading.
        let ttl = TtlClock::new(ClockCalibration { wall_unix_nanos: 1, monotonic_nanos: u64::MAX / 2 }, 9_000);
        assert_eq!(ttl.now_ms(&fake), 9_000);
    }
}
