//! Response frames as a client reads them.
#![no_main]

use jubilant_format::wire::{WireLimits, decode_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = WireLimits::default();
    if let Ok(response) = decode_response(data, &limits) {
        let again = decode_response(&response.encode(), &limits).expect("re-encoded response decodes");
        assert_eq!(again, response);
    }
});
