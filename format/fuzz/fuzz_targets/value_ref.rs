//! Value references, and reading a record through one.
#![no_main]

use jubilant_format::ValueRef;
use jubilant_format::vlog::decode_referenced;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ValueRef::decode(data, 0) {
        let rest = data.get(24..).unwrap_or_default();
        let _ = decode_referenced(rest, &r);
    }
});
