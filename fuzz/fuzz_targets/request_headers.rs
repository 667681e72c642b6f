//! Cookie and Authorization headers.
#![no_main]

use connect_backend::api::{bearer_token, cookie};
use connect_backend::SessionToken;
use lambda_http::{http, Body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    let request = http::Request::builder()
        .header("cookie", value.clone())
        .header("authorization", value)
        .body(Body::Empty)
        .expect("valid header values");
    // Without the runtime's Invocation, the cookie is read from the Cookie header.
    if let Ok(Some(token)) = cookie(&request, "__Host-session") {
        let _ = SessionToken::parse(&token);
    }
    if let Some(token) = bearer_token(&request) {
        let _ = SessionToken::parse(token);
    }
});
