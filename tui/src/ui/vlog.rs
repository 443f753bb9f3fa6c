//! Value log: segments with live/dead bars, the selected segment's
//! records with their keys, and the last reference followed from a leaf.

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR, OK, WARN};
use crate::app::State;
use crate::model::text;
use crate::model::vlog::VlogRow;
use crate::model::wal::WalRow;

const BAR_WIDTH: usize = 20;

/// Record positions `(segment, offset)` something still refers to: the
/// browsed slot's leaves, and WAL `Put`s after its checkpoint. `None`
/// until the tree walk is done.
pub(crate) fn live_set(state: &State) -> Option<HashSet<(u64, u64)>> {
    let own = state.ownership()?;
    let mut live: HashSet<(u64, u64)> =
        own.refs.iter().map(|r| (r.value_ref.segment.get(), r.value_ref.offset)).collect();
    let checkpoint = state.slot.and_then(|s| state.dir.superblock(s)).map_or(0, |sb| sb.checkpoint_lsn.get());
    if let Some(wal) = &state.wal {
        for row in &wal.rows {
            if let WalRow::Record(r) = row
                && r.lsn.get() > checkpoint
                && let Ok(p) = &r.payload
            {
                p.for_each_value_ref(|_, v| {
                    live.insert((v.segment.get(), v.offset));
                });
            }
        }
    }
    Some(live)
}

/// Whether the browsed tree has unreadable pages: references in them are
/// unknown, so "dead" records may be live.
pub(crate) fn tree_damaged(state: &State) -> bool {
    state.ownership().is_some_and(|o| o.owners.contains(&crate::model::ownership::Owner::TreeDamaged))
}

/// Bytes of live records in the whole value log.
pub(crate) fn live_bytes(state: &State) -> Option<u64> {
    let live = live_set(state)?;
    let vlog = state.vlog.as_ref()?;
    Some(
        vlog.segments
            .iter()
            .flat_map(|s| s.records().map(move |r| (s.id.get(), r)))
            .filter(|(seg, r)| live.contains(&(*seg, r.offset)))
            .map(|(_, r)| u64::from(r.length))
            .sum(),
    )
}

fn split(state: &State, body: Rect) -> (Rect, Rect, Rect) {
    let segments = state.vlog.as_ref().map_or(1, |v| v.segments.len()) as u16;
    let followed = if state.vlog_ui.followed.is_some() { 6 } else { 0 };
    let [segs, records, follow] = Layout::vertical([
        Constraint::Length(segments.clamp(1, 6) + 3),
        Constraint::Min(0),
        Constraint::Length(followed),
    ])
    .areas(body);
    (segs, records, follow)
}

pub(crate) fn record_rows(state: &State, body: Rect) -> usize {
    (split(state, body).1.height as usize).saturating_sub(3).max(1)
}

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let (segs_area, records_area, follow_area) = split(state, body);
    let Some(vlog) = &state.vlog else {
        frame.render_widget(Paragraph::new("scanning the value log…").style(DIM).block(Block::bordered()), segs_area);
        return;
    };
    let live = live_set(state);
    let uncertain = tree_damaged(state);
    // Segments.
    let block = Block::bordered().title(format!(
        " Value-log segments ({}){}{} ",
        vlog.segments.len(),
        if uncertain { " · the tree is damaged: live shares are lower bounds" } else { "" },
        if state.vlog_ui.focus_records { "" } else { " ◀" }
    ));
    let inner = block.inner(segs_area);
    frame.render_widget(block, segs_area);
    let mut lines = vec![Line::styled(
        format!("{:<26}{:>10} {:>8}  {:<BAR_WIDTH$}  live", "segment", "size", "records", "live ▮ / dead ▯"),
        DIM,
    )];
    let rows = inner.height.saturating_sub(1) as usize;
    let start = state.vlog_ui.segments.start(rows);
    for (i, seg) in vlog.segments.iter().enumerate().skip(start).take(rows) {
        let total: u64 = seg.records().map(|r| u64::from(r.length)).sum();
        let live_bytes = live.as_ref().map(|l| {
            seg.records().filter(|r| l.contains(&(seg.id.get(), r.offset))).map(|r| u64::from(r.length)).sum::<u64>()
        });
        let (bar, share) = match live_bytes {
            Some(lb) if total > 0 => {
                let filled = (lb * BAR_WIDTH as u64 / total) as usize;
                ("▮".repeat(filled) + &"▯".repeat(BAR_WIDTH - filled), format!("{}%", lb * 100 / total))
            }
            Some(_) => ("▯".repeat(BAR_WIDTH), "—".into()),
            None => (" ".repeat(BAR_WIDTH), "…".into()),
        };
        let mut spans =
            vec![Span::raw(format!("{:<26}{:>10} {:>8}  ", seg.name, text::bytes(seg.len), seg.records().count()))];
        spans.push(Span::styled(bar, OK));
        spans.push(Span::raw(format!("  {share}")));
        match &seg.header {
            Err(e) => spans.push(Span::styled(format!("  {e}"), ERROR)),
            Ok(_) if seg.damaged() => spans.push(Span::styled("  damaged", ERROR)),
            Ok(_) => {}
        }
        let mut line = Line::from(spans);
        if i == state.vlog_ui.segments.selected && !state.vlog_ui.focus_records {
            line = line.patch_style(style::ACTIVE);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);

    // Records of the selected segment.
    let seg = vlog.segments.get(state.vlog_ui.segments.selected);
    let title = match seg {
        Some(s) => format!(" Records of {}{} ", s.name, if state.vlog_ui.focus_records { " ◀" } else { " (Enter)" }),
        None => " Records ".into(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(records_area);
    frame.render_widget(block, records_area);
    let [head, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(
        Paragraph::new(format!(
            "{:>10} {:>8} {:>7} {:<30} {:<5} {}",
            "offset", "length", "LSN", "key", "state", "value"
        ))
        .style(DIM),
        head,
    );
    let rows = list.height as usize;
    let width = list.width as usize;
    let mut lines = Vec::with_capacity(rows);
    if let Some(seg) = seg {
        let start = state.vlog_ui.records.start(rows);
        for (i, row) in seg.rows.iter().enumerate().skip(start).take(rows) {
            let mut line = match row {
                VlogRow::Record(r) => {
                    let is_live = live.as_ref().map(|l| l.contains(&(seg.id.get(), r.offset)));
                    let (state_text, state_style) = match is_live {
                        Some(true) => ("live", OK),
                        Some(false) if uncertain => ("dead?", WARN),
                        Some(false) => ("dead", DIM),
                        None => ("…", DIM),
                    };
                    let value = if state.show_values { text::value(&r.preview, 30) } else { r.redacted() };
                    Line::from(vec![
                        Span::raw(format!(
                            "{:>10} {:>8} {:>7} {:<30} ",
                            r.offset,
                            r.length,
                            r.lsn.get(),
                            text::key(&r.key, 30)
                        )),
                        Span::styled(format!("{state_text:<5} "), state_style),
                        Span::raw(text::clip(&value, width.saturating_sub(66))),
                    ])
                }
                VlogRow::Damage { offset, error, .. } => {
                    Line::styled(text::clip(&format!("✗ {offset:>8}  {error}"), width), ERROR)
                }
                VlogRow::End(t) => Line::styled(format!("  {t}"), DIM),
            };
            if i == state.vlog_ui.records.selected && state.vlog_ui.focus_records {
                line = line.patch_style(style::ACTIVE);
            }
            lines.push(line);
        }
        if let Some(VlogRow::Damage { verdict, .. }) = seg.rows.get(state.vlog_ui.records.selected)
            && lines.len() < rows
        {
            lines.push(Line::styled(text::clip(verdict, width), ERROR));
        }
    }
    frame.render_widget(Paragraph::new(lines), list);
    followed(state, frame, follow_area);
}

fn followed(state: &State, frame: &mut Frame, area: Rect) {
    let Some(f) = &state.vlog_ui.followed else { return };
    let r = f.value_ref;
    let mut lines = vec![Line::raw(format!(
        "leaf key {} → segment {} offset {} length {} crc {:#010x}",
        text::key(&f.key, 40),
        r.segment,
        r.offset,
        r.length,
        r.crc
    ))];
    match &f.result {
        Ok(rec) => {
            let value = if state.show_values { text::value(&rec.preview, 60) } else { rec.redacted() };
            lines.push(Line::styled(
                format!(
                    "✓ record matches the reference: LSN {}, key {}, value {value}",
                    rec.lsn,
                    text::key(&rec.key, 40)
                ),
                OK,
            ));
        }
        Err(e) => lines.push(Line::styled(format!("✗ {e}"), ERROR)),
    }
    lines.push(Line::styled("Esc returns to where the reference was followed from", DIM));
    let style = if f.result.is_ok() { Style::new() } else { WARN };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Followed reference ").border_style(style)),
        area,
    );
}
