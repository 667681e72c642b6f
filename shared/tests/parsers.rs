//! Property tests over everything that parses untrusted input: request
//! bodies, cookie and Authorization headers, signedPasskeyData, and
//! Corbado's answers. The cargo-fuzz targets in fuzz/ drive the same functions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use connect_backend::functions::create_connect_token::CreateConnectTokenBody;
use connect_backend::functions::verify_signed_passkey_data::VerifySignedPasskeyDataBody;
use connect_backend::http::request::{self, BodyError};
use connect_backend::http::ApiError;
use connect_backend::session::policy::CookieCount;
use connect_backend::signed_data::{SignedDataError, SignedPasskeyData};
use connect_backend::upstream::corbado::{decode_connect_token, decode_verification, ErrorDetails};
use connect_backend::SessionToken;
use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::{Body, Request};
use proptest::prelude::*;

fn request(body: Vec<u8>, content_type: &str, headers: &[(&str, &str)]) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .header(CONTENT_TYPE, content_type);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::Binary(body)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn json_body_never_panics_and_errors_are_client_errors(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let request = request(body, "application/json", &[]);
        if let Err(err) = request::json_body::<CreateConnectTokenBody>(&request) {
            prop_assert!(ApiError::from(err.clone()).status().is_client_error(), "{err}");
        }
        if let Err(err) = request::json_body::<VerifySignedPasskeyDataBody>(&request) {
            prop_assert!(ApiError::from(err.clone()).status().is_client_error(), "{err}");
        }
    }

    #[test]
    fn json_body_accepts_every_object_with_a_string_type(t in ".{0,64}", extra in "[a-z]{1,8}") {
        let body = serde_json::json!({"type": t, extra: [1, {"x": null}]}).to_string();
        let parsed: Result<CreateConnectTokenBody, _> = request::json_body(&request(body.into_bytes(), "application/json; charset=utf-8", &[]));
        prop_assert_eq!(parsed.map(|b| b.token_type).ok(), Some(t));
    }

    #[test]
    fn json_body_rejects_other_content_types(ct in "[ -~]{0,40}") {
        prop_assume!(!ct.split(';').next().unwrap().trim().eq_ignore_ascii_case("application/json"));
        let result = request::json_body::<CreateConnectTokenBody>(&request(b"{\"type\":\"x\"}".to_vec(), &ct, &[]));
        prop_assert_eq!(result.err(), Some(BodyError::UnsupportedMediaType));
    }

    #[test]
    fn cookie_parsing_never_panics_and_finds_the_named_cookie(
        before in "([a-z]{1,6}=[a-zA-Z0-9]{0,8}; ){0,4}",
        value in "[A-Za-z0-9_-]{0,60}",
        after in "(; [a-z]{1,6}=[a-zA-Z0-9]{0,8}){0,4}",
    ) {
        prop_assume!(!before.contains("sid=") && !after.contains("sid="));
        let header = format!("{before}sid={value}{after}");
        prop_assert_eq!(request::find_cookie([header.as_bytes()], "sid"), CookieCount::One(&value));
    }

    #[test]
    fn other_cookies_may_hold_any_text(
        // Any text a header can carry: no control characters (API Gateway refuses those).
        before in "([a-z]{1,6}=[^;\\p{Cc}]{0,12}; ){0,4}",
        value in "[A-Za-z0-9_-]{43}",
        after in "(; [a-z]{1,6}=[^;\\p{Cc}]{0,12}){0,4}",
    ) {
        prop_assume!(!before.contains("sid=") && !after.contains("sid="));
        let header = format!("{before}sid={value}{after}");
        prop_assert_eq!(request::find_cookie([header.as_bytes()], "sid"), CookieCount::One(&value));
    }

    #[test]
    fn two_cookies_of_our_name_are_refused(a in "[A-Za-z0-9_-]{0,43}", b in "[A-Za-z0-9_-]{0,43}") {
        let header = format!("sid={a}; pref=José; sid={b}");
        prop_assert_eq!(request::find_cookie([header.as_bytes()], "sid"), CookieCount::Several);
    }

    #[test]
    fn cookie_parsing_survives_arbitrary_headers(header in "[ -~]{0,300}") {
        let _ = request::find_cookie([header.as_bytes()], "__Host-session");
        let req = request(Vec::new(), "application/json", &[(AUTHORIZATION.as_str(), &header)]);
        let _ = request::bearer_token(&req);
    }

    #[test]
    fn session_tokens_parse_exactly_when_they_are_32_bytes_of_base64url(raw in ".{0,64}") {
        let expected = raw.len() == 43 && URL_SAFE_NO_PAD.decode(&raw).is_ok_and(|b| b.len() == 32);
        prop_assert_eq!(SessionToken::parse(&raw).is_some(), expected);
    }

    #[test]
    fn generated_tokens_always_parse(_i in 0..100u8) {
        let token = SessionToken::generate().unwrap();
        prop_assert!(SessionToken::parse(token.expose()).is_some());
        prop_assert_eq!(token.key().len(), 64);
    }

    #[test]
    fn signed_passkey_data_parsing_never_panics(raw in ".{0,400}") {
        let _ = SignedPasskeyData::parse(raw);
    }

    #[test]
    fn signed_passkey_data_with_three_base64url_parts_never_panics(
        header in proptest::collection::vec(any::<u8>(), 1..64),
        payload in proptest::collection::vec(any::<u8>(), 1..256),
        signature in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let jwt = [header, payload, signature].map(|p| URL_SAFE_NO_PAD.encode(p)).join(".");
        match SignedPasskeyData::parse(jwt) {
            Ok(data) => prop_assert!(!data.claims().webauthn_id.is_empty()),
            Err(e) => prop_assert_ne!(e, SignedDataError::NotAJwt),
        }
    }

    #[test]
    fn the_webauthn_id_of_any_payload_is_read_back(
        webauthn_id in ".{1,80}",
        sub in proptest::option::of("usr-[0-9]{1,20}"),
    ) {
        let mut claims = serde_json::json!({"webauthnId": webauthn_id, "iat": 1});
        if let Some(sub) = &sub {
            claims["sub"] = serde_json::json!(sub);
        }
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let data = SignedPasskeyData::parse(jwt).unwrap();
        prop_assert_eq!(&data.claims().webauthn_id, &webauthn_id);
        prop_assert_eq!(&data.claims().sub, &sub);
    }

    #[test]
    fn corbado_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = decode_connect_token(&body);
        let _ = decode_verification(&body);
        let details = ErrorDetails::parse(&body);
        for text in [details.request_id, details.error_type].into_iter().flatten() {
            prop_assert!(text.chars().count() <= 100 && !text.chars().any(char::is_control));
        }
    }

    #[test]
    fn error_details_are_cleaned_before_they_reach_a_log(request_id in ".{0,300}", error_type in ".{0,300}") {
        let body = serde_json::json!({"requestData": {"requestID": request_id}, "error": {"type": error_type}});
        let details = ErrorDetails::parse(body.to_string().as_bytes());
        for text in [details.request_id.unwrap(), details.error_type.unwrap()] {
            prop_assert!(text.chars().count() <= 100 && !text.chars().any(char::is_control));
        }
    }
}
