//! Values in dumps are redacted by default: their length and FNV-1a 64
//! hash are shown, so two dumps can still be compared, but no data leaves
//! the machine in a pasted dump. `--show-values` shows them.

use jubilant_format::hash::fnv1a64;
use jubilant_format::view::display_bytes;
use serde_json::{Value, json};

/// Whether values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values {
    show: bool,
}

impl Values {
    /// `show`: print values as they are.
    #[must_use]
    pub fn new(show: bool) -> Values {
        Values { show }
    }

    /// The JSON form: the value as text (`hex:…` when binary), or
    /// `{"len", "fnv1a64"}` when redacted.
    #[must_use]
    pub fn json(self, value: &[u8]) -> Value {
        if self.show {
            Value::String(display_bytes(value))
        } else {
            json!({ "len": value.len(), "fnv1a64": format!("{:#018x}", fnv1a64(value)) })
        }
    }

    /// The text form.
    #[must_use]
    pub fn text(self, value: &[u8]) -> String {
        if self.show {
            display_bytes(value)
        } else {
            format!("<{} bytes, fnv1a64 {:#018x}>", value.len(), fnv1a64(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_by_default_shown_on_request() {
        assert_eq!(Values::new(false).text(b"secret"), format!("<6 bytes, fnv1a64 {:#018x}>", fnv1a64(b"secret")));
        assert_eq!(Values::new(false).json(b"secret")["len"], 6);
        assert_eq!(Values::new(true).text(b"secret"), "secret");
        assert_eq!(Values::new(true).json(&[0, 1]), Value::String("hex:0001".into()));
    }
}
