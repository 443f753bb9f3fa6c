//! Key scripts: open a page from the map, walk the tree to a leaf and
//! along the leaves, jump to a key, follow a value reference, and reach
//! the WAL's torn tail.

use jubilant_format::PageId;
use jubilant_format::wal::WalPayload;
use jubilant_tui::View;
use jubilant_tui::model::page::Content;
use jubilant_tui::model::tree::TreeNode;
use jubilant_tui::model::vlog::VlogRow;
use jubilant_tui::model::wal::WalRow;

use crate::fixtures;
use crate::support::{dirs, keys, open, screen};

fn current_leaf_key(state: &jubilant_tui::State) -> Vec<u8> {
    let frame = state.tree.current().unwrap();
    match &**frame.node.as_ref().unwrap() {
        TreeNode::Leaf(l) => l.key(frame.cursor.selected).to_vec(),
        TreeNode::Branch(_) => panic!("not at a leaf"),
    }
}

#[test]
fn open_a_page_from_the_map() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "2{Right}{Right}{Right}");
    assert_eq!(state.map.selected, 3);
    // 64 cells a row at 120 columns; the last row is short.
    keys(&mut state, "{Left}{Left}{Down}");
    assert_eq!(state.map.selected, 1 + 64);
    keys(&mut state, "{Down}");
    assert_eq!(state.map.selected, state.page_count() - 1);
    keys(&mut state, "{Home}{Right}{Right}{Enter}");
    assert_eq!(state.view, View::PageDetail);
    let page = &state.page.as_ref().unwrap().page;
    assert_eq!(page.id, PageId(2));
    // Esc returns to the map; page 0 is a superblock.
    keys(&mut state, "{Esc}{Home}{Enter}");
    let page = &state.page.as_ref().unwrap().page;
    assert_eq!(page.id, PageId(0));
    assert!(matches!(page.content, Content::Superblock(_)));
    assert!(page.verdict.is_ok());
}

#[test]
fn walk_the_tree_to_a_leaf_and_along_the_leaves() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "5");
    assert_eq!(state.view, View::Tree);
    assert!(!state.tree_at_leaf(), "the fixture's root is a branch");
    // Down the first children to the first leaf.
    for _ in 0..8 {
        if state.tree_at_leaf() {
            break;
        }
        keys(&mut state, "{Enter}");
    }
    assert!(state.tree_at_leaf());
    assert_eq!(current_leaf_key(&state), b"key-0000");
    let first_leaf = state.tree.current().unwrap().page;
    keys(&mut state, "n");
    assert!(state.tree_at_leaf());
    assert_ne!(state.tree.current().unwrap().page, first_leaf);
    let second_first_key = current_leaf_key(&state);
    assert!(second_first_key.as_slice() > b"key-0000".as_slice());
    keys(&mut state, "p{End}");
    assert_eq!(state.tree.current().unwrap().page, first_leaf);
    assert!(current_leaf_key(&state) < second_first_key);
    // Up to the root again.
    keys(&mut state, "{Left}{Left}{Left}{Left}");
    assert_eq!(state.tree.path.len(), 1);
}

#[test]
fn jump_to_a_key_by_prefix() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "5/key-0217{Enter}");
    assert!(state.tree_at_leaf());
    assert_eq!(current_leaf_key(&state), b"key-0217");
    // A prefix that no key has lands on the next key.
    keys(&mut state, "/key-01995{Enter}");
    assert_eq!(current_leaf_key(&state), b"key-0200");
    // Typing can be corrected and cancelled.
    keys(&mut state, "/kez{Bksp}y-029{Enter}");
    assert_eq!(current_leaf_key(&state), b"key-0290");
    keys(&mut state, "/abc{Esc}");
    assert!(state.input.is_none());
    assert_eq!(current_leaf_key(&state), b"key-0290");
}

#[test]
fn follow_a_value_reference_from_a_leaf() {
    let mut state = open(&dirs().healthy, "healthy");
    let large = (0..fixtures::KEYS).find(|&i| fixtures::is_large(i)).unwrap();
    keys(&mut state, &format!("5/{}{{Enter}}{{Enter}}", fixtures::key(large)));
    assert_eq!(state.view, View::Vlog);
    let followed = state.vlog_ui.followed.as_ref().unwrap();
    let record = followed.result.as_ref().unwrap();
    assert_eq!(record.key, fixtures::key(large).as_bytes());
    assert!(matches!(state.selected_vlog_row(), Some(VlogRow::Record(r)) if r.offset == followed.value_ref.offset));
    // Esc goes back to the records' segment list, then to the tree.
    keys(&mut state, "{Esc}{Esc}");
    assert_eq!(state.view, View::Tree);
}

#[test]
fn a_damaged_value_reference_is_reported() {
    let mut state = open(&dirs().damaged, "damaged");
    let large = (0..fixtures::KEYS).find(|&i| fixtures::is_large(i)).unwrap();
    keys(&mut state, &format!("5/{}{{Enter}}{{Enter}}", fixtures::key(large)));
    assert_eq!(state.view, View::Vlog);
    let followed = state.vlog_ui.followed.as_ref().unwrap();
    assert!(followed.result.as_ref().is_err_and(|e| e.contains("checksum")), "{followed:?}");
    assert!(screen(&mut state).contains("--- red ---"));
}

#[test]
fn reach_the_torn_tail_of_the_wal() {
    let mut state = open(&dirs().damaged, "damaged");
    keys(&mut state, "6");
    assert_eq!(state.wal_cursor.selected, 0);
    keys(&mut state, "t");
    let wal = state.wal.as_ref().unwrap();
    let WalRow::Damage(d) = &wal.rows[state.wal_cursor.selected] else { panic!("not at the damage") };
    assert!(d.torn, "{d:?}");
    assert!(d.verdict.starts_with("torn tail"), "{d:?}");
    assert!(d.error.contains("checksum"), "{d:?}");
    // Scrolling to the end gets there too.
    let damage = wal.first_damage().unwrap();
    keys(&mut state, "{Home}{End}");
    assert!(state.wal_cursor.selected >= damage);
    let text = screen(&mut state);
    assert!(text.contains("TORN at"), "{text}");
}

#[test]
fn the_healthy_wal_marks_both_checkpoints() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "6t");
    let wal = state.wal.as_ref().unwrap();
    assert!(wal.first_damage().is_none());
    assert_eq!(state.status.as_ref().unwrap().text, "the WAL has no damage");
    let marks = wal.rows.iter().filter(|r| matches!(r, WalRow::Checkpoint { .. })).count();
    assert_eq!(marks, 2);
    // Alone or among the writes of a whole-transaction record.
    let writes_key = |p: &WalPayload| match p {
        WalPayload::Txn { writes, .. } => writes.iter().any(|w| w.key() == b"wal-only-big"),
        other => other.key() == Some(b"wal-only-big"),
    };
    assert!(wal.rows.iter().any(|r| matches!(r, WalRow::Record(rec) if rec.payload.as_ref().is_ok_and(writes_key))));
}

#[test]
fn switch_the_browsed_slot() {
    let mut state = open(&dirs().healthy, "healthy");
    let current = state.slot.unwrap();
    keys(&mut state, "5s");
    assert_eq!(state.slot, Some(current.other()));
    assert!(state.status.as_ref().unwrap().text.contains("older"));
    // As of the older slot, the keys deleted by the second checkpoint exist.
    keys(&mut state, "/key-0001{Enter}");
    assert_eq!(current_leaf_key(&state), b"key-0001");
    keys(&mut state, "s/key-0001{Enter}");
    assert_eq!(state.slot, Some(current));
    assert_eq!(current_leaf_key(&state), b"key-0003");
}

#[test]
fn page_detail_entries_hex_and_values() {
    let mut state = open(&dirs().healthy, "healthy");
    let leaf = fixtures::leaf_holding(&dirs().healthy, "key-0010");
    keys(&mut state, &format!("3/{leaf}{{Enter}}"));
    let detail = state.page.as_ref().unwrap();
    assert_eq!(detail.page.id.get(), leaf);
    assert!(matches!(detail.page.content, Content::Leaf(ref e) if !e.is_empty()));
    let redacted = screen(&mut state);
    assert!(redacted.contains("‹"), "values are redacted by default");
    keys(&mut state, "x");
    assert!(state.show_values);
    let shown = screen(&mut state);
    assert!(!shown.contains("‹4"), "{shown}");
    keys(&mut state, "{Tab}{PgDn}");
    assert!(state.page.as_ref().unwrap().hex_line > 0);
    keys(&mut state, "]");
    assert_eq!(state.page.as_ref().unwrap().page.id.get(), leaf + 1);
}

#[test]
fn mouse_wheel_scrolls_and_ctrl_c_quits() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "6");
    let wheel = |kind| Event::Mouse(MouseEvent { kind, column: 10, row: 10, modifiers: KeyModifiers::NONE });
    state.handle_event(&wheel(MouseEventKind::ScrollDown));
    assert_eq!(state.wal_cursor.selected, 3);
    state.handle_event(&wheel(MouseEventKind::ScrollUp));
    assert_eq!(state.wal_cursor.selected, 0);
    state.handle_event(&Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    assert!(state.quit);
}

#[test]
fn refresh_keeps_the_view() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "2{Right}{Right}{Enter}r");
    state.wait_idle();
    assert_eq!(state.view, View::PageDetail);
    assert_eq!(state.page.as_ref().unwrap().page.id, PageId(2));
    assert!(state.status.as_ref().unwrap().text.starts_with("refreshed"));
}

#[test]
fn ownership_finds_damage_and_opens_pages() {
    let mut state = open(&dirs().damaged, "damaged");
    keys(&mut state, "8o");
    let leaf = fixtures::damaged_leaf(&dirs().healthy);
    assert_eq!(state.own_cursor.selected as u64, leaf);
    assert_eq!(state.own_page.as_ref().unwrap().id.get(), leaf);
    keys(&mut state, "{Enter}");
    assert_eq!(state.view, View::PageDetail);
    assert!(state.page.as_ref().unwrap().page.verdict.is_err());
    keys(&mut state, "{Esc}");
    assert_eq!(state.view, View::Ownership);
}
