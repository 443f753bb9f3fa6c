//! The WAL reader over a whole segment body, with damage classification.
#![no_main]

use jubilant_format::Lsn;
use jubilant_format::wal::{WalPayload, WalReader, WalStep, classify_wal_damage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = WalReader::new(data, 40, None);
    let mut records = 0usize;
    loop {
        match reader.next_step() {
            Ok(WalStep::Record(r)) => {
                let _ = WalPayload::decode(r.payload, r.offset);
                records += 1;
                assert!(records <= data.len(), "reader made no progress");
            }
            Ok(WalStep::End(_)) => break,
            Err(_) => {
                let pos = (reader.offset() - 40) as usize;
                let _ = classify_wal_damage(data, 40, pos, reader.next_lsn().unwrap_or(Lsn(1)));
                break;
            }
        }
    }
});
