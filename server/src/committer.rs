//! The commit thread: makes the blind writes that connections staged on
//! the reactor ([`Db::try_stage_writes`]) durable, as many groups per WAL
//! sync as are waiting, and hands each connection its results.
//!
//! This is the server's group commit without a thread per request: a
//! connection stages its SETs in place (never blocking), queues them here,
//! and awaits the answer; the one commit thread drains the queue, runs one
//! [`Db::sync_writes`] (one fsync) for everything in it, and hands each
//! group back. While it syncs, the next groups queue up behind it. The
//! waiting connection finishes its group ([`Synced::finish`]: releases its
//! locks, takes its results), so the thread goes straight on to the next
//! sync instead of releasing every group's locks first.
//!
//! Invariant: every staged group handed to [`Committer::submit`] is
//! synced, by the thread or (if the thread is gone) by a blocking task,
//! so no staged write keeps its locks forever: a group whose waiter went
//! away releases its locks when it is dropped.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use jubilant_engine::{Db, StagedWrites, TxnOutcome};
use tokio::sync::oneshot;

/// The results of one staged group, in order.
pub type Results = Vec<jubilant_engine::Result<TxnOutcome>>;

/// A staged group after its sync, still holding its locks.
#[derive(Debug)]
pub struct Synced {
    staged: StagedWrites,
    error: Option<jubilant_engine::Error>,
}

impl Synced {
    /// Releases the group's locks and returns its results.
    pub fn finish(self, db: &Db) -> Results {
        db.finish_writes(self.staged, self.error)
    }
}

type Job = (StagedWrites, oneshot::Sender<Synced>);

/// Handle of the commit thread.
#[derive(Debug)]
pub struct Committer {
    db: Arc<Db>,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Starts the commit thread for `db`.
    pub fn start(db: Arc<Db>) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread_db = Arc::clone(&db);
        let thread = std::thread::Builder::new().name("jubilant-commit".into()).spawn(move || run(&thread_db, &rx))?;
        Ok(Committer { db, tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)) })
    }

    /// Queues `staged` for the next sync; the receiver gets the group back
    /// once its writes are durable and visible (or failed), to
    /// [`Synced::finish`].
    pub fn submit(&self, staged: StagedWrites) -> oneshot::Receiver<Synced> {
        let (reply, results) = oneshot::channel();
        let sender = self.tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let job = match sender {
            Some(tx) => match tx.send((staged, reply)) {
                Ok(()) => return results,
                Err(mpsc::SendError(job)) => job,
            },
            None => (staged, reply),
        };
        // The thread is gone (shutting down): sync on a blocking thread.
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let (staged, reply) = job;
            let error = db.sync_writes(std::slice::from_ref(&staged)).pop().flatten();
            let _ = reply.send(Synced { staged, error });
        });
        results
    }

    /// Stops taking work and waits for the thread to publish what it has.
    /// Blocking.
    pub fn stop(&self) {
        drop(self.tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
        let thread = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the commit thread panicked");
        }
    }
}

/// The thread: until every sender is gone, take every queued group and
/// sync them with one fsync.
fn run(db: &Db, rx: &mpsc::Receiver<Job>) {
    while let Some(first) = next_job(rx) {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let (groups, replies): (Vec<StagedWrites>, Vec<oneshot::Sender<Synced>>) = jobs.into_iter().unzip();
        let txns = groups.iter().map(StagedWrites::len).sum::<usize>();
        let span = tracing::debug_span!("publish", groups = groups.len(), txns);
        let errors = span.in_scope(|| db.sync_writes(&groups));
        for ((reply, staged), error) in replies.into_iter().zip(groups).zip(errors) {
            // A connection that went away no longer wants its answer: the
            // group comes back and its drop releases its locks.
            let _ = reply.send(Synced { staged, error });
        }
    }
}

/// How long the thread keeps polling for the next job before it sleeps:
/// about one fsync. A connection answered after a sync usually sends its
/// next write within this, and finding it without a sleep and a wake-up
/// saves both on the critical path.
const POLL_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(100);

/// The next job, or `None` once every sender is gone.
fn next_job(rx: &mpsc::Receiver<Job>) -> Option<Job> {
    let started = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if started.elapsed() < POLL_BEFORE_SLEEP => std::thread::yield_now(),
            Err(mpsc::TryRecvError::Empty) => return rx.recv().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jubilant_engine::{Options, TxnOp};

    fn set(key: &str) -> Vec<TxnOp> {
        vec![TxnOp::Set { key: key.as_bytes().to_vec(), value: b"v".to_vec(), ttl_ms: None }]
    }

    /// Staged writes are published by the thread; once it is stopped, by
    /// a blocking task instead: either way the answer comes and the write
    /// is there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn staged_writes_are_published_by_the_thread_or_after_it_stopped() {
        let dir = std::env::temp_dir().join(format!("jubilant-committer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Arc::new(Db::open(&dir, Options::default()).unwrap());
        let committer = Committer::start(Arc::clone(&db)).unwrap();
        for (round, key) in ["by-thread", "after-stop"].into_iter().enumerate() {
            if round == 1 {
                committer.stop();
            }
            let txns = [set(key)];
            let refs: Vec<&[TxnOp]> = txns.iter().map(Vec::as_slice).collect();
            let staged = db.try_stage_writes(&refs);
            assert_eq!(staged.len(), 1);
            assert_eq!(db.get(key.as_bytes()).unwrap(), None, "not visible before the sync");
            let results = committer.submit(staged).await.unwrap().finish(&db);
            assert!(
                matches!(results.as_slice(), [Ok(TxnOutcome::Committed { commit_lsn: Some(_), .. })]),
                "{results:?}"
            );
            assert_eq!(db.get(key.as_bytes()).unwrap().as_deref(), Some(&b"v"[..]));
        }
        drop(committer);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
