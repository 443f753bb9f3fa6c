//! WAL and value-log segment headers.
#![no_main]

use jubilant_format::{SegmentHeader, SegmentKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [SegmentKind::Wal, SegmentKind::ValueLog] {
        if let Ok(header) = SegmentHeader::decode(data, kind) {
            assert_eq!(header.kind, kind);
        }
    }
});
