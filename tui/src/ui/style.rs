//! Colours and styles, in one place. Red always means "damaged: the
//! decoder's error is next to it".

use ratatui::style::{Color, Modifier, Style};

use crate::model::ownership::Owner;
use crate::model::page::{ByteKind, PageClass};

/// Errors and corrupt structures.
pub const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
/// Warnings.
pub const WARN: Style = Style::new().fg(Color::Yellow);
/// Good news.
pub const OK: Style = Style::new().fg(Color::Green);
/// Labels and secondary text.
pub const DIM: Style = Style::new().fg(Color::DarkGray);
/// Keys in the footer and help.
pub const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// The title and footer bars.
pub const BAR: Style = Style::new().bg(Color::Black);
/// The program name.
pub const TITLE: Style = Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD);
/// The read-only badge.
pub const READ_ONLY: Style = Style::new().fg(Color::Black).bg(Color::Green).add_modifier(Modifier::BOLD);
/// The active view in the footer, the selected row.
pub const ACTIVE: Style = Style::new().add_modifier(Modifier::REVERSED);
/// Section headings inside lists.
pub const HEADING: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
/// Differences between the two superblocks.
pub const DIFF: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// Checkpoint markers.
pub const MARK: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);

/// The colour of a page class.
#[must_use]
pub const fn class(c: PageClass) -> Style {
    match c {
        PageClass::Unscanned => DIM,
        PageClass::Superblock => Style::new().fg(Color::Cyan),
        PageClass::Branch => Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
        PageClass::Leaf => Style::new().fg(Color::Green),
        PageClass::Overflow => Style::new().fg(Color::Magenta),
        PageClass::FreeList => Style::new().fg(Color::Yellow),
        PageClass::Zeroed => Style::new().fg(Color::Gray),
        PageClass::Corrupt => ERROR,
    }
}

/// The cell symbol of a page class.
#[must_use]
pub const fn class_symbol(c: PageClass) -> char {
    match c {
        PageClass::Unscanned => '·',
        PageClass::Superblock => 'S',
        PageClass::Branch => 'B',
        PageClass::Leaf => 'L',
        PageClass::Overflow => 'O',
        PageClass::FreeList => 'F',
        PageClass::Zeroed => '0',
        PageClass::Corrupt => 'X',
    }
}

/// The colour of an owner.
#[must_use]
pub const fn owner(o: Owner) -> Style {
    match o {
        Owner::Superblock => Style::new().fg(Color::Cyan),
        Owner::Branch => Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
        Owner::Leaf => Style::new().fg(Color::Green),
        Owner::FreeListNode => Style::new().fg(Color::Yellow),
        Owner::Free => DIM,
        Owner::Orphan => WARN,
        Owner::TreeDamaged | Owner::Conflict => ERROR,
        Owner::Beyond => DIM,
    }
}

/// The colour of a kind of byte.
#[must_use]
pub const fn byte(k: ByteKind) -> Style {
    match k {
        ByteKind::Header => Style::new().fg(Color::Black).bg(Color::Yellow),
        ByteKind::Crc => Style::new().fg(Color::Black).bg(Color::Magenta),
        ByteKind::Count | ByteKind::EntryMeta => Style::new().fg(Color::Cyan),
        ByteKind::Key => Style::new().fg(Color::Green),
        ByteKind::Value => Style::new().fg(Color::White),
        ByteKind::ValueRef | ByteKind::Pointer => Style::new().fg(Color::Blue),
        ByteKind::Undecoded => ERROR,
        ByteKind::Free => DIM,
    }
}
