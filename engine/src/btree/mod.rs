//! The copy-on-write B+Tree of the page file.
//!
//! - [`node`]: page payloads of leaves, branches and free-list pages.
//! - [`read`]: point lookups and ordered chunks of a range.
//! - [`apply`]: a checkpoint's batch of changes applied copy-on-write,
//!   with splits and merges.
//! - [`check`]: the structural invariants, walked from a superblock.
//!
//! The tree on disk is only ever changed by a checkpoint, which writes new
//! versions of the touched nodes to pages the durable superblock does not
//! reach; changes wait in the memtable until then.

pub mod apply;
pub mod check;
pub mod node;
pub mod read;
