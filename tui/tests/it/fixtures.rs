//! Data directories for the tests, generated with the engine's API so they
//! are real, and made deterministic: a fixed manifest (directory id and
//! clock calibration) is written before the first open, and the engine
//! runs on a fake clock without background threads. Damage is made by
//! flipping, zeroing or cutting bytes of a copy of the healthy directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jubilant_engine::layout::initial_superblock;
use jubilant_engine::storage::fs::FsStorage;
use jubilant_engine::ttl::FakeClock;
use jubilant_engine::{Db, Options, WriteBatch};
use jubilant_format::manifest::manifest_hash;
use jubilant_format::{ClockCalibration, Manifest, PageId, PageSize};
use jubilant_tui::model::dir::DataDir;
use jubilant_tui::model::ownership::{self, Owner};

/// 2026-01-02 03:04:05 UTC.
pub const WALL_MS: u64 = 1_767_323_045_000;
/// The fixture's directory id.
pub const DIRECTORY_ID: u64 = 0x0123_4567_89ab_cdef;
/// Keys in the tree: `key-0000` ..
pub const KEYS: usize = 300;

pub fn key(i: usize) -> String {
    format!("key-{i:04}")
}

/// A value of `len` bytes, deterministic per key.
fn value(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| b"abcdefghijklmnopqrstuvwxyz"[(i * 7 + j) % 26]).collect()
}

/// Keys whose values go to the value log (≥ 1 KiB).
pub fn is_large(i: usize) -> bool {
    i % 50 == 7
}

fn options() -> Options {
    Options { background: false, wal_segment_bytes: 64 << 10, ..Options::default() }
}

/// Writes the healthy directory into `dir` (which must not exist):
/// two checkpoints (so both superblock slots are valid and differ), then
/// transactions that only the WAL holds.
pub fn healthy(dir: &Path) {
    fs::create_dir_all(dir.join("wal")).unwrap();
    fs::create_dir_all(dir.join("vlog")).unwrap();
    let manifest = Manifest::new(
        PageSize::DEFAULT,
        ClockCalibration { wall_unix_nanos: WALL_MS * 1_000_000, monotonic_nanos: 1_000_000_000 },
        "jubilant-db test fixture",
        DIRECTORY_ID,
    );
    let bytes = manifest.encode();
    let mut pages = vec![0u8; 2 * PageSize::DEFAULT.bytes()];
    pages[..128].copy_from_slice(&initial_superblock(manifest_hash(&bytes)).encode());
    fs::write(dir.join("pages.jdb"), pages).unwrap();
    fs::write(dir.join("MANIFEST"), bytes).unwrap();

    let clock = Arc::new(FakeClock::new(WALL_MS));
    let db = Db::open_with_clock(dir, options(), clock.clone()).unwrap();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(50) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            let len = if is_large(i) { 1500 } else { 40 + i % 60 };
            if i % 40 == 3 {
                batch.put_expiring(key(i), value(i, len), WALL_MS + 86_400_000);
            } else {
                batch.put(key(i), value(i, len));
            }
        }
        db.write(&batch).unwrap();
        clock.advance_ms(1000);
    }
    db.checkpoint().unwrap();
    // Generation 2: updates and deletes, so the slots differ.
    let mut batch = WriteBatch::new();
    for i in (0..KEYS).step_by(9) {
        batch.put(key(i), value(i + 1, 70));
    }
    batch.delete(key(1)).delete(key(2));
    db.write(&batch).unwrap();
    clock.advance_ms(1000);
    db.checkpoint().unwrap();
    // After the checkpoint: only in the WAL.
    for t in 0..4 {
        let mut batch = WriteBatch::new();
        batch.put(format!("wal-only-{t}"), value(t, 30 + t));
        if t == 2 {
            batch.put("wal-only-big", value(99, 2000));
            batch.delete(key(5));
        }
        db.write(&batch).unwrap();
        clock.advance_ms(1000);
    }
    db.close().unwrap();
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

fn open(dir: &Path) -> DataDir {
    DataDir::open(Arc::new(FsStorage::new()), dir).unwrap()
}

/// The pages the current superblock's tree owns, by owner.
pub fn owned(dir: &Path, owner: Owner) -> Vec<u64> {
    let d = open(dir);
    let slot = d.current_slot().unwrap();
    let sb = d.superblock(slot).unwrap();
    let own = ownership::walk(&d, slot, &sb, d.shown_pages());
    (0..own.owners.len() as u64).filter(|&p| own.owner(p) == owner).collect()
}

/// The leaf the fixture's damage hits: the second leaf of the current tree.
pub fn damaged_leaf(dir: &Path) -> u64 {
    leaf_holding(dir, &key(150))
}

/// The leaf page that holds `key` in the current tree.
pub fn leaf_holding(dir: &Path, key: &str) -> u64 {
    let d = open(dir);
    let sb = d.superblock(d.current_slot().unwrap()).unwrap();
    let mut page = sb.root_page.unwrap();
    loop {
        match &*jubilant_tui::model::tree::load_node(&d, page).unwrap() {
            jubilant_tui::model::tree::TreeNode::Branch(b) => page = b.child(b.child_index(key.as_bytes())).unwrap(),
            jubilant_tui::model::tree::TreeNode::Leaf(_) => return page.get(),
        }
    }
}

fn last_wal_segment(dir: &Path) -> PathBuf {
    // Segments only: not the next segment a writer may be preparing.
    let mut names: Vec<_> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    names.sort();
    names.pop().unwrap()
}

/// Offsets of the records of a WAL segment (a simple walk of the
/// envelopes: 24-byte header with the payload length first).
fn wal_record_offsets(path: &Path) -> Vec<u64> {
    let bytes = fs::read(path).unwrap();
    let mut offsets = Vec::new();
    let mut pos = 40usize;
    while pos + 24 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        if bytes[pos..pos + 24].iter().all(|&b| b == 0) {
            break;
        }
        offsets.push(pos as u64);
        pos += 24 + len;
    }
    offsets
}

fn vlog_segment(dir: &Path) -> PathBuf {
    fs::read_dir(dir.join("vlog")).unwrap().next().unwrap().unwrap().path()
}

/// The damaged directory of the snapshot tests: a bit flip in a leaf of
/// the current tree, the older superblock slot torn, a value-log record
/// corrupted, and a torn WAL tail.
pub fn damaged(healthy: &Path, dir: &Path) {
    copy_dir(healthy, dir);
    damage(dir, Damage::LeafBitFlip);
    damage(dir, Damage::OlderSlotTorn);
    damage(dir, Damage::VlogRecord);
    damage(dir, Damage::WalTornTail);
}

/// One kind of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    LeafBitFlip,
    RootBitFlip,
    OlderSlotTorn,
    CurrentSlotTorn,
    BothSlotsZeroed,
    Misdirected,
    WalTornTail,
    WalMidLog,
    WalHeader,
    VlogRecord,
    VlogHeader,
    ManifestGarbage,
    ManifestMissing,
    PageFileMissing,
    PageFileTruncated,
    PageFilePartial,
    FreeListBitFlip,
    EmptyDirectory,
}

impl Damage {
    pub const ALL: [Damage; 18] = [
        Damage::LeafBitFlip,
        Damage::RootBitFlip,
        Damage::OlderSlotTorn,
        Damage::CurrentSlotTorn,
        Damage::BothSlotsZeroed,
        Damage::Misdirected,
        Damage::WalTornTail,
        Damage::WalMidLog,
        Damage::WalHeader,
        Damage::VlogRecord,
        Damage::VlogHeader,
        Damage::ManifestGarbage,
        Damage::ManifestMissing,
        Damage::PageFileMissing,
        Damage::PageFileTruncated,
        Damage::PageFilePartial,
        Damage::FreeListBitFlip,
        Damage::EmptyDirectory,
    ];
}

/// Applies `kind` to `dir` in place.
pub fn damage(dir: &Path, kind: Damage) {
    let pages = dir.join("pages.jdb");
    let page = |id: u64| id * 4096;
    match kind {
        Damage::LeafBitFlip => flip(&pages, page(damaged_leaf(dir)) + 100),
        Damage::RootBitFlip => {
            let d = open(dir);
            let root = d.superblock(d.current_slot().unwrap()).unwrap().root_page.unwrap();
            flip(&pages, page(root.get()) + 40);
        }
        Damage::OlderSlotTorn | Damage::CurrentSlotTorn => {
            let d = open(dir);
            let current = d.current_slot().unwrap();
            let slot = if kind == Damage::CurrentSlotTorn { current } else { current.other() };
            flip(&pages, slot.page().offset(PageSize::DEFAULT) + 20);
        }
        Damage::BothSlotsZeroed => {
            let mut bytes = fs::read(&pages).unwrap();
            bytes[..2 * 4096].fill(0);
            fs::write(&pages, bytes).unwrap();
        }
        Damage::Misdirected => {
            let mut bytes = fs::read(&pages).unwrap();
            let from = damaged_leaf(dir) as usize * 4096;
            let leaves = owned(dir, Owner::Leaf);
            let to = *leaves.iter().find(|&&p| p as usize * 4096 != from).unwrap() as usize * 4096;
            let copy = bytes[from..from + 4096].to_vec();
            bytes[to..to + 4096].copy_from_slice(&copy);
            fs::write(&pages, bytes).unwrap();
        }
        Damage::WalTornTail => {
            let seg = last_wal_segment(dir);
            let last = *wal_record_offsets(&seg).last().unwrap();
            flip(&seg, last + 30);
        }
        Damage::WalMidLog => {
            let seg = last_wal_segment(dir);
            let offsets = wal_record_offsets(&seg);
            flip(&seg, offsets[offsets.len() / 2] + 30);
        }
        Damage::WalHeader => flip(&last_wal_segment(dir), 10),
        Damage::VlogRecord => flip(&vlog_segment(dir), 40 + 24 + 200),
        Damage::VlogHeader => flip(&vlog_segment(dir), 9),
        Damage::ManifestGarbage => fs::write(dir.join("MANIFEST"), b"this is not a manifest at all").unwrap(),
        Damage::ManifestMissing => fs::remove_file(dir.join("MANIFEST")).unwrap(),
        Damage::PageFileMissing => fs::remove_file(&pages).unwrap(),
        Damage::PageFileTruncated => {
            let len = fs::metadata(&pages).unwrap().len();
            fs::File::options().write(true).open(&pages).unwrap().set_len(len / 3).unwrap();
        }
        Damage::PageFilePartial => {
            let len = fs::metadata(&pages).unwrap().len();
            fs::File::options().write(true).open(&pages).unwrap().set_len(len - 1000).unwrap();
        }
        Damage::FreeListBitFlip => {
            let d = open(dir);
            let head = d.superblock(d.current_slot().unwrap()).unwrap().free_list_head;
            let id = head.unwrap_or(PageId(2)).get();
            flip(&pages, page(id) + 50);
        }
        Damage::EmptyDirectory => {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() { fs::remove_dir_all(path).unwrap() } else { fs::remove_file(path).unwrap() }
            }
        }
    }
}
