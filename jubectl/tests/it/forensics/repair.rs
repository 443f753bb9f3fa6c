//! `jubectl repair`: each kind of damage it fixes leaves a directory that
//! `validate` passes and that holds every commit durable before the
//! damaged region (checked against the recorded workload); damage it must
//! not fix silently is left alone with exit 4; a locked directory is 8.

use std::path::{Path, PathBuf};

use jubilant_engine::storage::fs::FsStorage;
use jubilant_engine::validate::{ValidateOptions, validate};
use jubilant_engine::{Db, Options};
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WalReader, WalStep};
use serde_json::Value;

use crate::forensics::dirs::{self, History, Spec};
use crate::mock::{Run, jubectl};

const PAGE: u64 = 4096;

struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    history: History,
}

impl Case {
    fn new(spec: Spec) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let history = dirs::build_with(&dir, spec);
        Case { _tmp: tmp, dir, history }
    }

    fn small() -> Case {
        Case::new(Spec { keys: 300, value_len: 40, wal_commits: 80, checkpoints: 1, wal_segment_bytes: 64 << 10 })
    }

    fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    fn run(&self, args: &[&str]) -> Run {
        // The directory goes right after the subcommand.
        let mut all: Vec<&str> = args.to_vec();
        let command = all.iter().position(|a| !a.starts_with("--")).unwrap();
        all.insert(command + 1, self.d());
        jubectl(&all)
    }
}

/// `(offset, lsn)` of every record of a WAL segment.
fn records(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = WalReader::new(&bytes[SEGMENT_HEADER_LEN..], SEGMENT_HEADER_LEN as u64, None);
    let mut out = Vec::new();
    while let Ok(WalStep::Record(r)) = reader.next_step() {
        out.push((r.offset, r.lsn.get()));
    }
    out
}

/// Every file's bytes, to prove a dry run changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        out.push((entry.clone(), std::fs::read(&entry).unwrap()));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.file_name().unwrap() != "LOCK" {
            out.push(p);
        }
    }
    out
}

fn assert_clean(dir: &Path) {
    let v = validate(&FsStorage::new(), dir, ValidateOptions { deep: true }, &mut |_| {}).unwrap();
    assert!(!v.report.has_problems(), "{:#?}", v.report.findings);
    let run = jubectl(&["validate", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// The repair directory's audit files, checked, and the report.
fn audit(dir: &Path) -> Value {
    let repair_dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("repair-"))
        .collect();
    assert_eq!(repair_dirs.len(), 1, "{repair_dirs:?}");
    let r = &repair_dirs[0];
    for name in ["manifest-before.json", "manifest-after.json"] {
        let files: Value = serde_json::from_slice(&std::fs::read(r.join(name)).unwrap()).unwrap();
        assert!(files.as_array().unwrap().iter().any(|f| f["file"] == "pages.jdb"), "{name}: {files}");
    }
    serde_json::from_slice(&std::fs::read(r.join("report.json")).unwrap()).unwrap()
}

#[test]
fn torn_wal_tail_is_cut_and_the_cut_bytes_kept() {
    let c = Case::small();
    let last = dirs::wal_segments(&c.dir).pop().unwrap();
    let recs = records(&last);
    // The last batch, one `Txn` record: no later commit vouches for it.
    let (offset, lsn) = recs[recs.len() - 1];
    dirs::flip(&last, offset + 30, 0x01);

    let before = snapshot(&c.dir);
    let run = c.run(&["repair", "--dry-run"]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(run.stdout.contains(&format!("at offset {offset}")), "{}", run.stdout);
    assert!(run.stdout.contains("nothing durable follows"), "{}", run.stdout);
    assert_eq!(snapshot(&c.dir), before, "a dry run changed the directory");

    let run = c.run(&["--json", "repair"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(report["outcome"], "corrected");
    assert_eq!(report["plan"]["actions"][0]["action"], "truncate_wal");
    assert_eq!(report["plan"]["actions"][0]["offset"], offset);
    assert_clean(&c.dir);
    assert_eq!(dirs::contents(&c.dir), c.history.before(lsn));
    let saved = audit(&c.dir);
    assert_eq!(saved["outcome"], "corrected");
    let name = last.file_name().unwrap().to_str().unwrap();
    let tail = walk(&c.dir).into_iter().find(|p| p.to_str().unwrap().contains(&format!("{name}.cut-at-{offset}")));
    assert!(tail.is_some(), "the cut bytes are kept");

    // A second run has nothing to do.
    let run = c.run(&["repair"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_damaged_superblock_slot_is_rewritten() {
    for slot in [0u64, 1] {
        let c = Case::small();
        dirs::flip(&c.dir.join("pages.jdb"), slot * PAGE + 40, 0x02);
        let run = c.run(&["repair"]);
        assert_eq!(run.code, 1, "slot {slot}: {}", run.stdout);
        assert!(run.stdout.contains("write generation"), "{}", run.stdout);
        assert_clean(&c.dir);
        assert_eq!(dirs::contents(&c.dir), c.history.last(), "slot {slot}");
        audit(&c.dir);
    }
}

#[test]
fn a_damaged_tree_falls_back_to_the_older_superblock() {
    // Two checkpoints in one large WAL segment: the older checkpoint's
    // tree and every record after it are still there.
    let c = Case::new(Spec { keys: 300, value_len: 40, wal_commits: 20, checkpoints: 2, wal_segment_bytes: 4 << 20 });
    let v = validate(&FsStorage::new(), &c.dir, ValidateOptions::default(), &mut |_| {}).unwrap();
    let current = v.tree.unwrap().tree_pages;
    let older = v.state.older().unwrap().1;
    let older_pages = jubilant_engine::validate::walk_tree(
        v.state.pages.as_ref().unwrap(),
        &older,
        &jubilant_engine::validate::Hints::new(&c.dir),
    )
    .unwrap()
    .tree_pages;
    let page = *current.iter().find(|p| !older_pages.contains(p)).unwrap();
    dirs::flip(&c.dir.join("pages.jdb"), page.get() * PAGE + 200, 0x08);
    assert_eq!(jubectl(&["validate", c.d()]).code, 4);

    let run = c.run(&["repair", "--dry-run"]);
    assert_eq!(run.code, 4);
    assert!(run.stdout.contains("names a damaged tree"), "{}", run.stdout);
    let run = c.run(&["repair"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_clean(&c.dir);
    assert_eq!(dirs::contents(&c.dir), c.history.last());
    audit(&c.dir);
}

#[test]
fn a_damaged_free_list_is_rebuilt() {
    let c = Case::small();
    let v = validate(&FsStorage::new(), &c.dir, ValidateOptions::default(), &mut |_| {}).unwrap();
    let list_page = v.tree.unwrap().free_list_pages[0];
    dirs::flip(&c.dir.join("pages.jdb"), list_page.get() * PAGE + 64, 0x10);
    let run = c.run(&["repair"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("rebuild the free list"), "{}", run.stdout);
    assert_clean(&c.dir);
    assert_eq!(dirs::contents(&c.dir), c.history.last());
}

#[test]
fn mid_log_corruption_is_left_alone_unless_forced() {
    let c = Case::small();
    let last = dirs::wal_segments(&c.dir).pop().unwrap();
    let recs = records(&last);
    // The previous batch (one `Txn` record): the last batch's commit
    // vouches for it.
    let (offset, lsn) = recs[recs.len() - 2];
    dirs::flip(&last, offset + 26, 0x20);

    let before = snapshot(&c.dir);
    let run = c.run(&["repair"]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(run.stdout.contains("--force-truncate"), "{}", run.stdout);
    assert_eq!(snapshot(&c.dir), before, "repair changed a directory it refused to fix");

    let run = c.run(&["--json", "repair", "--force-truncate"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let dropped = report["plan"]["dropped_transactions"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{report}");
    assert_eq!(dropped[0]["may_have_been_acknowledged"], true);
    assert_clean(&c.dir);
    assert_eq!(dirs::contents(&c.dir), c.history.before(lsn));
}

#[test]
fn unrepairable_damage_exits_4_and_points_to_salvage() {
    let c = Case::small();
    std::fs::remove_file(&dirs::wal_segments(&c.dir)[0]).unwrap();
    let run = c.run(&["repair"]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(run.stdout.contains("jubectl salvage"), "{}", run.stdout);
}

#[test]
fn a_locked_directory_is_refused_with_8() {
    let c = Case::small();
    let db = Db::open(&c.dir, Options { background: false, ..dirs::options() }).unwrap();
    let run = c.run(&["repair"]);
    assert_eq!(run.code, 8, "{} {}", run.stdout, run.stderr);
    assert!(run.stderr.contains("locked"), "{}", run.stderr);
    // Read-only commands take no lock.
    assert_eq!(c.run(&["validate"]).code, 0);
    assert_eq!(c.run(&["repair", "--dry-run"]).code, 0);
    drop(db);
}

#[test]
fn keys_with_missing_values_are_dropped_only_when_asked() {
    let c = Case::new(Spec { keys: 60, value_len: 1500, wal_commits: 6, checkpoints: 1, wal_segment_bytes: 64 << 10 });
    let v = validate(&FsStorage::new(), &c.dir, ValidateOptions::default(), &mut |_| {}).unwrap();
    let segment = v.vlog.segments.last().unwrap().path.clone();
    let bytes = std::fs::read(&segment).unwrap();
    std::fs::write(&segment, &bytes[..bytes.len() / 2]).unwrap();

    let run = c.run(&["repair"]);
    assert_eq!(run.code, 5, "corrected the tail, left the references: {}", run.stdout);
    assert!(run.stdout.contains("--drop-dangling"), "{}", run.stdout);

    let run = c.run(&["--json", "repair", "--drop-dangling"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let dropped: Vec<Vec<u8>> = report["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "drop_dangling_keys")
        .flat_map(|a| a["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().as_bytes().to_vec()))
        .collect();
    assert!(!dropped.is_empty(), "{report}");
    assert_clean(&c.dir);
    let mut expected = c.history.last();
    for key in &dropped {
        expected.remove(key);
    }
    assert_eq!(dirs::contents(&c.dir), expected);
}
