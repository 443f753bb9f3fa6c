//! Damage on disk is reported, never returned as data, and never silently
//! "fixed" at the cost of acknowledged commits.

use std::path::Path;

use jubilant_engine::storage::sim::SimStorage;
use jubilant_engine::storage::{Storage, read_exact_at};
use jubilant_engine::{Db, Error, WriteBatch};
use jubilant_format::superblock::SUPERBLOCK_LEN;
use jubilant_format::{Error as FormatError, PageId};

use crate::support::{DIR, contents, open_sim};

const PAGE: u64 = 4096;

fn page_file() -> std::path::PathBuf {
    Path::new(DIR).join("pages.jdb")
}

fn read(sim: &SimStorage, path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let f = sim.open(path).unwrap();
    let mut buf = vec![0u8; len];
    read_exact_at(&*f, &mut buf, offset).unwrap();
    buf
}

fn write(sim: &SimStorage, path: &Path, offset: u64, bytes: &[u8]) {
    let f = sim.open(path).unwrap();
    f.write_at(bytes, offset).unwrap();
    f.sync().unwrap();
}

/// A checkpointed tree of a few hundred keys; returns the tree's pages.
fn build(sim: &SimStorage) -> Vec<PageId> {
    let db = open_sim(sim).unwrap();
    let mut b = WriteBatch::new();
    for i in 0..600u32 {
        b.put(format!("key{i:05}"), vec![i as u8; 100]);
    }
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    let report = db.check_invariants().unwrap().unwrap();
    assert!(report.leaves > 10, "{report:?}");
    let pages = db.stats().superblock.page_count;
    drop(db);
    // Every page that holds a tree node.
    (2..pages)
        .map(PageId)
        .filter(|p| {
            let bytes = read(sim, &page_file(), p.get() * PAGE, 8);
            bytes[..4] == *b"JBPG" && matches!(read(sim, &page_file(), p.get() * PAGE + 6, 1)[0], 1 | 2)
        })
        .collect()
}

fn scan_error(db: &Db) -> Option<Error> {
    db.range::<&[u8], _>(..).unwrap().find_map(Result::err)
}

#[test]
fn a_flipped_bit_in_any_tree_page_is_reported_with_the_page() {
    let sim = SimStorage::new(11);
    let pages = build(&sim);
    for (i, page) in pages.iter().enumerate() {
        let offset = page.get() * PAGE + 32 + (i as u64 * 97) % (PAGE - 32);
        let original = read(&sim, &page_file(), offset, 1);
        write(&sim, &page_file(), offset, &[original[0] ^ (1 << (i % 8))]);
        // A read-write open verifies the tree and refuses, naming the page
        // (the startup guardrail) ...
        match open_sim(&sim) {
            Err(Error::NeedsRepair { reason }) => {
                assert!(reason.contains(&format!("page {page}")), "{reason}");
                assert!(reason.contains("checksum mismatch"), "{reason}");
            }
            other => panic!("page {page}: a read-write open must refuse, got {other:?}"),
        }
        // ... and a read-only open still works for inspection, reporting
        // the damage with the page when a read meets it.
        let db =
            Db::open(DIR, jubilant_engine::Options { read_only: true, ..crate::support::sim_options(&sim) }).unwrap();
        match scan_error(&db) {
            Some(Error::CorruptPage { page: p, source: FormatError::ChecksumMismatch { offset: o, .. }, .. }) => {
                assert_eq!(p, *page);
                assert_eq!(o, page.get() * PAGE);
            }
            other => panic!("page {page}: expected a checksum error, got {other:?}"),
        }
        drop(db);
        write(&sim, &page_file(), offset, &original);
    }
    let db = open_sim(&sim).unwrap();
    assert_eq!(contents(&db).len(), 600);
}

#[test]
fn a_page_copied_over_another_is_a_misdirected_write() {
    let sim = SimStorage::new(12);
    let pages = build(&sim);
    let (victim, source) = (pages[pages.len() / 2], pages[pages.len() / 2 + 1]);
    let bytes = read(&sim, &page_file(), source.get() * PAGE, PAGE as usize);
    write(&sim, &page_file(), victim.get() * PAGE, &bytes);
    assert!(matches!(open_sim(&sim), Err(Error::NeedsRepair { reason }) if reason.contains("misdirected write")));
    let db = Db::open(DIR, jubilant_engine::Options { read_only: true, ..crate::support::sim_options(&sim) }).unwrap();
    match scan_error(&db) {
        Some(Error::CorruptPage { page, source: FormatError::MisdirectedPage { expected, found, .. }, .. }) => {
            assert_eq!((page, expected, found), (victim, victim, source));
        }
        other => panic!("expected a misdirected write, got {other:?}"),
    }
}

fn wal_segment() -> std::path::PathBuf {
    Path::new(DIR).join("wal").join("00000000000000000001.wal")
}

/// Commits `n` single-key batches (no checkpoint); returns the WAL's
/// length after each commit.
fn commits(sim: &SimStorage, n: u32) -> Vec<u64> {
    let db = open_sim(sim).unwrap();
    let mut ends = Vec::new();
    for i in 0..n {
        let mut b = WriteBatch::new();
        b.put(format!("c{i:03}"), vec![i as u8; 50]);
        db.write(&b).unwrap();
        ends.push(sim.open(&wal_segment()).unwrap().len().unwrap());
    }
    ends
}

#[test]
fn a_torn_wal_tail_is_truncated_at_the_last_valid_record() {
    for cut in [1u64, 30, 100] {
        let sim = SimStorage::new(13);
        let ends = commits(&sim, 8);
        let (before_last, end) = (ends[6], ends[7]);
        // The last commit's records lose their end (a torn append).
        let f = sim.open(&wal_segment()).unwrap();
        f.set_len(end - cut.min(end - before_last - 1)).unwrap();
        f.sync().unwrap();
        let db = open_sim(&sim).unwrap();
        let got = contents(&db);
        assert_eq!(got.len(), 7, "cut {cut}: the torn commit is dropped, the others stay");
        assert!(!got.contains_key(b"c007".as_slice()));
        drop(db);
        assert!(sim.open(&wal_segment()).unwrap().len().unwrap() <= end);
    }
}

#[test]
fn zeroed_bytes_at_the_wal_tail_are_a_torn_tail() {
    let sim = SimStorage::new(14);
    let ends = commits(&sim, 5);
    write(&sim, &wal_segment(), ends[3] + 10, &vec![0u8; (ends[4] - ends[3] - 10) as usize]);
    let db = open_sim(&sim).unwrap();
    assert_eq!(contents(&db).len(), 4);
}

#[test]
fn a_bad_wal_record_followed_by_durable_ones_refuses_to_open_and_changes_nothing() {
    let sim = SimStorage::new(15);
    let ends = commits(&sim, 10);
    // Damage the third commit's records; later commits were logged after
    // it was durable, so they prove it may have been acknowledged.
    write(&sim, &wal_segment(), ends[2] + 30, &[0xFF, 0xFF, 0xFF]);
    let before = sim.contents(&wal_segment()).unwrap();
    match open_sim(&sim) {
        Err(Error::WalMidLogCorruption { first_lsn_at_risk, resume_lsn, last_lsn_seen, .. }) => {
            assert!(first_lsn_at_risk < resume_lsn, "{first_lsn_at_risk} {resume_lsn}");
            assert!(last_lsn_seen >= resume_lsn);
            let message = open_sim(&sim).unwrap_err().to_string();
            assert!(message.contains("at risk") && message.contains("jubectl validate"), "{message}");
        }
        other => panic!("expected mid-log corruption, got {other:?}"),
    }
    assert_eq!(sim.contents(&wal_segment()).unwrap(), before, "the log was changed");
    // Read-only opens refuse too: the log is not silently cut in memory.
    assert!(Db::open(DIR, jubilant_engine::Options { read_only: true, ..crate::support::sim_options(&sim) }).is_err());
}

#[test]
fn a_torn_newest_superblock_falls_back_to_the_other_slot() {
    let sim = SimStorage::new(16);
    let db = open_sim(&sim).unwrap();
    let mut b = WriteBatch::new();
    for i in 0..50u32 {
        b.put(format!("s{i:03}"), vec![1; 80]);
    }
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    let mut b = WriteBatch::new();
    for i in 50..80u32 {
        b.put(format!("s{i:03}"), vec![2; 80]);
    }
    db.write(&b).unwrap();
    let current = db.stats().superblock;
    drop(db);
    // A next-generation superblock, torn at every byte: its prefix reached
    // the disk, the old bytes of the slot remain after it. (The 128-byte
    // superblock lies in one 512-byte sector, so a disk that writes sectors
    // atomically cannot tear it at all; this is stricter.)
    let mut next = current;
    next.generation = jubilant_format::Generation(current.generation.get() + 1);
    next.checkpoint_lsn = jubilant_format::Lsn(current.checkpoint_lsn.get() + 1_000);
    let slot = next.slot().page().get() * PAGE;
    let old = read(&sim, &page_file(), slot, SUPERBLOCK_LEN);
    let new = next.encode();
    for cut in 0..SUPERBLOCK_LEN {
        let mut torn = old.clone();
        torn[..cut].copy_from_slice(&new[..cut]);
        write(&sim, &page_file(), slot, &torn);
        let db = open_sim(&sim).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(db.stats().superblock.generation, current.generation, "cut {cut}");
        assert_eq!(contents(&db).len(), 80, "cut {cut}");
        drop(db);
    }
}

/// Damage in WAL records the checkpoint already holds costs nothing: the
/// directory opens, with every commit, and keeps working.
#[test]
fn damage_in_checkpointed_wal_records_is_skipped() {
    for with_later_commits in [false, true] {
        let sim = SimStorage::new(17);
        let ends = commits(&sim, 6);
        let db = open_sim(&sim).unwrap();
        db.checkpoint().unwrap();
        if with_later_commits {
            let mut b = WriteBatch::new();
            b.put("after", "checkpoint");
            db.write(&b).unwrap();
        }
        drop(db);
        // Garble the second commit's records (long since checkpointed).
        write(&sim, &wal_segment(), ends[1] + 30, &[0xEE; 8]);
        let db = open_sim(&sim).unwrap_or_else(|e| panic!("later commits {with_later_commits}: {e}"));
        assert_eq!(contents(&db).len(), 6 + usize::from(with_later_commits));
        let mut b = WriteBatch::new();
        b.put("new", "write");
        db.write(&b).unwrap();
        drop(db);
        let db = open_sim(&sim).unwrap();
        assert_eq!(contents(&db).len(), 7 + usize::from(with_later_commits));
    }
}

/// A WAL that ends below the checkpoint has lost a segment (and with it
/// any commit logged after the checkpoint): opening refuses.
#[test]
fn a_wal_ending_below_the_checkpoint_refuses_to_open() {
    let sim = SimStorage::new(18);
    let _ = commits(&sim, 4);
    let db = open_sim(&sim).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let f = sim.open(&wal_segment()).unwrap();
    f.set_len(jubilant_format::segment::SEGMENT_HEADER_LEN as u64).unwrap();
    f.sync().unwrap();
    match open_sim(&sim) {
        Err(Error::WalGap { reason, .. }) => assert!(reason.contains("below the checkpoint"), "{reason}"),
        other => panic!("expected a WAL gap, got {other:?}"),
    }
}

/// Salvage takes a transaction's last write to a key, as replay does: a
/// batch that puts a key and then deletes it leaves it deleted, one that
/// puts it twice leaves the second value.
#[test]
fn salvage_keeps_the_last_write_of_a_transaction_to_a_key() {
    let sim = SimStorage::new(44);
    {
        let db = open_sim(&sim).unwrap();
        let mut b = WriteBatch::new();
        b.put("twice", "first");
        b.put("twice", "second");
        b.put("gone", "briefly");
        b.delete("gone");
        b.put("kept", "yes");
        db.write(&b).unwrap();
        let mut check = std::collections::BTreeMap::new();
        check.insert(b"kept".to_vec(), b"yes".to_vec());
        check.insert(b"twice".to_vec(), b"second".to_vec());
        assert_eq!(contents(&db), check, "replay's view");
    }
    let storage: std::sync::Arc<dyn Storage> = std::sync::Arc::new(sim.clone());
    let out = Path::new("/salvaged");
    jubilant_engine::repair::salvage::salvage(storage, Path::new(DIR), out).unwrap();
    let db = Db::open(out, crate::support::sim_options(&sim)).unwrap();
    let got = contents(&db);
    assert_eq!(got.get(b"twice".as_slice()).map(Vec::as_slice), Some(b"second".as_slice()));
    assert_eq!(got.get(b"gone".as_slice()), None, "a deleted key came back: {got:?}");
    assert_eq!(got.get(b"kept".as_slice()).map(Vec::as_slice), Some(b"yes".as_slice()));
}
