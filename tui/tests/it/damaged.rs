//! Every kind of damage, every view, several terminal sizes: nothing
//! panics, and the damage shows in red somewhere.

use jubilant_tui::View;

use crate::fixtures::{self, Damage};
use crate::support::{digit, draw, keys, open, red_runs, scratch_copy};

/// Keys tried in every view.
const POKES: &str = "{Enter}{Down}{End}{PgUp}{Home}t{Tab}{Enter}{Esc}o{Right}n";

#[test]
fn every_view_renders_on_every_damaged_directory() {
    for kind in Damage::ALL {
        let (_root, dir) = scratch_copy();
        fixtures::damage(&dir, kind);
        let mut state = open(&dir, "damaged");
        let mut red = 0;
        for view in View::ALL {
            keys(&mut state, &digit(view).to_string());
            for (w, h) in [(120, 40), (80, 24), (200, 60), (30, 8), (1, 1)] {
                let buffer = draw(&mut state, w, h);
                if (w, h) == (120, 40) {
                    red += red_runs(&buffer).len();
                }
            }
            keys(&mut state, &format!("{}{POKES}", digit(view)));
            keys(&mut state, "/1{Enter}");
            draw(&mut state, 120, 40);
        }
        keys(&mut state, "v?");
        draw(&mut state, 120, 40);
        keys(&mut state, "{Esc}s1");
        let buffer = draw(&mut state, 120, 40);
        red += red_runs(&buffer).len();
        assert!(red > 0, "{kind:?}: no view shows the damage in red");
    }
}

#[test]
fn a_directory_that_does_not_exist_is_an_error_not_a_panic() {
    let missing = std::env::temp_dir().join("jubilant-tui-no-such-directory");
    assert!(jubilant_tui::State::open(&missing, jubilant_tui::Options::default()).is_err());
}
