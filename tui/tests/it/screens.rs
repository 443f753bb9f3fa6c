//! Every view on the healthy and the damaged directory at 120×40, pinned
//! with insta snapshots. The overview is pinned before validation runs
//! (the walker's findings belong to the engine's validator and are checked
//! by `validation_summary_*` below without pinning their wording).

use jubilant_tui::View;
use jubilant_tui::app::validation::Validation;

use crate::fixtures;
use crate::support::{dirs, keys, open, screen};

/// Opens `dir` and drives it to `view` the way a user would.
fn prepared(dir: &std::path::Path, label: &str, view: View) -> jubilant_tui::State {
    let mut state = open(dir, label);
    let leaf = fixtures::damaged_leaf(&dirs().healthy);
    let script = match view {
        View::Overview => String::new(),
        View::PageMap => format!("2/{leaf}{{Enter}}"),
        View::PageDetail => format!("2/{leaf}{{Enter}}{{Enter}}{{Down}}{{Down}}"),
        View::Superblocks => "4".into(),
        View::Tree => "5/key-0150{Enter}".into(),
        View::Wal => "6t{End}".into(),
        View::Vlog => "7{Enter}".into(),
        View::Ownership => format!("8/{leaf}{{Enter}}"),
    };
    keys(&mut state, &script);
    assert_eq!(state.view, view, "script {script:?}");
    state
}

fn name(view: View) -> String {
    view.title().to_lowercase().replace(' ', "_")
}

#[test]
fn every_view_of_the_healthy_directory() {
    for view in View::ALL {
        let mut state = prepared(&dirs().healthy, "healthy", view);
        insta::assert_snapshot!(format!("healthy_{}", name(view)), screen(&mut state));
    }
}

#[test]
fn every_view_of_the_damaged_directory() {
    for view in View::ALL {
        let mut state = prepared(&dirs().damaged, "damaged", view);
        insta::assert_snapshot!(format!("damaged_{}", name(view)), screen(&mut state));
    }
}

#[test]
fn help_overlay() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "?");
    assert!(state.show_help);
    insta::assert_snapshot!("healthy_help", screen(&mut state));
    keys(&mut state, "{Esc}");
    assert!(!state.show_help);
}

#[test]
fn validation_summary_of_the_healthy_directory_is_clean() {
    let mut state = open(&dirs().healthy, "healthy");
    keys(&mut state, "v");
    let Validation::Done(summary) = &state.validation else { panic!("{:?}", state.validation) };
    assert_eq!((summary.errors, summary.warnings), (0, 0), "{:#?}", summary.findings);
    let text = screen(&mut state);
    assert!(text.contains("clean"), "{text}");
    assert!(!text.contains("--- red ---"), "{text}");
}

#[test]
fn validation_summary_of_the_damaged_directory_lists_errors_in_red() {
    let mut state = open(&dirs().damaged, "damaged");
    keys(&mut state, "v");
    let Validation::Done(summary) = &state.validation else { panic!("{:?}", state.validation) };
    assert!(summary.errors > 0, "{summary:#?}");
    let text = screen(&mut state);
    assert!(text.contains("PROBLEMS"), "{text}");
    let red = text.split("--- red ---").nth(1).unwrap_or_default();
    assert!(red.contains("error"), "{text}");
}
