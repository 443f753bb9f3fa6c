//! The corruption battery: damage of every kind in every file of a small
//! directory (300 keys, a checkpoint, two WAL segments of later commits).
//! Each case must make `validate` report a problem naming the right file
//! and location, and opening the engine must never panic.
//!
//! The exhaustive parts (every bit of both superblocks, of the WAL's last
//! records, many offsets of every tree page) call the walker as a library
//! on the damaged directory in place and undo the damage after; a sample
//! of cases runs the real binary on copies.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use jubilant_engine::storage::fs::FsStorage;
use jubilant_engine::validate::{FindingKind, ValidateOptions, Validation, validate};
use jubilant_engine::{Db, Options};
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WalReader, WalStep};

use crate::forensics::dirs;
use crate::mock::jubectl;

const PAGE: u64 = 4096;

/// A built directory and what is where in it.
struct Base {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    tree_pages: Vec<u64>,
    leaves: Vec<u64>,
    free_list_pages: Vec<u64>,
    segments: Vec<PathBuf>,
}

fn base() -> Base {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    dirs::build(&dir, 300, 40, 80);
    let v = run_validate(&dir);
    assert!(!v.report.has_problems(), "{:#?}", v.report.findings);
    let tree = v.tree.unwrap();
    let segments = dirs::wal_segments(&dir);
    assert_eq!(segments.len(), 2, "the workload should fill two WAL segments");
    let pages = std::fs::read(dir.join("pages.jdb")).unwrap();
    let leaves = tree.tree_pages.iter().map(|p| p.get()).filter(|&p| pages[(p * PAGE + 6) as usize] == 2).collect();
    Base {
        leaves,
        tree_pages: tree.tree_pages.iter().map(|p| p.get()).collect(),
        free_list_pages: tree.free_list_pages.iter().map(|p| p.get()).collect(),
        _tmp: tmp,
        dir,
        segments,
    }
}

fn run_validate(dir: &Path) -> Validation {
    validate(&FsStorage::new(), dir, ValidateOptions { deep: true }, &mut |_| {}).unwrap()
}

/// Where a finding must point.
#[derive(Debug, Clone, Copy)]
enum At {
    Page(u64),
    Offset(u64),
    File,
}

/// Validates `dir` and checks that a problem names `file` at `at`, then
/// opens the engine read-only (which must not panic). Returns the kinds
/// that matched.
fn expect_problem(dir: &Path, file: &str, at: At, case: &str) -> BTreeSet<FindingKind> {
    let v = run_validate(dir);
    assert!(v.report.has_problems(), "{case}: validate found nothing");
    let matched: BTreeSet<FindingKind> = v
        .report
        .findings
        .iter()
        .filter(|f| f.file == file)
        .filter(|f| match at {
            At::Page(p) => f.page == Some(p),
            At::Offset(o) => f.offset == Some(o),
            At::File => true,
        })
        .map(|f| f.kind)
        .collect();
    assert!(!matched.is_empty(), "{case}: no finding names {file} at {at:?}: {:#?}", v.report.findings);
    let opened = catch_unwind(AssertUnwindSafe(|| {
        Db::open(dir, Options { read_only: true, background: false, ..Options::default() }).map(drop)
    }));
    assert!(opened.is_ok(), "{case}: opening read-only panicked");
    matched
}

/// Runs `f` with byte `offset` of `path` XOR `mask`, then restores it.
fn with_flip<T>(path: &Path, offset: u64, mask: u8, f: impl FnOnce() -> T) -> T {
    let original = std::fs::read(path).unwrap();
    let mut damaged = original.clone();
    damaged[offset as usize] ^= mask;
    std::fs::write(path, &damaged).unwrap();
    let result = f();
    std::fs::write(path, &original).unwrap();
    result
}

/// `(offset, length)` of every record of a WAL segment.
fn records(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = WalReader::new(&bytes[SEGMENT_HEADER_LEN..], SEGMENT_HEADER_LEN as u64, None);
    let mut out = Vec::new();
    while let Ok(WalStep::Record(r)) = reader.next_step() {
        out.push((r.offset, r.encoded_len() as u64));
    }
    out
}

#[test]
fn every_bit_of_both_superblocks() {
    let b = base();
    let pages = b.dir.join("pages.jdb");
    for slot in 0..2u64 {
        for byte in 0..128u64 {
            for bit in 0..8 {
                let case = format!("slot {slot} byte {byte} bit {bit}");
                let kinds = with_flip(&pages, slot * PAGE + byte, 1 << bit, || {
                    expect_problem(&b.dir, "pages.jdb", At::Page(slot), &case)
                });
                assert!(kinds.contains(&FindingKind::SuperblockInvalid), "{case}: {kinds:?}");
            }
        }
    }
}

#[test]
fn bit_flips_in_every_tree_and_free_list_page() {
    let b = base();
    let pages = b.dir.join("pages.jdb");
    let all: Vec<u64> = b.tree_pages.iter().chain(&b.free_list_pages).copied().collect();
    assert!(all.len() >= 7, "{all:?}");
    for &page in &all {
        for i in 0..48u64 {
            let offset = (i * 85 + page * 13) % PAGE;
            let case = format!("page {page} offset {offset}");
            with_flip(&pages, page * PAGE + offset, 1 << (i % 8), || {
                expect_problem(&b.dir, "pages.jdb", At::Page(page), &case)
            });
        }
    }
}

#[test]
fn zeroed_swapped_and_truncated_pages() {
    let b = base();
    let pages = b.dir.join("pages.jdb");
    let original = std::fs::read(&pages).unwrap();
    let leaf = b.leaves[b.leaves.len() - 1];
    let other = b.leaves[0];

    let mut zeroed = original.clone();
    zeroed[(leaf * PAGE) as usize..((leaf + 1) * PAGE) as usize].fill(0);
    std::fs::write(&pages, &zeroed).unwrap();
    expect_problem(&b.dir, "pages.jdb", At::Page(leaf), "zeroed page");

    let mut swapped = original.clone();
    let (lo, hi) = (leaf.min(other), leaf.max(other));
    let hi_bytes = original[(hi * PAGE) as usize..((hi + 1) * PAGE) as usize].to_vec();
    swapped.copy_within((lo * PAGE) as usize..((lo + 1) * PAGE) as usize, (hi * PAGE) as usize);
    swapped[(lo * PAGE) as usize..((lo + 1) * PAGE) as usize].copy_from_slice(&hi_bytes);
    std::fs::write(&pages, &swapped).unwrap();
    expect_problem(&b.dir, "pages.jdb", At::Page(lo), "swapped pages (low)");
    expect_problem(&b.dir, "pages.jdb", At::Page(hi), "swapped pages (high)");

    for cut in [original.len() as u64 - 1, original.len() as u64 - PAGE, 9 * PAGE + 100, 3 * PAGE, PAGE + 64] {
        std::fs::write(&pages, &original[..cut as usize]).unwrap();
        let kinds = expect_problem(&b.dir, "pages.jdb", At::File, &format!("page file cut at {cut}"));
        assert!(
            kinds.iter().any(|k| matches!(
                k,
                FindingKind::PageFileShort | FindingKind::SuperblockInvalid | FindingKind::NoValidSuperblock
            )),
            "cut at {cut}: {kinds:?}"
        );
    }
    std::fs::write(&pages, &original).unwrap();
}

#[test]
fn every_bit_of_the_wal_tail() {
    let b = base();
    let last = b.segments.last().unwrap();
    let name = format!("wal/{}", last.file_name().unwrap().to_str().unwrap());
    let recs = records(last);
    // The last batch (torn tail: no later commit vouches for it) and the
    // batch before (mid-log: the last commit does). Each batch is one
    // `Txn` record, its own commit.
    let tail: Vec<(u64, u64)> = recs[recs.len() - 1..].to_vec();
    let earlier = recs[recs.len() - 2];
    for &(offset, len) in tail.iter().chain(std::iter::once(&earlier)) {
        for byte in offset..offset + len {
            for bit in 0..8 {
                let case = format!("{name} byte {byte} bit {bit}");
                let kinds =
                    with_flip(last, byte, 1 << bit, || expect_problem(&b.dir, &name, At::Offset(offset), &case));
                let want =
                    if offset == earlier.0 { FindingKind::WalMidLogCorruption } else { FindingKind::WalTornTail };
                assert!(kinds.contains(&want), "{case}: {kinds:?}");
            }
        }
    }
}

#[test]
fn truncated_wal_and_deleted_segments() {
    let b = base();
    let last = b.segments.last().unwrap();
    let name = format!("wal/{}", last.file_name().unwrap().to_str().unwrap());
    let original = std::fs::read(last).unwrap();
    let recs = records(last);
    for &(offset, len) in recs.iter().rev().take(40).step_by(3) {
        // A cut inside a record is a torn tail; a cut on a boundary looks
        // exactly like a log that ended there and cannot be detected.
        let cut = offset + len / 2;
        std::fs::write(last, &original[..cut as usize]).unwrap();
        let kinds = expect_problem(&b.dir, &name, At::Offset(offset), &format!("cut at {cut}"));
        assert!(kinds.contains(&FindingKind::WalTornTail), "cut at {cut}: {kinds:?}");
    }
    std::fs::write(last, &original).unwrap();

    // The first segment holds the records after the checkpoint: deleting
    // it leaves a gap replay cannot cross.
    let first = &b.segments[0];
    let saved = std::fs::read(first).unwrap();
    std::fs::remove_file(first).unwrap();
    let kinds = expect_problem(&b.dir, &name, At::Offset(0), "first segment deleted");
    assert!(kinds.contains(&FindingKind::WalGap), "{kinds:?}");
    std::fs::write(first, saved).unwrap();
}

#[test]
fn manifest_damage() {
    let b = base();
    let manifest = b.dir.join("MANIFEST");
    let len = std::fs::metadata(&manifest).unwrap().len();
    for byte in (0..len).step_by(7) {
        let kinds = with_flip(&manifest, byte, 0x10, || {
            expect_problem(&b.dir, "MANIFEST", At::File, &format!("MANIFEST byte {byte}"))
        });
        assert!(kinds.contains(&FindingKind::ManifestInvalid), "byte {byte}: {kinds:?}");
    }
}

/// A sample of cases through the real binary, each on a copy, which the
/// engine then opens read-write (it must refuse or recover, never panic).
#[test]
fn the_binary_exits_4_and_names_file_and_location() {
    let b = base();
    let last = b.segments.last().unwrap().file_name().unwrap().to_str().unwrap().to_owned();
    let recs = records(b.segments.last().unwrap());
    let (tail_offset, _) = recs[recs.len() - 1];
    let leaf = b.tree_pages[b.tree_pages.len() - 1];
    let cases: Vec<(&str, u64, &str, String)> = vec![
        ("pages.jdb", 5, "superblock_invalid", "offset 0".into()),
        ("pages.jdb", PAGE + 20, "superblock_invalid", format!("offset {PAGE}")),
        ("pages.jdb", leaf * PAGE + 300, "page_corrupt", format!("page {leaf} offset {}", leaf * PAGE)),
        ("MANIFEST", 30, "manifest_invalid", "MANIFEST".into()),
    ];
    let wal_case = (format!("wal/{last}"), tail_offset + 30, "wal_torn_tail", format!("offset {tail_offset}"));
    for (i, (file, offset, kind, place)) in
        cases.into_iter().map(|(f, o, k, p)| (f.to_owned(), o, k, p)).chain(std::iter::once(wal_case)).enumerate()
    {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(format!("case{i}"));
        dirs::copy_dir(&b.dir, &dir);
        dirs::flip(&dir.join(&file), offset, 0x04);
        let d = dir.to_str().unwrap();
        let run = jubectl(&["validate", d]);
        assert_eq!(run.code, 4, "{file}@{offset}: {}", run.stdout);
        assert!(run.stdout.contains(kind) && run.stdout.contains(&place), "{file}@{offset}: {}", run.stdout);
        let run = jubectl(&["--json", "validate", d]);
        assert_eq!(run.code, 4);
        let doc = run.json();
        assert!(
            doc["findings"].as_array().unwrap().iter().any(|f| f["kind"] == kind && f["file"] == file.as_str()),
            "{doc}"
        );
        let opened = catch_unwind(AssertUnwindSafe(|| {
            Db::open(&dir, Options { background: false, ..Options::default() }).map(drop)
        }));
        assert!(opened.is_ok(), "{file}@{offset}: opening read-write panicked");
    }
}

#[test]
fn operational_and_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let run = jubectl(&["validate", missing.to_str().unwrap()]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let run = jubectl(&["--json", "validate", missing.to_str().unwrap()]);
    assert_eq!(run.code, 8);
    assert_eq!(run.json()["error"]["kind"], "local");
    // An empty directory is not a data directory.
    let run = jubectl(&["validate", tmp.path().to_str().unwrap()]);
    assert_eq!(run.code, 8, "{}", run.stdout);
    assert_eq!(jubectl(&["validate"]).code, 16);
    assert_eq!(jubectl(&["validate", "a", "--no-such-flag"]).code, 16);
    assert_eq!(jubectl(&["dump-page", "a", "not-a-number"]).code, 16);
    let b = base();
    assert_eq!(jubectl(&["dump-page", b.dir.to_str().unwrap(), "100000"]).code, 16);
    assert_eq!(jubectl(&["dump-vlog", b.dir.to_str().unwrap(), "7"]).code, 16);
}

/// Values above the value-log threshold: references from leaves and WAL
/// records into `vlog/`, checked with `--deep`.
#[test]
fn value_log_damage_and_dangling_references() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    dirs::build(&dir, 60, 1500, 6);
    let v = run_validate(&dir);
    assert!(!v.report.has_problems(), "{:#?}", v.report.findings);
    assert!(v.tree.as_ref().unwrap().value_refs.len() >= 50, "the values should live in the value log");
    let segment = v.vlog.segments.last().unwrap();
    let path = segment.path.clone();
    let name = segment.name.clone();
    let original = std::fs::read(&path).unwrap();

    // A flipped byte in the first record: its CRC fails, valid records
    // follow, and the reference to it no longer resolves.
    with_flip(&path, SEGMENT_HEADER_LEN as u64 + 100, 0x40, || {
        let kinds = expect_problem(&dir, &name, At::Offset(SEGMENT_HEADER_LEN as u64), "vlog record flipped");
        assert!(kinds.contains(&FindingKind::VlogCorruptRecord), "{kinds:?}");
        let v = run_validate(&dir);
        assert!(v.report.findings.iter().any(|f| f.kind == FindingKind::ValueRefMismatch), "{:#?}", v.report.findings);
    });

    // Cut in the middle: a torn tail, and the references past it dangle.
    let cut = original.len() / 2;
    std::fs::write(&path, &original[..cut]).unwrap();
    let v = run_validate(&dir);
    assert!(
        v.report.findings.iter().any(|f| f.kind == FindingKind::VlogTornTail && f.file == name),
        "{:#?}",
        v.report.findings
    );
    assert!(v.report.findings.iter().any(|f| f.kind == FindingKind::ValueRefDangling), "{:#?}", v.report.findings);
    let run = jubectl(&["validate", dir.to_str().unwrap()]);
    assert_eq!(run.code, 4);
    assert!(run.stdout.contains("value_ref_dangling"), "{}", run.stdout);
    std::fs::write(&path, &original).unwrap();
}
