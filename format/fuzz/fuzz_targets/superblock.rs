//! Superblock decoding and A/B selection.
#![no_main]

use jubilant_format::superblock::{SUPERBLOCK_LEN, Slot, Superblock, select_superblock};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Superblock::decode(data, Slot::A, 0);
    let (a, b) = data.split_at(data.len().min(SUPERBLOCK_LEN));
    if let Ok(choice) = select_superblock(a, 0, b, 4096, 0) {
        assert_eq!(choice.superblock.slot(), choice.slot);
    }
});
