//! Transactions: a list of operations sent at once, executed in order on
//! an overlay under strict two-phase locking, and committed atomically.
//!
//! - [`op`]: the operations, their results and outcomes.
//! - [`exec`]: the planner: lock set, overlay, ASSERTs, commit.
//! - [`group`]: transactions that share one WAL sync.

pub mod exec;
pub mod group;
pub mod op;

pub use exec::{Transactions, TxnStats};
pub use group::StagedWrites;
pub use op::{AbortReason, Condition, OpResult, ReadItem, TxnOp, TxnOutcome};
