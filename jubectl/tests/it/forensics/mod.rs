//! The offline commands, run as the real binary on data directories made
//! with the engine API or committed under golden/dirs/.

// Directory builder, the recorded workload, file surgery helpers.
pub mod dirs;
// The corruption battery: bit flips, truncation, zeroed and swapped
// pages, deleted segments; validate names file and location.
mod battery;
// Repair: torn tails, superblock slots, fallback, free list, mid-log
// (forced or not), locks; the audit directory.
mod repair;
// Golden directories under golden/dirs/ and insta snapshots of every
// command's text and JSON output on them.
mod golden;
// Salvage: superblocks, root page and a WAL segment destroyed.
mod salvage;
