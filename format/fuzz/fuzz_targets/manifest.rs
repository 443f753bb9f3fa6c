//! The MANIFEST file.
#![no_main]

use jubilant_format::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Re-encoding may grow a body whose strings were shared, so only check
    // the round trip well below the 64 KiB body limit.
    if let (Ok(m), true) = (Manifest::decode_structure(data), data.len() < 16 << 10) {
        let again = Manifest::decode_structure(&m.encode()).expect("re-encoded manifest decodes");
        assert_eq!(again, m);
    }
    let _ = Manifest::decode(data);
});
