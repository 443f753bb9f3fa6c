//! The commit thread: makes the blind writes that connections staged on
//! the reactor ([`Db::try_stage_writes`]) durable, as many groups per WAL
//! sync as are waiting, and hands each connection its results.
//!
//! This is the server's group commit without a thread per request: a
//! connection stages its SETs in place (never blocking), queues them here,
//! and awaits the answer; the one commit thread drains the queue, runs one
//! [`Db::publish_writes`] (one fsync) for everything in it, and answers.
//! While it syncs, the next groups queue up behind it.
//!
//! Invariant: every staged group handed to [`Committer::submit`] is
//! published, by the thread or (if the thread is gone) by a blocking task,
//! so no staged write keeps its locks forever.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use jubilant_engine::{Db, StagedWrites, TxnOutcome};
use tokio::sync::oneshot;

/// The results of one staged group, in order.
pub type Results = Vec<jubilant_engine::Result<TxnOutcome>>;

type Job = (StagedWrites, oneshot::Sender<Results>);

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

    /// Queues `staged` for the next sync; the receiver gets its results
    /// once they are durable (or failed).
    pub fn submit(&self, staged: StagedWrites) -> oneshot::Receiver<Results> {
        let (reply, results) = oneshot::channel();
        let sender = self.tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let job = match sender {
            Some(tx) => match tx.send((staged, reply)) {
                Ok(()) => return results,
                Err(mpsc::SendError(job)) => job,
            },
            None => (staged, reply),
        };
        // The thread is gone (shutting down): publish on a blocking thread.
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let (staged, reply) = job;
            let _ = reply.send(db.publish_writes(vec![staged]).pop().unwrap_or_default());
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
/// publish them with one sync.
fn run(db: &Db, rx: &mpsc::Receiver<Job>) {
    while let Some(first) = next_job(rx) {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let (groups, replies): (Vec<StagedWrites>, Vec<oneshot::Sender<Results>>) = jobs.into_iter().unzip();
        let txns = groups.iter().map(StagedWrites::len).sum::<usize>();
        let span = tracing::debug_span!("publish", groups = groups.len(), txns);
        let results = span.in_scope(|| db.publish_writes(groups));
        for (reply, results) in replies.into_iter().zip(results) {
            // A connection that went away no longer wants its answer.
            let _ = reply.send(results);
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
            let results = committer.submit(staged).await.unwrap();
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
