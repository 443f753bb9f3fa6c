//! Request frames as a server reads them: length prefix, then the body.
#![no_main]

use jubilant_format::wire::{WireLimits, decode_request, frame_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = WireLimits::default();
    if let Some((prefix, body)) = data.split_first_chunk::<4>() {
        if let Ok(len) = frame_len(*prefix, limits.max_frame) {
            let _ = decode_request(body.get(..len).unwrap_or(body), &limits);
        }
    }
    if let Ok(request) = decode_request(data, &limits) {
        let again = decode_request(&request.encode(), &limits).expect("re-encoded request decodes");
        assert_eq!(again, request);
    }
});
