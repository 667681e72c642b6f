//! Cookie and Authorization headers.
#![no_main]

use connect_backend::http::request::{bearer_token, find_cookie};
use connect_backend::session::policy::CookieCount;
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
    if let CookieCount::One(token) = find_cookie([data], "__Host-session") {
        let _ = SessionToken::parse(token);
    }
    if let Some(token) = bearer_token(&request) {
        let _ = SessionToken::parse(token);
    }
});
