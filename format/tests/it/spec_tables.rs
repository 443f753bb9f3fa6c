//! docs/TECH_SPECIFICATION.md and the code agree on every byte offset.
//!
//! Each fixed structure's table in the document is preceded by a marker
//! line `<!-- layout: NAME -->`; its rows must list exactly the fields of
//! `jubilant_format::layout::ALL[NAME]`, with the same offsets, sizes and
//! types.

use jubilant_format::layout::{ALL, Layout};

const SPEC: &str = include_str!("../../../docs/TECH_SPECIFICATION.md");

/// The rows (field, offset, size, type) of the table after the marker.
fn table_after(marker: &str) -> Vec<(String, usize, usize, String)> {
    let start = SPEC.find(marker).unwrap_or_else(|| panic!("docs/TECH_SPECIFICATION.md lacks `{marker}`"));
    SPEC[start + marker.len()..]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .skip(2) // header and separator
        .map(|row| {
            let cells: Vec<&str> = row.trim().trim_matches('|').split('|').map(str::trim).collect();
            assert!(cells.len() >= 4, "{marker}: short row {row:?}");
            let parse = |s: &str| s.parse::<usize>().unwrap_or_else(|_| panic!("{marker}: {s:?} in {row:?}"));
            (
                cells[0].trim_matches('`').to_owned(),
                parse(cells[1]),
                parse(cells[2]),
                cells[3].trim_matches('`').to_owned(),
            )
        })
        .collect()
}

fn expected(layout: &Layout) -> Vec<(String, usize, usize, String)> {
    layout.fields.iter().map(|f| (f.name.to_owned(), f.offset, f.size, f.ty.to_owned())).collect()
}

#[test]
fn every_layout_table_in_the_spec_matches_the_code() {
    for layout in ALL {
        let marker = format!("<!-- layout: {} -->", layout.name);
        assert_eq!(table_after(&marker), expected(layout), "table of {}", layout.name);
    }
}

#[test]
fn the_spec_names_no_layout_the_code_lacks() {
    let names: Vec<&str> = ALL.iter().map(|l| l.name).collect();
    for line in SPEC.lines().filter(|l| l.contains("<!-- layout:")) {
        let name = line.split("<!-- layout:").nth(1).unwrap().trim().trim_end_matches("-->").trim();
        assert!(names.contains(&name), "the spec documents `{name}`, which the code does not define");
    }
}
