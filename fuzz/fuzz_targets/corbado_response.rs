//! Answers from Corbado's Backend API: success bodies and errorRsp.
#![no_main]

use connect_backend::upstream::corbado::{decode_connect_token, decode_verification, ErrorDetails};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_connect_token(data);
    let _ = decode_verification(data);
    let details = ErrorDetails::parse(data);
    for text in [details.request_id, details.error_type].into_iter().flatten() {
        assert!(text.chars().count() <= 100 && !text.chars().any(char::is_control));
    }
});
