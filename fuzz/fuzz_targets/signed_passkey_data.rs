//! The signedPasskeyData JWT, decoded before Corbado verifies it.
#![no_main]

use connect_backend::signed_data::SignedPasskeyData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(parsed) = SignedPasskeyData::parse(text.to_owned()) {
            assert!(!parsed.claims().webauthn_id.is_empty());
        }
    }
});
