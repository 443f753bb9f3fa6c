//! Overview: manifest, files, page counts, both superblock slots, WAL and
//! value-log totals, and the validation summary.

use jubilant_engine::validate::Severity;
use jubilant_format::{SCHEMA_HASH, Slot, Superblock};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};

use super::field;
use super::style::{self, DIM, ERROR, OK, WARN};
use crate::app::State;
use crate::app::validation::Validation;
use crate::model::dir::SlotRole;
use crate::model::text;

pub(crate) fn render(state: &State, frame: &mut Frame, area: Rect) {
    let [left, right] = Layout::horizontal([Constraint::Length(58), Constraint::Min(0)]).areas(area);
    let [manifest_area, files_area, pages_area] =
        Layout::vertical([Constraint::Length(11), Constraint::Length(8), Constraint::Min(0)]).areas(left);
    let [sb_area, wal_area, vlog_area, validation_area] =
        Layout::vertical([Constraint::Length(15), Constraint::Length(7), Constraint::Length(5), Constraint::Min(0)])
            .areas(right);
    manifest(state, frame, manifest_area);
    files(state, frame, files_area);
    pages(state, frame, pages_area);
    superblocks(state, frame, sb_area);
    wal(state, frame, wal_area);
    vlog(state, frame, vlog_area);
    validation(state, frame, validation_area);
}

fn manifest(state: &State, frame: &mut Frame, area: Rect) {
    let m = &state.dir.manifest;
    let mut lines = Vec::new();
    const W: usize = 15;
    match (&m.decoded, &m.read_error) {
        (_, Some(e)) => lines.push(Line::styled(e.clone(), ERROR)),
        (None, None) => lines.push(Line::styled("MANIFEST missing", ERROR)),
        (Some(Err(e)), _) => {
            lines.push(Line::styled(format!("INVALID: {e}"), ERROR));
            lines.push(Line::styled(
                format!("page size unknown: pages read as {} bytes", state.dir.page_size.get()),
                WARN,
            ));
        }
        (Some(Ok(man)), _) => {
            let status = match &m.incompatible {
                None => Span::styled("valid, compatible with this build", OK),
                Some(e) => Span::styled(format!("INCOMPATIBLE: {e}"), ERROR),
            };
            lines.push(field("status", W, status));
            lines.push(field("format version", W, man.format_version.to_string()));
            let hash = if man.schema_hash == SCHEMA_HASH {
                Span::raw(format!("{:#018x} (this build's)", man.schema_hash))
            } else {
                Span::styled(format!("{:#018x} ≠ build {SCHEMA_HASH:#018x}", man.schema_hash), ERROR)
            };
            lines.push(field("schema hash", W, hash));
            lines.push(field("checksum", W, man.checksum_algorithm.clone()));
            lines.push(field("page size", W, format!("{} bytes", man.page_size.get())));
            lines.push(field("created by", W, man.created_by.clone()));
            lines.push(field("directory id", W, format!("{:#018x}", man.directory_id)));
            lines.push(field("created at", W, text::unix_ms(man.clock.wall_unix_nanos / 1_000_000)));
            lines.push(field("file hash", W, format!("{:#018x} (FNV-1a)", m.hash.unwrap_or(0))));
        }
    }
    let block = Block::bordered().title(" Manifest ");
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn files(state: &State, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for f in &state.dir.files {
        let name = if f.is_dir { format!("{}/", f.name) } else { f.name.clone() };
        let extra = match f.name.as_str() {
            "wal" => format!("  {} segments", state.dir.wal_segments.len()),
            "vlog" => format!("  {} segments", state.dir.vlog_segments.len()),
            "LOCK" => "  (not taken: read-only)".into(),
            _ => String::new(),
        };
        let line = match &f.error {
            Some(e) => Line::styled(format!("{name:<14} {e}"), ERROR),
            None => {
                Line::from(vec![Span::raw(format!("{name:<14} {:>10}", text::bytes(f.len))), Span::styled(extra, DIM)])
            }
        };
        lines.push(line);
    }
    for s in &state.dir.stray {
        lines.push(Line::styled(format!("{s}: not a segment name (ignored by the engine)"), WARN));
    }
    if state.dir.files.is_empty() {
        lines.push(Line::styled("the directory is empty", ERROR));
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Files ")), area);
}

fn pages(state: &State, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Pages ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let dir = &state.dir;
    let mut lines = Vec::new();
    match (dir.page_file_len, &dir.page_file_error) {
        (_, Some(e)) => lines.push(Line::styled(e.clone(), ERROR)),
        (Some(len), None) => {
            let partial = len % u64::from(dir.page_size.get());
            let mut l =
                format!("pages.jdb {} = {} pages of {} B", text::bytes(len), dir.file_pages(), dir.page_size.get());
            if partial != 0 {
                l.push_str(&format!(" + {partial} B"));
            }
            lines.push(Line::raw(l));
        }
        (None, None) => {}
    }
    if let Some(sb) = state.slot.and_then(|s| dir.superblock(s)) {
        let short = dir.file_pages() < sb.page_count;
        let text =
            format!("superblock page_count {}{}", sb.page_count, if short { ": MORE than the file holds" } else { "" });
        lines.push(Line::styled(text, if short { ERROR } else { Style::new() }));
    }
    for (class, count) in state.class_counts() {
        let style = if count > 0 { style::class(class) } else { DIM };
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", style::class_symbol(class)), style),
            Span::styled(format!("{:<11}{count:>9}", class.name()), if count > 0 { Style::new() } else { DIM }),
        ]));
    }
    let shown_errors = inner.height.saturating_sub(lines.len() as u16 + 1) as usize;
    for (page, e) in state.class_errors.iter().take(shown_errors) {
        lines.push(Line::styled(text::clip(&format!("page {page}: {e}"), inner.width as usize), ERROR));
    }
    let [text_area, gauge_area] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text_area);
    if state.loading {
        let total = state.page_count().max(1);
        let ratio = (state.scanned as f64 / total as f64).clamp(0.0, 1.0);
        let gauge =
            Gauge::default().ratio(ratio).label(format!("scanning {}/{}", state.scanned, total)).gauge_style(OK);
        frame.render_widget(gauge, gauge_area);
    }
}

fn superblocks(state: &State, frame: &mut Frame, area: Rect) {
    let dir = &state.dir;
    let sbs: Vec<Option<Superblock>> = [Slot::A, Slot::B].iter().map(|&s| dir.superblock(s)).collect();
    let get = |i: usize| sbs.get(i).copied().flatten();
    let row = |label: &str, f: &dyn Fn(&Superblock) -> String| {
        let cell = |i: usize| get(i).map_or_else(|| "—".to_owned(), |sb| f(&sb));
        let (a, b) = (cell(0), cell(1));
        let style = if get(0).is_some() && get(1).is_some() && a != b { style::DIFF } else { Style::new() };
        Line::from(vec![
            Span::styled(format!("{label:<16}"), DIM),
            Span::styled(format!("{a:<21}"), style),
            Span::styled(b, style),
        ])
    };
    let page = |p: Option<jubilant_format::PageId>| p.map_or_else(|| "none".to_owned(), |p| p.to_string());
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<16}", ""), DIM),
        Span::styled(format!("{:<21}", "slot A (page 0)"), style::HEADING),
        Span::styled("slot B (page 1)", style::HEADING),
    ])];
    lines.push(row("generation", &|sb| sb.generation.to_string()));
    lines.push(row("checkpoint LSN", &|sb| sb.checkpoint_lsn.to_string()));
    lines.push(row("root page", &|sb| page(sb.root_page)));
    lines.push(row("free-list head", &|sb| page(sb.free_list_head)));
    lines.push(row("page count", &|sb| sb.page_count.to_string()));
    lines.push(row("keys", &|sb| sb.key_count.to_string()));
    lines.push(row("next txn id", &|sb| sb.next_txn_id.to_string()));
    lines.push(row("vlog tail", &|sb| format!("{}@{}", sb.vlog_tail.segment, sb.vlog_tail.offset)));
    for slot in [Slot::A, Slot::B] {
        let (style, text) = match dir.slot_role(slot) {
            SlotRole::Current(why) => (OK, why),
            SlotRole::Older(why) => (Style::new(), why),
            SlotRole::Rejected(why) => (ERROR, format!("REJECTED: {why}")),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", slot.letter()), style::HEADING),
            Span::styled(text, style),
        ]));
    }
    let block = Block::bordered().title(" Superblocks (4 for detail, s switches the browsed slot) ");
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn wal(state: &State, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" WAL ");
    let lines = match &state.wal {
        None => vec![Line::styled("scanning…", DIM)],
        Some(w) => {
            let mut lines = vec![
                Line::raw(format!(
                    "{} seg · {} · {} records · {} txns · {} commits",
                    w.segments.len(),
                    text::bytes(w.bytes),
                    w.records,
                    w.transactions,
                    w.commits
                )),
                Line::raw(format!(
                    "last LSN {}   checkpoint LSN {}",
                    w.last_lsn.map_or_else(|| "—".into(), |l| l.to_string()),
                    state
                        .slot
                        .and_then(|s| state.dir.superblock(s))
                        .map_or_else(|| "—".into(), |sb| sb.checkpoint_lsn.to_string())
                )),
            ];
            match w.damages().next() {
                Some(d) => {
                    let name = w.segments.get(d.seg).map_or("?", |s| s.name.as_str());
                    let what = if d.torn { "TORN" } else { "CORRUPT" };
                    lines.push(Line::styled(
                        format!("{what} at wal/{name} @{} (LSN {} due)", d.offset, d.expected_lsn),
                        ERROR,
                    ));
                    lines.push(Line::styled(d.verdict.clone(), ERROR));
                }
                None => lines.push(Line::styled("no damage", OK)),
            }
            for e in &w.read_errors {
                lines.push(Line::styled(e.clone(), ERROR));
            }
            lines
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn vlog(state: &State, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Value log ");
    let lines = match &state.vlog {
        None => vec![Line::styled("scanning…", DIM)],
        Some(v) => {
            let live = super::vlog::live_bytes(state);
            let total: u64 = v.segments.iter().flat_map(|s| s.records()).map(|r| u64::from(r.length)).sum();
            let share = match live {
                Some(live) if total > 0 => format!(
                    "{} of {} live ({}{}%)",
                    text::bytes(live),
                    text::bytes(total),
                    if super::vlog::tree_damaged(state) { "≥" } else { "" },
                    live * 100 / total
                ),
                Some(_) => "no records".into(),
                None => "live share: walking the tree…".into(),
            };
            let damaged = v.segments.iter().filter(|s| s.damaged()).count();
            vec![
                Line::raw(format!(
                    "{} seg · {} · {} records · {share}",
                    v.segments.len(),
                    text::bytes(v.bytes()),
                    v.records()
                )),
                if damaged > 0 {
                    Line::styled(format!("{damaged} damaged segment(s): see view 7"), ERROR)
                } else {
                    Line::styled("no damage", OK)
                },
            ]
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn validation(state: &State, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Validation (v runs the offline walker) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match &state.validation {
        Validation::Idle => {
            let text = "not run yet: press v to run jubilant_engine::validate (what `jubectl validate` runs) in the background";
            frame.render_widget(Paragraph::new(text).style(DIM).wrap(Wrap { trim: false }), inner);
        }
        Validation::Running { done, total } => {
            let ratio = (*done as f64 / (*total).max(1) as f64).clamp(0.0, 1.0);
            let gauge =
                Gauge::default().ratio(ratio).label(format!("validating… {}", text::bytes(*done))).gauge_style(OK);
            frame.render_widget(gauge, Rect { height: 1, ..inner });
        }
        Validation::Failed(e) => {
            frame.render_widget(
                Paragraph::new(format!("could not validate: {e}")).style(ERROR).wrap(Wrap { trim: false }),
                inner,
            );
        }
        Validation::Done(summary) => {
            let clean = summary.errors + summary.warnings == 0;
            let mut lines = vec![Line::from(vec![
                Span::styled(if clean { "clean  " } else { "PROBLEMS  " }, if clean { OK } else { ERROR }),
                Span::styled(format!("{} errors", summary.errors), if summary.errors > 0 { ERROR } else { DIM }),
                Span::raw(", "),
                Span::styled(format!("{} warnings", summary.warnings), if summary.warnings > 0 { WARN } else { DIM }),
                Span::raw(format!(", {} info", summary.infos)),
            ])];
            for f in &summary.findings {
                let style = match f.severity {
                    Severity::Error => ERROR,
                    Severity::Warning => WARN,
                    Severity::Info => DIM,
                };
                let line = format!("{:<7} {} {}: {}", f.severity.name(), f.kind, f.place, f.message);
                lines.push(Line::styled(text::clip(&line, inner.width as usize), style));
            }
            frame.render_widget(Paragraph::new(lines), inner);
        }
    }
}
