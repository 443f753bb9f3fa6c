//! WAL timeline: records by LSN, grouped by transaction (┌ begin, │ its
//! records, └ commit or abort), checkpoint LSNs marked, damage in red
//! where it starts and why.

use jubilant_format::wal::{PutValue, TxnWrite, WalPayload};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR};
use crate::app::State;
use crate::model::text;
use crate::model::wal::{WalModel, WalRecordView, WalRow};

const DETAIL_HEIGHT: u16 = 7;

fn split(body: Rect) -> (Rect, Rect) {
    let [list, detail] = Layout::vertical([Constraint::Min(0), Constraint::Length(DETAIL_HEIGHT)]).areas(body);
    (list, detail)
}

pub(crate) fn list_rows(body: Rect) -> usize {
    (split(body).0.height as usize).saturating_sub(3).max(1)
}

fn glyph(p: &WalPayload) -> char {
    match p {
        WalPayload::Begin { .. } => '┌',
        WalPayload::Commit { .. } | WalPayload::Abort { .. } => '└',
        WalPayload::Txn { .. } => '■',
        WalPayload::Checkpoint { .. } => '◆',
        _ => '│',
    }
}

fn value_text(state: &State, p: &WalPayload) -> String {
    match p {
        WalPayload::Put { value: PutValue::Inline(v), .. } if state.show_values => text::value(v, 24),
        WalPayload::Put { value: PutValue::Inline(v), .. } => text::redacted(v),
        WalPayload::Put { value: PutValue::Ref(r), .. } => format!("→ vlog {}@{}", r.segment, r.offset),
        WalPayload::Commit { durable_lsn, .. } => format!("durable_lsn {durable_lsn}"),
        WalPayload::Txn { writes, durable_lsn, .. } => format!("{} write(s), durable_lsn {durable_lsn}", writes.len()),
        WalPayload::Checkpoint { checkpoint_lsn, generation } => format!("LSN {checkpoint_lsn}, gen {generation}"),
        WalPayload::TtlTombstone { expired_at_unix_ms, .. } => {
            format!("expired {}", text::unix_ms(*expired_at_unix_ms))
        }
        _ => String::new(),
    }
}

fn record_line(state: &State, wal: &WalModel, r: &WalRecordView, checkpoint: u64) -> Line<'static> {
    let seg = wal.segments.get(r.seg).and_then(|s| s.header.as_ref().ok()).map_or(0, |h| h.segment.get());
    let place = format!("{seg}:{}", r.offset);
    match &r.payload {
        Ok(p) => {
            let txn = p.txn().map_or_else(String::new, |t| t.to_string());
            let key = match p {
                // A whole transaction: its first key, and how many more.
                WalPayload::Txn { writes, .. } => match writes.split_first() {
                    Some((first, [])) => text::key(first.key(), 28),
                    Some((first, rest)) => format!("{} +{}", text::key(first.key(), 22), rest.len()),
                    None => String::new(),
                },
                other => other.key().map_or_else(String::new, |k| text::key(k, 28)),
            };
            let text = format!(
                "{} {:>7} {place:<12} {txn:>6} {:<13} {key:<28} {:>6} {}",
                glyph(p),
                r.lsn.get(),
                p.kind().name(),
                format!("{} B", r.size),
                value_text(state, p)
            );
            Line::styled(text, if r.lsn.get() <= checkpoint { DIM } else { Style::new() })
        }
        Err(e) => Line::styled(format!("✗ {:>7} {place:<12} payload: {e}", r.lsn.get()), ERROR),
    }
}

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let (list, detail) = split(body);
    let Some(wal) = &state.wal else {
        frame.render_widget(
            Paragraph::new("scanning the WAL…").style(DIM).block(Block::bordered().title(" WAL ")),
            list,
        );
        return;
    };
    let checkpoint = state.slot.and_then(|s| state.dir.superblock(s)).map_or(0, |sb| sb.checkpoint_lsn.get());
    let block = Block::bordered().title(format!(
        " WAL: {} records in {} segments · t jumps to damage · dim = in the tree as of slot {} ",
        wal.records,
        wal.segments.len(),
        state.slot.map_or('-', |s| s.letter())
    ));
    let inner = block.inner(list);
    frame.render_widget(block, list);
    let [head, rows_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let head_text = format!(
        "  {:>7} {:<12} {:>6} {:<13} {:<28} {:>6} {}",
        "LSN", "seg:offset", "txn", "type", "key", "size", "value"
    );
    frame.render_widget(Paragraph::new(head_text).style(DIM), head);
    let rows = rows_area.height as usize;
    let width = rows_area.width as usize;
    let start = state.wal_cursor.start(rows);
    let mut lines = Vec::with_capacity(rows);
    for (i, row) in wal.rows.iter().enumerate().skip(start).take(rows) {
        let mut line = match row {
            WalRow::Segment(s) => match wal.segments.get(*s) {
                Some(seg) => match &seg.header {
                    Ok(h) => Line::styled(
                        format!("── {} · {} · first LSN {} ──", seg.name, text::bytes(seg.len), h.first_lsn),
                        style::HEADING,
                    ),
                    Err(e) => Line::styled(format!("── {}: {e}", seg.name), ERROR),
                },
                None => Line::raw(""),
            },
            WalRow::Checkpoint { slot, lsn, current } => Line::styled(
                format!(
                    "◆ checkpoint LSN {lsn} of slot {} ({}): every record up to here is in its tree",
                    slot.letter(),
                    if *current { "current" } else { "older" }
                ),
                style::MARK,
            ),
            WalRow::Record(r) => record_line(state, wal, r, checkpoint),
            WalRow::Damage(d) => {
                let name = wal.segments.get(d.seg).map_or("?", |s| s.name.as_str());
                let what = if d.torn { "TORN" } else { "CORRUPT" };
                Line::styled(
                    format!("✗ {what} at {name} offset {} (LSN {} due): {}", d.offset, d.expected_lsn, d.error),
                    ERROR,
                )
            }
            WalRow::End(t) => Line::styled(format!("  {t}"), DIM),
        };
        if let Some(first) = line.spans.first_mut() {
            first.content = text::clip(&first.content, width).into();
        }
        if i == state.wal_cursor.selected {
            line = line.patch_style(style::ACTIVE);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), rows_area);
    detail_panel(state, wal, frame, detail);
}

fn detail_panel(state: &State, wal: &WalModel, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    match wal.rows.get(state.wal_cursor.selected) {
        Some(WalRow::Record(r)) => match &r.payload {
            Ok(p) => {
                lines.push(Line::raw(format!(
                    "LSN {} at offset {}, {} B: {}",
                    r.lsn,
                    r.offset,
                    r.size,
                    p.kind().name()
                )));
                if let Some(t) = p.txn() {
                    lines.push(Line::raw(format!("transaction {t}")));
                }
                if let Some(k) = p.key() {
                    lines.push(Line::raw(format!("key {}", text::key(k, 200))));
                }
                match p {
                    WalPayload::Put { value: PutValue::Inline(v), expires_at_unix_ms, .. } => {
                        let shown = if state.show_values { text::value(v, 300) } else { text::redacted(v) };
                        lines.push(Line::raw(format!("value {shown}")));
                        if let Some(t) = expires_at_unix_ms {
                            lines.push(Line::raw(format!("expires {}", text::unix_ms(*t))));
                        }
                    }
                    WalPayload::Put { value: PutValue::Ref(r), .. } => lines.push(Line::raw(format!(
                        "value in the value log: segment {} offset {} length {} crc {:#010x}",
                        r.segment, r.offset, r.length, r.crc
                    ))),
                    WalPayload::Commit { commit_unix_ms, durable_lsn, .. } => lines.push(Line::raw(format!(
                        "committed {}; every record up to LSN {durable_lsn} was durable when it was logged",
                        text::unix_ms(*commit_unix_ms)
                    ))),
                    WalPayload::Txn { commit_unix_ms, durable_lsn, writes, .. } => {
                        lines.push(Line::raw(format!(
                            "whole transaction, committed {}; every record up to LSN {durable_lsn} was durable when \
                             it was logged",
                            text::unix_ms(*commit_unix_ms)
                        )));
                        for w in writes {
                            lines.push(Line::raw(match w {
                                TxnWrite::Put { key, value: PutValue::Inline(v), .. } => {
                                    let shown = if state.show_values { text::value(v, 60) } else { text::redacted(v) };
                                    format!("  put {} = {shown}", text::key(key, 60))
                                }
                                TxnWrite::Put { key, value: PutValue::Ref(r), .. } => format!(
                                    "  put {} → vlog segment {} offset {}",
                                    text::key(key, 60),
                                    r.segment,
                                    r.offset
                                ),
                                TxnWrite::Delete { key } => format!("  delete {}", text::key(key, 60)),
                                TxnWrite::TtlTombstone { key, expired_at_unix_ms } => format!(
                                    "  ttl_tombstone {} expired {}",
                                    text::key(key, 60),
                                    text::unix_ms(*expired_at_unix_ms)
                                ),
                            }));
                        }
                    }
                    _ => {}
                }
            }
            Err(e) => lines
                .push(Line::styled(format!("LSN {}: the envelope is valid but the payload is not: {e}", r.lsn), ERROR)),
        },
        Some(WalRow::Damage(d)) => {
            lines.push(Line::styled(format!("offset {}: {}", d.offset, d.error), ERROR));
            lines.push(Line::styled(d.verdict.clone(), ERROR));
        }
        Some(WalRow::Checkpoint { lsn, .. }) => {
            lines.push(Line::raw(format!("records up to LSN {lsn} are in that slot's tree; replay starts after it")));
        }
        Some(WalRow::Segment(s)) => {
            if let Some(seg) = wal.segments.get(*s) {
                match &seg.header {
                    Ok(h) => lines.push(Line::raw(format!(
                        "{}: segment {}, first LSN {}, directory id {:#018x}, {}",
                        seg.name,
                        h.segment,
                        h.first_lsn,
                        h.directory_id,
                        text::bytes(seg.len)
                    ))),
                    Err(e) => lines.push(Line::styled(format!("{}: {e}", seg.name), ERROR)),
                }
            }
        }
        Some(WalRow::End(t)) => lines.push(Line::raw(t.clone())),
        None => lines.push(Line::styled("no WAL segments", DIM)),
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Selected ")),
        area,
    );
}
