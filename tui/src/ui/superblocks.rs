//! Superblocks: slots A and B field by field, side by side, with the
//! fields that differ highlighted; and the trees they name, as walked.

use jubilant_format::Slot;
use jubilant_format::superblock::SUPERBLOCK_LEN;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR, OK};
use crate::app::State;
use crate::model::dir::SlotRole;
use crate::model::page::{FieldRow, superblock_page};

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let [table_area, bottom] = Layout::vertical([Constraint::Length(26), Constraint::Min(0)]).areas(body);
    let views: Vec<Vec<FieldRow>> = [Slot::A, Slot::B]
        .iter()
        .map(|&slot| match state.dir.slot(slot) {
            Some(info) => superblock_page(slot, info.bytes.clone(), &info.decoded).fields,
            None => Vec::new(),
        })
        .collect();
    let empty = Vec::new();
    let (a, b) = (views.first().unwrap_or(&empty), views.get(1).unwrap_or(&empty));
    let valid = |slot: Slot| state.dir.superblock(slot).is_some();
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:>4} {:<18}", "off", "field"), DIM),
        Span::styled(format!("{:<17}{:<22}", "A raw", "A value"), style::HEADING),
        Span::styled(format!("{:<17}{}", "B raw", "B value"), style::HEADING),
    ])];
    for (fa, fb) in a.iter().zip(b.iter()) {
        let differs = fa.raw != fb.raw;
        let name_style = if differs { style::DIFF } else { DIM };
        let cell = |f: &FieldRow, ok: bool| {
            let style = if f.bad || !ok && differs {
                ERROR
            } else if differs {
                style::DIFF
            } else {
                Style::new()
            };
            (
                Span::styled(format!("{:<17}", super::super::model::text::clip(&f.raw, 16)), style),
                f.value.clone(),
                style,
            )
        };
        let (raw_a, val_a, style_a) = cell(fa, valid(Slot::A));
        let (raw_b, val_b, style_b) = cell(fb, valid(Slot::B));
        lines.push(Line::from(vec![
            Span::styled(format!("{:>4} {:<18}", fa.offset, fa.name), name_style),
            raw_a,
            Span::styled(format!("{:<22}", super::super::model::text::clip(&val_a, 21)), style_a),
            raw_b,
            Span::styled(super::super::model::text::clip(&val_b, 21), style_b),
        ]));
    }
    let diffs = a.iter().zip(b.iter()).filter(|(x, y)| x.raw != y.raw).count();
    lines.push(Line::raw(""));
    for slot in [Slot::A, Slot::B] {
        let (style, text) = match state.dir.slot_role(slot) {
            SlotRole::Current(why) => (OK, why),
            SlotRole::Older(why) => (Style::new(), why),
            SlotRole::Rejected(why) => (ERROR, format!("REJECTED: {why}")),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("slot {}: ", slot.letter()), style::HEADING),
            Span::styled(text, style),
        ]));
    }
    let title = format!(" Superblocks: {SUPERBLOCK_LEN} bytes each, {diffs} fields differ (highlighted) ");
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)),
        table_area,
    );
    trees(state, frame, bottom);
}

fn trees(state: &State, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    let browsing = state
        .slot
        .map_or_else(|| "no valid slot to browse".to_owned(), |s| format!("browsing as of slot {}", s.letter()));
    lines.push(Line::from(vec![
        Span::styled(browsing, style::HEADING),
        Span::styled("  (s switches: every view then shows the directory as of the other slot)", DIM),
    ]));
    for slot in [Slot::A, Slot::B] {
        let Some(sb) = state.dir.superblock(slot) else { continue };
        let text = match state.ownership.iter().find(|o| o.slot == slot) {
            None => Line::styled(format!("slot {}: walking the tree…", slot.letter()), DIM),
            Some(own) => {
                let count = |o| own.counts().iter().find(|(x, _)| *x == o).map_or(0, |c| c.1);
                use crate::model::ownership::Owner;
                let summary = format!(
                    "slot {}: root {}, depth {}, {} keys (superblock says {}), {} branches, {} leaves, {} free, {} orphaned",
                    slot.letter(),
                    sb.root_page.map_or_else(|| "none".to_owned(), |p| p.to_string()),
                    own.depth,
                    own.keys,
                    sb.key_count,
                    count(Owner::Branch),
                    count(Owner::Leaf),
                    count(Owner::Free),
                    count(Owner::Orphan),
                );
                let bad = !own.problems.is_empty() || own.keys != sb.key_count;
                let mut spans = vec![Span::styled(summary, if bad { ERROR } else { Style::new() })];
                if let Some((page, p)) = own.problems.first() {
                    spans.push(Span::styled(format!("; page {page}: {p}"), ERROR));
                }
                Line::from(spans)
            }
        };
        lines.push(text);
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Trees ")),
        area,
    );
}
