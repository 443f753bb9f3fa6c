//! Page decoding: arbitrary bytes, padded or cut to a 4 KiB page.
#![no_main]

use jubilant_format::{PageHeader, PageId, PageSize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PageHeader::open(data, PageId(2), PageSize::DEFAULT);
    let mut page = data.to_vec();
    page.resize(PageSize::DEFAULT.bytes(), 0);
    if let Ok(header) = PageHeader::open(&page, PageId(2), PageSize::DEFAULT) {
        assert!(header.payload(&page).len() <= PageSize::DEFAULT.payload_max());
    }
});
