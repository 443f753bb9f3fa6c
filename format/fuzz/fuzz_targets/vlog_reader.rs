//! The value-log reader over a whole segment body, with damage
//! classification.
#![no_main]

use jubilant_format::vlog::{VlogReader, VlogStep, classify_vlog_damage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = VlogReader::new(data, 40);
    for _ in 0..=data.len() {
        match reader.next_step() {
            Ok(VlogStep::Record(_)) => {}
            Ok(VlogStep::End(_)) => return,
            Err(_) => {
                let _ = classify_vlog_damage(data, 40, (reader.offset() - 40) as usize);
                return;
            }
        }
    }
    panic!("value-log reader made no progress");
});
