//! The inspector never writes: not a byte, not a lock.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use jubilant_tui::View;

use crate::support::{digit, keys, open, scratch_copy};

/// Every file's bytes, by path.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["", "wal", "vlog"] {
        for entry in fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                out.insert(format!("{sub}/{}", entry.file_name().to_string_lossy()), fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn no_byte_changes_and_no_lock_file_appears() {
    let (_root, dir) = scratch_copy();
    fs::remove_file(dir.join("LOCK")).unwrap();
    let before = contents(&dir);
    let mut state = open(&dir, "scratch");
    for view in jubilant_tui::View::ALL {
        keys(&mut state, &format!("{}{{Enter}}{{Down}}{{End}}", digit(view)));
    }
    keys(&mut state, "vr");
    state.wait_idle();
    drop(state);
    let after = contents(&dir);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (name, bytes) in &before {
        assert!(after[name] == *bytes, "{name} changed");
    }
}

#[test]
fn a_writer_can_open_the_directory_while_it_is_inspected() {
    let (_root, dir) = scratch_copy();
    let mut state = open(&dir, "scratch");
    keys(&mut state, &format!("{}", digit(View::Tree)));
    let options = jubilant_engine::Options { background: false, create_if_missing: false, ..Default::default() };
    let db = jubilant_engine::Db::open(&dir, options);
    assert!(db.is_ok(), "{:?}", db.err());
    // And the inspector, refreshed, sees what the writer adds.
    let db = db.unwrap();
    let mut batch = jubilant_engine::WriteBatch::new();
    batch.put("written-while-inspected", "yes");
    db.write(&batch).unwrap();
    db.checkpoint().unwrap();
    keys(&mut state, "r/written{Enter}");
    assert!(state.tree.message.as_ref().unwrap().text.contains("written-while-inspected"), "{:?}", state.tree.message);
}
