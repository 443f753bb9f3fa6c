//! The application state and what changes it.
//!
//! - [`State`]: everything a screen shows, and the per-view cursors.
//! - [`jobs`]: the background loader (page classes, ownership, WAL, value
//!   log); [`validation`]: the validation walker on demand.
//! - `keys`: key and mouse handling ([`State::handle_event`]); `nav`: the
//!   actions keys trigger (open a page, walk the tree, follow a reference).
//!
//! Rendering ([`crate::ui::render`]) only reads a `State`; every read of
//! the directory happens here, on an event or in a background thread.

pub mod cursor;
pub mod jobs;
mod keys;
mod nav;
pub mod validation;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use jubilant_engine::storage::Storage;
use jubilant_engine::storage::fs::FsStorage;
use jubilant_format::Slot;

pub use cursor::Cursor;
use jobs::Loaded;
pub use nav::{TreeBrowser, TreeFrame};
use validation::{Validation, ValidationMsg};

use crate::model::dir::DataDir;
use crate::model::ownership::Ownership;
use crate::model::page::{PageClass, PageView};
use crate::model::vlog::{Followed, VlogModel};
use crate::model::wal::WalModel;

/// Start-up options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show values instead of their length and hash.
    pub show_values: bool,
    /// How the directory is named on screen (default: its path).
    pub label: Option<String>,
}

/// The views, in footer order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Manifest, superblocks, totals, validation.
    Overview,
    /// Every page as a coloured cell.
    PageMap,
    /// One page decoded.
    PageDetail,
    /// Slots A and B side by side.
    Superblocks,
    /// The B+Tree, node by node.
    Tree,
    /// The WAL timeline.
    Wal,
    /// Value-log segments and records.
    Vlog,
    /// Which pages the tree and free list own.
    Ownership,
}

impl View {
    /// Every view, in footer order (the digit keys 1–8).
    pub const ALL: [View; 8] = [
        View::Overview,
        View::PageMap,
        View::PageDetail,
        View::Superblocks,
        View::Tree,
        View::Wal,
        View::Vlog,
        View::Ownership,
    ];

    /// Its title.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::PageMap => "Page map",
            View::PageDetail => "Page",
            View::Superblocks => "Superblocks",
            View::Tree => "Tree",
            View::Wal => "WAL",
            View::Vlog => "Value log",
            View::Ownership => "Ownership",
        }
    }
}

/// The page-map cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapState {
    /// The selected page.
    pub selected: u64,
    /// The first grid row shown.
    pub row_offset: usize,
}

/// The page-detail view's state.
#[derive(Debug, Clone)]
pub struct PageDetail {
    /// The decoded page.
    pub page: PageView,
    /// The entries list.
    pub entries: Cursor,
    /// First hex line shown (16 bytes a line).
    pub hex_line: usize,
    /// Whether keys scroll the hex view rather than the entries.
    pub focus_hex: bool,
    /// The view Esc returns to.
    pub back: View,
}

/// The value-log view's state.
#[derive(Debug, Clone, Default)]
pub struct VlogUi {
    /// Segment list cursor.
    pub segments: Cursor,
    /// Record list cursor.
    pub records: Cursor,
    /// Whether keys move in the record list.
    pub focus_records: bool,
    /// The last reference followed from a leaf entry.
    pub followed: Option<Followed>,
    /// The view Esc returns to after following a reference.
    pub back: Option<View>,
}

/// A line of text being typed (a key prefix, a page number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Jump to the first key with this prefix (tree view).
    KeyPrefix(String),
    /// Go to this page (page map, page view).
    GotoPage(String),
}

/// A status message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Whether it reports a problem.
    pub error: bool,
    /// The text.
    pub text: String,
}

/// Everything the screens show.
#[derive(Debug)]
pub struct State {
    /// The directory.
    pub dir: Arc<DataDir>,
    /// How the directory is named on screen.
    pub label: String,
    /// The view shown.
    pub view: View,
    /// Whether the help overlay is open.
    pub show_help: bool,
    /// Whether values are shown rather than redacted.
    pub show_values: bool,
    /// Set when the user asked to quit.
    pub quit: bool,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// The superblock slot the directory is browsed as of.
    pub slot: Option<Slot>,
    /// The last status message.
    pub status: Option<Status>,
    /// Text being typed, if any.
    pub input: Option<Input>,
    /// Page classes, by page id (`Unscanned` until the scan reaches them).
    pub classes: Vec<PageClass>,
    /// Decoder errors of corrupt pages.
    pub class_errors: BTreeMap<u64, String>,
    /// Pages classified so far.
    pub scanned: u64,
    /// Ownership walks, one per valid slot (as they arrive).
    pub ownership: Vec<Ownership>,
    /// The WAL, once scanned.
    pub wal: Option<WalModel>,
    /// The value log, once scanned.
    pub vlog: Option<VlogModel>,
    /// Whether the background loader is still running.
    pub loading: bool,
    /// The validation summary.
    pub validation: Validation,
    /// Page map.
    pub map: MapState,
    /// Page detail (once a page was opened).
    pub page: Option<PageDetail>,
    /// Tree browser.
    pub tree: TreeBrowser,
    /// WAL timeline cursor.
    pub wal_cursor: Cursor,
    /// Value-log view.
    pub vlog_ui: VlogUi,
    /// Ownership list cursor (row = page id).
    pub own_cursor: Cursor,
    /// The page whose byte map the ownership view shows.
    pub own_page: Option<PageView>,
    jobs: Option<Receiver<Loaded>>,
    validation_rx: Option<Receiver<ValidationMsg>>,
}

impl State {
    /// Opens `path` read-only on the real filesystem and starts the
    /// background loader.
    pub fn open(path: &Path, options: Options) -> std::io::Result<State> {
        State::open_with(Arc::new(FsStorage::new()), path, options)
    }

    /// Opens `path` read-only through `storage`.
    pub fn open_with(storage: Arc<dyn Storage>, path: &Path, options: Options) -> std::io::Result<State> {
        let dir = Arc::new(DataDir::open(storage, path)?);
        let label = options.label.unwrap_or_else(|| path.display().to_string());
        let pages = dir.shown_pages() as usize;
        let mut state = State {
            slot: dir.current_slot(),
            jobs: Some(jobs::spawn(Arc::clone(&dir))),
            dir,
            label,
            view: View::Overview,
            show_help: false,
            show_values: options.show_values,
            quit: false,
            size: (120, 40),
            status: None,
            input: None,
            classes: vec![PageClass::Unscanned; pages],
            class_errors: BTreeMap::new(),
            scanned: 0,
            ownership: Vec::new(),
            wal: None,
            vlog: None,
            loading: true,
            validation: Validation::Idle,
            map: MapState::default(),
            page: None,
            tree: TreeBrowser::default(),
            wal_cursor: Cursor::default(),
            vlog_ui: VlogUi::default(),
            own_cursor: Cursor::default(),
            own_page: None,
            validation_rx: None,
        };
        state.tree_reset();
        Ok(state)
    }

    /// Re-reads the directory (the refresh key): a new consistent snapshot
    /// of what is on disk now. The view and options are kept.
    pub fn refresh(&mut self) -> std::io::Result<()> {
        let options = Options { show_values: self.show_values, label: Some(self.label.clone()) };
        let mut fresh = State::open_with(Arc::clone(self.dir.storage()), &self.dir.path, options)?;
        fresh.view = if self.view == View::PageDetail && self.page.is_none() { View::Overview } else { self.view };
        fresh.size = self.size;
        fresh.status = Some(Status { error: false, text: "refreshed: a new snapshot of the directory".into() });
        let reopen = self.page.as_ref().map(|p| (p.page.id, p.back));
        *self = fresh;
        if let Some((id, back)) = reopen {
            self.open_page(id, back);
            self.view = View::PageDetail;
        }
        Ok(())
    }

    /// Applies whatever the background threads have sent, without
    /// blocking. Returns whether anything changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Some(rx) = &self.jobs {
            match rx.try_recv() {
                Ok(msg) => {
                    self.apply(msg);
                    changed = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.finish_loading();
                    changed = true;
                }
            }
        }
        while let Some(rx) = &self.validation_rx {
            match rx.try_recv() {
                Ok(msg) => {
                    self.apply_validation(msg);
                    changed = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.validation_disconnected();
                    changed = true;
                }
            }
        }
        changed
    }

    /// Blocks until the background loader and any running validation are
    /// done (tests, and anything that needs every figure).
    pub fn wait_idle(&mut self) {
        while let Some(rx) = &self.jobs {
            match rx.recv() {
                Ok(msg) => self.apply(msg),
                Err(_) => self.finish_loading(),
            }
        }
        while let Some(rx) = &self.validation_rx {
            match rx.recv() {
                Ok(msg) => self.apply_validation(msg),
                Err(_) => self.validation_disconnected(),
            }
        }
    }

    fn finish_loading(&mut self) {
        self.jobs = None;
        self.loading = false;
    }

    fn validation_disconnected(&mut self) {
        self.validation_rx = None;
        if matches!(self.validation, Validation::Running { .. }) {
            self.validation = Validation::Failed("the validation thread stopped".into());
        }
    }

    fn apply(&mut self, msg: Loaded) {
        match msg {
            Loaded::Ownership(own) => {
                self.ownership.push(*own);
                self.load_own_page();
            }
            Loaded::Wal(wal) => self.wal = Some(*wal),
            Loaded::Vlog(vlog) => self.vlog = Some(*vlog),
            Loaded::Pages { start, classes } => {
                for (i, (class, error)) in classes.into_iter().enumerate() {
                    let id = start + i as u64;
                    if let Some(slot) = self.classes.get_mut(id as usize) {
                        *slot = class;
                    }
                    if let Some(e) = error {
                        self.class_errors.insert(id, e);
                    }
                    self.scanned = self.scanned.max(id + 1);
                }
            }
            Loaded::Done => self.finish_loading(),
            Loaded::Failed(e) => {
                self.say(true, format!("background loading stopped: {e}"));
                self.finish_loading();
            }
        }
    }

    fn apply_validation(&mut self, msg: ValidationMsg) {
        match msg {
            ValidationMsg::Progress(p) => {
                self.validation = Validation::Running { done: p.done_bytes, total: p.total_bytes };
            }
            ValidationMsg::Done(Ok(summary)) => {
                let problems = summary.errors + summary.warnings > 0;
                let text = format!(
                    "validation finished: {} errors, {} warnings, {} info (overview, 1)",
                    summary.errors, summary.warnings, summary.infos
                );
                self.say(problems, text);
                self.validation = Validation::Done(summary);
                self.validation_rx = None;
            }
            ValidationMsg::Done(Err(e)) => {
                self.say(true, format!("validation could not run: {e}"));
                self.validation = Validation::Failed(e);
                self.validation_rx = None;
            }
        }
    }

    /// Starts the validation walker in the background (once at a time).
    pub fn start_validation(&mut self) {
        if self.validation_rx.is_some() {
            return;
        }
        self.validation = Validation::Running { done: 0, total: 1 };
        self.validation_rx = Some(validation::spawn(Arc::clone(&self.dir), self.label.clone()));
    }

    /// The ownership walk of the browsed slot, once loaded.
    #[must_use]
    pub fn ownership(&self) -> Option<&Ownership> {
        let slot = self.slot?;
        self.ownership.iter().find(|o| o.slot == slot)
    }

    /// Pages shown in the page map and ownership list.
    #[must_use]
    pub fn page_count(&self) -> u64 {
        self.classes.len() as u64
    }

    /// The class of `page`.
    #[must_use]
    pub fn class(&self, page: u64) -> PageClass {
        self.classes.get(page as usize).copied().unwrap_or(PageClass::Unscanned)
    }

    /// Counts of page classes scanned so far.
    #[must_use]
    pub fn class_counts(&self) -> Vec<(PageClass, u64)> {
        [
            PageClass::Superblock,
            PageClass::Branch,
            PageClass::Leaf,
            PageClass::Overflow,
            PageClass::FreeList,
            PageClass::Zeroed,
            PageClass::Corrupt,
        ]
        .iter()
        .map(|&c| (c, self.classes.iter().filter(|&&x| x == c).count() as u64))
        .collect()
    }

    /// Sets a status message.
    pub fn say(&mut self, error: bool, text: impl Into<String>) {
        self.status = Some(Status { error, text: text.into() });
    }
}
