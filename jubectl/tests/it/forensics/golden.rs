//! Golden data directories (golden/dirs/, committed) and insta snapshots
//! of every offline command's text and JSON output on them.
//!
//! The directories are written once by `cargo xtask golden-dirs` (this
//! module with `JUBILANT_UPDATE_GOLDEN_DIRS=1`) and only read afterwards:
//! directory ids are random, so a rebuild changes every snapshot. Rebuild
//! them only after a deliberate format change, and review the snapshots.
//!
//! - `clean`: 120 keys, a checkpoint, then 6 commits in the WAL.
//! - `torn-wal-tail`: `clean` with a bit flipped in the WAL's last record.
//! - `mid-log`: `clean` with a bit flipped in the commit before the last
//!   batch (the last commit proves it was durable).
//! - `corrupt-leaf`: `clean` with a bit flipped in a leaf page.
//! - `vlog-torn-tail`: `clean` plus a value-log segment of three records
//!   and a torn fourth.

use std::path::{Path, PathBuf};

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::vlog::encode_vlog_record;
use jubilant_format::wal::{WalReader, WalStep};
use jubilant_format::{Lsn, SegmentHeader, SegmentId, SegmentKind};

use crate::forensics::dirs::{self, Spec};
use crate::mock::{Run, jubectl};

const NAMES: &[&str] = &["clean", "torn-wal-tail", "mid-log", "corrupt-leaf", "vlog-torn-tail"];

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/dirs")
}

fn golden(name: &str) -> PathBuf {
    golden_root().join(name)
}

/// Rebuilds every golden directory (only with JUBILANT_UPDATE_GOLDEN_DIRS=1).
fn regenerate() {
    let root = golden_root();
    let _ = std::fs::remove_dir_all(&root);
    let clean = root.join("clean");
    dirs::build_with(
        &clean,
        Spec { keys: 120, value_len: 16, wal_commits: 6, checkpoints: 1, wal_segment_bytes: 64 << 10 },
    );
    let _ = std::fs::remove_file(clean.join("LOCK"));
    for name in &NAMES[1..] {
        dirs::copy_dir(&clean, &root.join(name));
    }
    let wal = |name: &str| dirs::wal_segments(&root.join(name)).pop().unwrap();
    let offsets = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let mut reader = WalReader::new(&bytes[SEGMENT_HEADER_LEN..], SEGMENT_HEADER_LEN as u64, None);
        let mut out = Vec::new();
        while let Ok(WalStep::Record(r)) = reader.next_step() {
            out.push(r.offset);
        }
        out
    };
    let torn = wal("torn-wal-tail");
    let recs = offsets(&torn);
    dirs::flip(&torn, recs[recs.len() - 1] + 10, 0x01);
    let mid = wal("mid-log");
    let recs = offsets(&mid);
    // The third record from the end: the two commits after it prove it
    // was durable.
    dirs::flip(&mid, recs[recs.len() - 3] + 26, 0x20);
    // The first leaf: the root branch's first child.
    let pages = std::fs::read(clean.join("pages.jdb")).unwrap();
    let leaf = (2..pages.len() / 4096).find(|&p| pages[p * 4096 + 6] == 2).unwrap();
    dirs::flip(&root.join("corrupt-leaf/pages.jdb"), (leaf * 4096 + 700) as u64, 0x04);
    // A value-log segment written with the format's encoder.
    let dir = root.join("vlog-torn-tail");
    let manifest = jubilant_format::Manifest::decode(&std::fs::read(dir.join("MANIFEST")).unwrap()).unwrap();
    let mut bytes = SegmentHeader {
        kind: SegmentKind::ValueLog,
        segment: SegmentId(1),
        first_lsn: Lsn(1),
        directory_id: manifest.directory_id,
    }
    .encode()
    .to_vec();
    for (i, key) in ["big:a", "big:b", "big:c", "big:d"].iter().enumerate() {
        let base = 0;
        let mut record = Vec::new();
        encode_vlog_record(SegmentId(1), base, Lsn(10 + i as u64), key.as_bytes(), &vec![b'v'; 300 + i], &mut record);
        if i == 3 {
            record.truncate(100);
        }
        bytes.extend_from_slice(&record);
    }
    std::fs::create_dir_all(dir.join("vlog")).unwrap();
    std::fs::write(dir.join("vlog/00000000000000000001.vlog"), bytes).unwrap();
    // git keeps no empty directory: drop them so a clone reads the same.
    for name in NAMES {
        let _ = std::fs::remove_dir(root.join(name).join("vlog"));
    }
}

/// Runs jubectl on a golden directory; the directory's path prints as DIR.
fn run(name: &str, args: &[&str]) -> Run {
    let dir = golden(name);
    let d = dir.to_str().unwrap().to_owned();
    let mut all: Vec<&str> = args.to_vec();
    let command = all.iter().position(|a| !a.starts_with("--")).unwrap();
    all.insert(command + 1, &d);
    let mut run = jubectl(&all);
    run.stdout = run.stdout.replace(&d, "DIR");
    run
}

#[test]
fn golden_directories_exist() {
    if std::env::var_os("JUBILANT_UPDATE_GOLDEN_DIRS").is_some() {
        regenerate();
    }
    for name in NAMES {
        assert!(golden(name).join("MANIFEST").exists(), "golden/dirs/{name} is missing: run `cargo xtask golden-dirs`");
        assert!(
            !golden(name).join("LOCK").exists(),
            "golden/dirs/{name}/LOCK: something opened a golden directory read-write"
        );
    }
}

#[test]
fn validate_snapshots() {
    for (name, code) in [("clean", 0), ("torn-wal-tail", 4), ("mid-log", 4), ("corrupt-leaf", 4), ("vlog-torn-tail", 4)]
    {
        let text = run(name, &["validate", "--deep"]);
        assert_eq!(text.code, code, "{name}: {}", text.stdout);
        insta::assert_snapshot!(format!("validate_{name}"), text.stdout);
        let json = run(name, &["--json", "validate", "--deep"]);
        assert_eq!(json.code, code);
        insta::assert_json_snapshot!(format!("validate_{name}_json"), json.json());
    }
}

#[test]
fn repair_dry_run_snapshots() {
    for (name, code) in [("clean", 0), ("torn-wal-tail", 4), ("mid-log", 4), ("corrupt-leaf", 4), ("vlog-torn-tail", 4)]
    {
        let text = run(name, &["repair", "--dry-run"]);
        assert_eq!(text.code, code, "{name}: {}", text.stdout);
        insta::assert_snapshot!(format!("repair_dry_run_{name}"), text.stdout);
        let json = run(name, &["--json", "repair", "--dry-run"]);
        insta::assert_json_snapshot!(format!("repair_dry_run_{name}_json"), json.json());
    }
    // --force-truncate shows which transactions would be dropped.
    let forced = run("mid-log", &["repair", "--dry-run", "--force-truncate"]);
    insta::assert_snapshot!("repair_dry_run_mid-log_forced", forced.stdout);
}

#[test]
fn dump_snapshots() {
    let d = |args: &[&str]| {
        let r = run("clean", args);
        assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
        r
    };
    insta::assert_snapshot!("dump_manifest", d(&["dump-manifest"]).stdout);
    insta::assert_json_snapshot!("dump_manifest_json", d(&["--json", "dump-manifest"]).json());
    insta::assert_snapshot!("dump_superblocks", d(&["dump-superblocks"]).stdout);
    insta::assert_json_snapshot!("dump_superblocks_json", d(&["--json", "dump-superblocks"]).json());
    insta::assert_snapshot!("dump_wal", d(&["dump-wal", "--limit", "14"]).stdout);
    insta::assert_snapshot!(
        "dump_wal_show_values",
        d(&["dump-wal", "--from-lsn", "120", "--limit", "4", "--show-values"]).stdout
    );
    insta::assert_json_snapshot!("dump_wal_json", d(&["--json", "dump-wal", "--limit", "3"]).json());
    let ndjson = d(&["dump-wal", "--format", "ndjson", "--from-lsn", "130", "--limit", "3"]).stdout;
    let lines: Vec<serde_json::Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    insta::assert_json_snapshot!("dump_wal_ndjson", lines);
    let root = d(&["--json", "dump-superblocks"]).json()["slots"][1]["superblock"]["root_page"].as_u64().unwrap();
    let root = root.to_string();
    insta::assert_snapshot!("dump_page_root", d(&["dump-page", &root]).stdout);
    insta::assert_snapshot!("dump_page_leaf", d(&["dump-page", "2"]).stdout);
    insta::assert_json_snapshot!("dump_page_leaf_json", d(&["--json", "dump-page", "2"]).json());
    insta::assert_snapshot!("dump_page_hex", d(&["dump-page", &root, "--hex"]).stdout);
    insta::assert_snapshot!("stat", d(&["stat"]).stdout);
    insta::assert_json_snapshot!("stat_json", d(&["--json", "stat"]).json());

    let vlog = run("vlog-torn-tail", &["dump-vlog"]);
    assert_eq!(vlog.code, 4, "{}", vlog.stdout);
    insta::assert_snapshot!("dump_vlog", vlog.stdout);
    insta::assert_json_snapshot!(
        "dump_vlog_json",
        run("vlog-torn-tail", &["--json", "dump-vlog", "1", "--show-values"]).json()
    );
    let torn = run("torn-wal-tail", &["dump-wal", "--from-lsn", "200"]);
    assert_eq!(torn.code, 4);
    insta::assert_snapshot!("dump_wal_torn_tail", torn.stdout);
}
