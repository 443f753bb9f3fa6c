//! `jubectl salvage`: with both superblocks, the root page and a WAL
//! segment destroyed, every key whose latest version survives somewhere
//! in the files is recovered into a fresh directory that validates clean;
//! the source is not modified.

use std::collections::BTreeMap;
use std::path::Path;

use jubilant_engine::storage::fs::FsStorage;
use jubilant_engine::validate::{ValidateOptions, validate};
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WalReader, WalStep};

use crate::forensics::dirs;
use crate::mock::jubectl;

const PAGE: usize = 4096;

fn last_lsn(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = WalReader::new(&bytes[SEGMENT_HEADER_LEN..], SEGMENT_HEADER_LEN as u64, None);
    let mut last = 0;
    while let Ok(WalStep::Record(r)) = reader.next_step() {
        last = r.lsn.get();
    }
    last
}

fn tree(dir: &Path) -> Vec<u8> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            out.extend(tree(&f));
        } else {
            out.extend(std::fs::read(&f).unwrap());
        }
    }
    out
}

#[test]
fn salvage_recovers_every_key_whose_latest_version_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let history = dirs::build(&dir, 300, 120, 40);
    let v = validate(&FsStorage::new(), &dir, ValidateOptions::default(), &mut |_| {}).unwrap();
    let root = v.report.superblock.unwrap().root_page as usize;

    // The LSN of each key's last change.
    let mut last_change: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut previous: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (lsn, state) in &history.states {
        for key in previous.keys().chain(state.keys()) {
            if previous.get(key) != state.get(key) {
                last_change.insert(key.clone(), *lsn);
            }
        }
        previous = state.clone();
    }

    // Destroy both superblocks, the root page and the first WAL segment.
    let pages = dir.join("pages.jdb");
    let mut bytes = std::fs::read(&pages).unwrap();
    bytes[..128].fill(0);
    bytes[PAGE..PAGE + 128].fill(0);
    bytes[root * PAGE..(root + 1) * PAGE].fill(0);
    std::fs::write(&pages, bytes).unwrap();
    let first = dirs::wal_segments(&dir)[0].clone();
    let lost_up_to = last_lsn(&first);
    std::fs::remove_file(&first).unwrap();
    assert_eq!(jubectl(&["validate", dir.to_str().unwrap()]).code, 4);
    // Repair cannot help here.
    assert_eq!(jubectl(&["repair", dir.to_str().unwrap(), "--dry-run"]).code, 4);

    let source = tree(&dir);
    let out = tmp.path().join("new");
    let run = jubectl(&["salvage", dir.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert!(run.code == 0 || run.code == 4, "{} {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("recovered"), "{}", run.stdout);
    assert_eq!(tree(&dir), source, "salvage modified its source");

    let salvaged = dirs::contents(&out);
    let last = history.last();
    let mut checked = 0;
    for (key, lsn) in &last_change {
        // Lost: changed after the checkpoint, in the deleted segment.
        if *lsn > history.checkpoint_lsn && *lsn <= lost_up_to {
            continue;
        }
        assert_eq!(salvaged.get(key), last.get(key), "key {}", String::from_utf8_lossy(key));
        checked += 1;
    }
    assert!(checked > 200, "only {checked} keys had a surviving latest version");
    let run = jubectl(&["validate", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // The output must be new.
    let again = jubectl(&["salvage", dir.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert_eq!(again.code, 8, "{}", again.stderr);
}

#[test]
fn salvage_resolves_values_in_the_value_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let history = dirs::build(&dir, 60, 1500, 6);
    let v = validate(&FsStorage::new(), &dir, ValidateOptions::default(), &mut |_| {}).unwrap();
    assert!(v.tree.unwrap().value_refs.len() >= 50);
    let pages = dir.join("pages.jdb");
    let mut bytes = std::fs::read(&pages).unwrap();
    bytes[..128].fill(0);
    bytes[PAGE..PAGE + 128].fill(0);
    std::fs::write(&pages, bytes).unwrap();
    let out = tmp.path().join("new");
    let run = jubectl(&["--json", "salvage", dir.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    assert!(run.json()["vlog_records"].as_u64().unwrap() >= 60);
    assert_eq!(dirs::contents(&out), history.last());
    assert_eq!(jubectl(&["validate", "--deep", out.to_str().unwrap()]).code, 0);
}
