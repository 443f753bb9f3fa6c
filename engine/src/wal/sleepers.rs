//! Committers asleep until a WAL sync covers their records, and how they
//! are woken.
//!
//! Waking every committer of a finished sync at once (`notify_all`) made
//! the leader pay one futex wake per committer — on a virtual machine an
//! inter-processor interrupt each, about 5 µs — before it could start the
//! next sync: 15% of the wall time of 64 concurrent committers. Here the
//! leader wakes [`FANOUT`] of them and every committer on its way out of
//! `sync_to` wakes [`FANOUT`] more, so the wake-ups spread over the woken
//! threads as a tree and the leader goes back to the disk.
//!
//! Invariants (everything here runs under the WAL's lock):
//! - a thread is at most once in `asleep` or `due`, never in both, and in
//!   neither while it runs `sync_to` between two waits ([`Sleepers::awake`]);
//! - every thread moved to `due` gets unparked: whoever moves threads there
//!   (a leader at the end of its sync, a roll-over, a failure, a hand-over)
//!   then takes some out to unpark, and so does every committer that goes
//!   to sleep, leads or returns — and each one unparked does so in turn.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, Thread};

/// Committers each woken committer wakes in turn.
pub(super) const FANOUT: usize = 2;

/// A committer asleep, or due to be unparked.
#[derive(Debug, Clone)]
struct Sleeper {
    thread: Thread,
    /// The thread's own flag (one per thread): set when a waker takes it
    /// out of `due`, so that once awake it knows it is in neither list
    /// without searching them. Read and written under the WAL's lock.
    taken: Arc<AtomicBool>,
}

/// Committers waiting for a sync, and those whose sync is done.
#[derive(Debug, Default)]
pub(super) struct Sleepers {
    /// Asleep until sync number `.0` ends.
    asleep: Vec<(u64, Sleeper)>,
    /// Their sync ended (or they are to lead the next one): to be unparked.
    due: VecDeque<Sleeper>,
}

/// Threads taken out of `due`, to be unparked once the WAL's lock is
/// released (an unparked thread's first act is to take that lock).
#[must_use = "the threads must be unparked"]
#[derive(Debug, Default)]
pub(super) struct Wake(Vec<Thread>);

impl Wake {
    /// Unparks the threads.
    pub(super) fn wake(self) {
        for t in self.0 {
            t.unpark();
        }
    }
}

thread_local! {
    /// This thread's [`Sleeper::taken`] flag.
    static TAKEN: Arc<AtomicBool> = Arc::new(AtomicBool::new(false));
}

impl Sleepers {
    /// Registers the calling thread as asleep until sync number `sync`
    /// ends. The caller then releases the lock and parks.
    pub(super) fn sleep_for(&mut self, sync: u64) {
        let thread = thread::current();
        debug_assert!(
            !self.asleep.iter().any(|(_, s)| s.thread.id() == thread.id())
                && !self.due.iter().any(|s| s.thread.id() == thread.id()),
            "a thread sleeps once"
        );
        let taken = TAKEN.with(|t| {
            t.store(false, Ordering::Relaxed);
            Arc::clone(t)
        });
        self.asleep.push((sync, Sleeper { thread, taken }));
    }

    /// The calling thread is awake (unparked, or spuriously): it leaves
    /// both lists, so it is never unparked for a wait it no longer makes.
    /// Unparked by a waker (the usual case) it is in neither already: only
    /// a spurious wake-up searches them.
    pub(super) fn awake(&mut self) {
        if TAKEN.with(|t| t.load(Ordering::Relaxed)) {
            return;
        }
        let me = thread::current().id();
        self.asleep.retain(|(_, s)| s.thread.id() != me);
        self.due.retain(|s| s.thread.id() != me);
    }

    /// Sync number `sync` ended: everyone asleep until it (or an earlier
    /// one) is due.
    pub(super) fn done_through(&mut self, sync: u64) {
        let due = &mut self.due;
        self.asleep.retain(|(n, s)| {
            let done = *n <= sync;
            if done {
                due.push_back(s.clone());
            }
            !done
        });
    }

    /// Makes one committer asleep until sync `sync` due, to lead it.
    /// Returns false if there is none.
    pub(super) fn hand_over(&mut self, sync: u64) -> bool {
        match self.asleep.iter().position(|(n, _)| *n == sync) {
            Some(i) => {
                let (_, s) = self.asleep.swap_remove(i);
                // Woken first: the next sync waits for it.
                self.due.push_front(s);
                true
            }
            None => false,
        }
    }

    /// Everyone asleep is due (durability changed outside the leader
    /// protocol, or the log failed).
    pub(super) fn all_due(&mut self) {
        self.due.extend(self.asleep.drain(..).map(|(_, s)| s));
    }

    /// Takes up to `n` due threads out, to unpark.
    pub(super) fn take(&mut self, n: usize) -> Wake {
        let n = n.min(self.due.len());
        Wake(
            self.due
                .drain(..n)
                .map(|s| {
                    s.taken.store(true, Ordering::Relaxed);
                    s.thread
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_syncs_make_their_sleepers_due_and_hand_over_goes_first() {
        let mut s = Sleepers::default();
        let other = thread::spawn(thread::current).join().unwrap_or_else(|_| thread::current());
        let sleeper = Sleeper { thread: other, taken: Arc::new(AtomicBool::new(false)) };
        s.asleep.push((3, sleeper.clone()));
        s.asleep.push((4, sleeper.clone()));
        s.asleep.push((5, sleeper));
        s.done_through(3);
        assert_eq!((s.asleep.len(), s.due.len()), (2, 1));
        assert!(s.hand_over(5));
        assert!(!s.hand_over(5), "only one was waiting for sync 5");
        assert_eq!(s.asleep.first().map(|a| a.0), Some(4));
        assert_eq!(s.take(1).0.len(), 1);
        s.all_due();
        assert_eq!((s.asleep.len(), s.due.len()), (0, 2));
        assert_eq!(s.take(5).0.len(), 2, "take stops at what is due");
    }

    #[test]
    fn an_awake_thread_leaves_both_lists() {
        let mut s = Sleepers::default();
        s.sleep_for(1);
        s.awake();
        s.sleep_for(2);
        s.done_through(2);
        assert_eq!(s.due.len(), 1);
        // Spuriously awake: not taken, so it searches and leaves.
        s.awake();
        assert!(s.asleep.is_empty() && s.due.is_empty());
        // Taken by a waker: it knows it is in neither list.
        s.sleep_for(3);
        s.done_through(3);
        let woken = s.take(FANOUT);
        assert_eq!(woken.0.len(), 1);
        assert!(TAKEN.with(|t| t.load(Ordering::Relaxed)));
        s.awake();
        assert!(s.asleep.is_empty() && s.due.is_empty());
        woken.wake();
    }
}
