//! A cursor over a virtualised list: the selected row and the first row
//! shown. Only the rows on screen are ever rendered.

/// A list cursor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The selected row.
    pub selected: usize,
    /// The first row on screen.
    pub offset: usize,
}

impl Cursor {
    /// Moves the selection by `delta` rows within `len` rows, keeping it on
    /// a screen of `rows` rows.
    pub fn move_by(&mut self, delta: isize, len: usize, rows: usize) {
        let target = if delta < 0 {
            self.selected.saturating_sub(delta.unsigned_abs())
        } else {
            self.selected.saturating_add(delta.unsigned_abs())
        };
        self.select(target, len, rows);
    }

    /// Selects row `row` (clamped to `len`), scrolling as little as needed.
    pub fn select(&mut self, row: usize, len: usize, rows: usize) {
        self.selected = row.min(len.saturating_sub(1));
        self.offset = window_start(self.offset, self.selected, rows);
    }

    /// Selects the first row.
    pub fn home(&mut self) {
        *self = Cursor::default();
    }

    /// Selects the last row.
    pub fn end(&mut self, len: usize, rows: usize) {
        self.select(len.saturating_sub(1), len, rows);
    }

    /// The first row to draw on a screen of `rows` rows (the selection is
    /// always on it, even if the screen shrank since the last move).
    #[must_use]
    pub fn start(&self, rows: usize) -> usize {
        window_start(self.offset, self.selected, rows)
    }
}

/// The first row of a window of `rows` rows that starts as near `offset`
/// as possible and shows `selected`.
#[must_use]
pub fn window_start(offset: usize, selected: usize, rows: usize) -> usize {
    let rows = rows.max(1);
    if selected < offset {
        selected
    } else if selected >= offset + rows {
        selected + 1 - rows
    } else {
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_stays_on_screen() {
        let mut c = Cursor::default();
        c.move_by(15, 100, 10);
        assert_eq!((c.selected, c.offset), (15, 6));
        c.move_by(-3, 100, 10);
        assert_eq!((c.selected, c.offset), (12, 6));
        c.move_by(-10, 100, 10);
        assert_eq!((c.selected, c.offset), (2, 2));
        c.end(100, 10);
        assert_eq!((c.selected, c.offset), (99, 90));
        c.move_by(5, 100, 10);
        assert_eq!(c.selected, 99);
        assert_eq!(c.start(4), 96);
    }
}
