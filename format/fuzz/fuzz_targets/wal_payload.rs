//! WAL payload FlatBuffers: verify, decode, and re-encode what decodes.
#![no_main]

use jubilant_format::wal::WalPayload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = WalPayload::decode(data, 0) {
        let again = WalPayload::decode(&payload.encode(), 0).expect("re-encoded payload decodes");
        assert_eq!(again, payload);
    }
});
