//! Request bodies of the passkey routes, as lambda_http hands them over.
#![no_main]

use connect_backend::functions::create_connect_token::CreateConnectTokenBody;
use connect_backend::functions::verify_signed_passkey_data::VerifySignedPasskeyDataBody;
use connect_backend::http::request::json_body;
use connect_backend::http::ApiError;
use lambda_http::{http, Body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = http::Request::builder()
        .method("POST")
        .header("content-type", "application/json")
        .body(Body::Binary(data.to_vec()))
        .expect("a static request is valid");
    for result in [
        json_body::<CreateConnectTokenBody>(&request).err(),
        json_body::<VerifySignedPasskeyDataBody>(&request).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(ApiError::from(result).status().is_client_error());
    }
});
