//! `POST /auth/verifySignedPasskeyData` end to end: API Gateway event in,
//! Corbado stand-in, DynamoDB Local, Set-Cookie and table contents out.

use std::time::Duration;

use connect_backend::session::attr;
use integration_tests::*;
use serde_json::{json, Value};
use wiremock::ResponseTemplate;

const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;
const CORBADO_PATH: &str = "/passkey/verifySignedData";

fn verify_event(jwt: &str) -> Event {
    Event::json(VERIFY, &json!({ "signedPasskeyData": jwt }))
}

#[tokio::test]
async fn a_verified_login_creates_a_session_and_sets_a_secure_cookie() {
    let t = TestApp::start().await;
    let jwt = t.expect_verification("user-42", "success", 1).await;

    let before = connect_backend::session::now_epoch_seconds();
    let reply = t.invoke(verify_event(&jwt)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body, json!({"success": true}));
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert!(
        reply.headers.get("set-cookie").is_none(),
        "Set-Cookie belongs in `cookies` for payload 2.0"
    );

    assert_eq!(reply.cookies.len(), 1, "{:?}", reply.cookies);
    let (name, token, attributes) = parse_set_cookie(&reply.cookies[0]);
    assert_eq!(name, COOKIE_NAME);
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        attributes,
        vec![
            "HttpOnly".to_owned(),
            "Secure".to_owned(),
            "SameSite=Strict".to_owned(),
            "Path=/".to_owned(),
            format!("Max-Age={SESSION_TTL_SECONDS}"),
        ]
    );

    let items = t.items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let n = |name: &str| item[name].as_n().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        s(attr::KEY),
        Some(session_key(&token)),
        "the key is the token's SHA-256"
    );
    assert_eq!(
        s(attr::USER_ID).as_deref(),
        Some("user-42"),
        "the session belongs to webauthnId"
    );
    assert_eq!(
        s(attr::CORBADO_USER_ID).as_deref(),
        Some("usr-676138078732345317")
    );
    assert_eq!(
        s(attr::CREDENTIAL_ID).as_deref(),
        Some("cre-13566630052040460774")
    );
    assert_eq!(s(attr::DISPLAY_NAME), None);
    assert!(n(attr::CREATED_AT) >= before);
    assert_eq!(
        n(attr::EXPIRES_AT) - n(attr::CREATED_AT),
        SESSION_TTL_SECONDS
    );
    let dump = format!("{item:?}");
    assert!(
        !dump.contains(&token),
        "the table must never hold the token"
    );
}

#[tokio::test]
async fn the_new_session_is_accepted_by_create_connect_token() {
    let t = TestApp::start().await;
    let jwt = t.expect_verification("user-42", "success", 1).await;
    t.expect_corbado(
        "/connectTokens",
        json!({"type": "passkey-list", "data": {"identifier": "user-42"}}),
        connect_token_rsp(Some("ctk1_list_secret")),
        1,
    )
    .await;

    let login = t.invoke(verify_event(&jwt)).await;
    let cookie = login.cookies[0].split(';').next().unwrap().to_owned();
    let reply = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-list"}),
            )
            .cookie(&cookie),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body, json!({"connectToken": "ctk1_list_secret"}));
}

#[tokio::test]
async fn every_result_other_than_success_is_a_401_naming_it_and_writes_nothing() {
    let t = TestApp::start().await;
    for result in [
        "invalid_signature",
        "invalid_challenge",
        "user_mismatch",
        "generic_error",
    ] {
        let jwt = signed_passkey_data(login_claims(&format!("user-{result}")));
        t.expect_corbado(
            CORBADO_PATH,
            json!({"signedPasskeyData": jwt, "username": format!("user-{result}")}),
            verify_rsp(result),
            1,
        )
        .await;
        let reply = t.invoke(verify_event(&jwt)).await;
        reply.assert_error(401, result);
    }
    t.assert_table_empty().await;
}

#[tokio::test]
async fn corbado_errors_are_502s_that_hide_corbado_s_message() {
    for (status, error_type) in [
        (400, "validation_error"),
        (403, "forbidden"),
        (404, "not_found"),
        (429, "rate_limited"),
        (500, "internal_error"),
        (503, "unavailable"),
    ] {
        let t = TestApp::start().await;
        let jwt = signed_passkey_data(login_claims("user-42"));
        // Only a 429 is sent again (up to the policy's limit): after a 5xx, Corbado may
        // have spent the single-use signedPasskeyData.
        let attempts = if status == 429 {
            u64::from(TEST_POLICY.retry.max_retries) + 1
        } else {
            1
        };
        t.expect_corbado(
            CORBADO_PATH,
            json!({"signedPasskeyData": jwt, "username": "user-42"}),
            error_rsp(status, error_type),
            attempts,
        )
        .await;
        let reply = t.invoke(verify_event(&jwt)).await;
        reply.assert_error(502, "upstream_error");
        let raw = reply.raw.to_string();
        assert!(
            !raw.contains("CORBADO-INTERNAL"),
            "Corbado's text leaked: {raw}"
        );
        assert!(!raw.contains("req-557650104455887358"));
        t.assert_table_empty().await;
    }
}

#[tokio::test]
async fn unusable_corbado_answers_are_502s() {
    let t = TestApp::start().await;
    let unusable = [
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
        ResponseTemplate::new(200).set_body_json(json!({"verificationResult": "maybe"})),
        ResponseTemplate::new(200).set_body_json(json!({})),
        ResponseTemplate::new(200).set_body_string(format!(
            "{}{{\"verificationResult\":\"success\"}}",
            " ".repeat(100_000)
        )),
    ];
    for (i, response) in unusable.into_iter().enumerate() {
        let user = format!("user-{i}");
        let jwt = signed_passkey_data(login_claims(&user));
        t.expect_corbado(
            CORBADO_PATH,
            json!({"signedPasskeyData": jwt, "username": user}),
            response,
            1,
        )
        .await;
        t.invoke(verify_event(&jwt))
            .await
            .assert_error(502, "upstream_error");
    }
    t.assert_table_empty().await;
}

#[tokio::test]
async fn a_hanging_corbado_is_a_504_within_the_timeout() {
    let t = TestApp::start().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    t.expect_corbado(
        CORBADO_PATH,
        json!({"signedPasskeyData": jwt, "username": "user-42"}),
        verify_rsp("success").set_delay(Duration::from_secs(10)),
        1,
    )
    .await;
    let started = std::time::Instant::now();
    let reply = t.invoke(verify_event(&jwt)).await;
    reply.assert_error(504, "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    t.assert_table_empty().await;
}

#[tokio::test]
async fn an_unreachable_corbado_is_a_502() {
    let emulators = Emulators::connect().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let table = emulators.new_table().await;
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config(&table, &secret_arn, &format!("http://127.0.0.1:{port}/v2"));
    let app = emulators.verify(&config);
    let jwt = signed_passkey_data(login_claims("user-42"));
    invoke(&app, verify_event(&jwt))
        .await
        .assert_error(502, "upstream_error");
    assert!(emulators.items(&table).await.is_empty());
}

#[tokio::test]
async fn malformed_signed_passkey_data_is_a_400_and_corbado_is_not_called() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let no_webauthn_id = signed_passkey_data(json!({"sub": "usr-1", "credential": "cre-1"}));
    let empty_webauthn_id = signed_passkey_data(json!({"webauthnId": ""}));
    for bad in [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9.!!!.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        no_webauthn_id.as_str(),
        empty_webauthn_id.as_str(),
    ] {
        let reply = t.invoke(verify_event(bad)).await;
        reply.assert_error(400, "invalid_signed_passkey_data");
    }
    t.assert_table_empty().await;
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors_and_write_nothing() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    let good = json!({"signedPasskeyData": jwt}).to_string();
    let cases: Vec<(&str, Event, u16, &str)> = vec![
        (
            "malformed JSON",
            Event::new(VERIFY, "{\"signedPasskeyData\": "),
            400,
            "malformed_json",
        ),
        ("empty body", Event::new(VERIFY, ""), 400, "malformed_json"),
        (
            "invalid UTF-8",
            Event::new(VERIFY, "").base64_body(b"{\"signedPasskeyData\": \"\xff\xfe\"}"),
            400,
            "malformed_json",
        ),
        (
            "missing field",
            Event::json(VERIFY, &json!({"signed": jwt})),
            400,
            "invalid_request",
        ),
        (
            "wrong type",
            Event::json(VERIFY, &json!({"signedPasskeyData": 42})),
            400,
            "invalid_request",
        ),
        (
            "null field",
            Event::json(VERIFY, &json!({"signedPasskeyData": null})),
            400,
            "invalid_request",
        ),
        (
            "array body",
            Event::json(VERIFY, &json!([jwt])),
            400,
            "invalid_request",
        ),
        (
            "duplicate field",
            Event::new(
                VERIFY,
                &format!("{{\"signedPasskeyData\":\"{jwt}\",\"signedPasskeyData\":\"{jwt}\"}}"),
            ),
            400,
            "invalid_request",
        ),
        (
            "too large",
            Event::json(VERIFY, &json!({"signedPasskeyData": "a".repeat(17 * 1024)})),
            413,
            "payload_too_large",
        ),
        (
            "text/plain",
            Event::new(VERIFY, &good).header("content-type", "text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            "form",
            Event::new(VERIFY, &good).header("content-type", "application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            Event::new(VERIFY, &good).without_header("content-type"),
            415,
            "unsupported_media_type",
        ),
        (
            "GET",
            Event::new(VERIFY, &good).method("GET"),
            405,
            "method_not_allowed",
        ),
    ];
    for (name, event, status, code) in cases {
        let reply = t.invoke(event).await;
        reply.assert_case_error(name, status, code);
    }
    t.assert_table_empty().await;
}

#[tokio::test]
async fn json_with_charset_and_base64_bodies_are_accepted() {
    let t = TestApp::start().await;
    let jwt = t.expect_verification("user-42", "success", 2).await;
    let body = json!({"signedPasskeyData": jwt}).to_string();
    let charset =
        Event::new(VERIFY, &body).header("content-type", "application/json; charset=utf-8");
    assert_eq!(t.invoke(charset).await.status, 200);
    let base64 = Event::new(VERIFY, "").base64_body(body.as_bytes());
    assert_eq!(t.invoke(base64).await.status, 200);
    assert_eq!(t.items().await.len(), 2);
}

#[tokio::test]
async fn a_401_refreshes_the_cached_secret_once_and_retries_once() {
    let t = TestApp::start().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    let claims_body = json!({"signedPasskeyData": jwt, "username": "user-42"});
    // First request caches the original secret.
    t.expect_corbado(CORBADO_PATH, claims_body.clone(), verify_rsp("success"), 1)
        .await;
    assert_eq!(t.invoke(verify_event(&jwt)).await.status, 200);
    t.corbado.verify().await;
    t.corbado.reset().await;

    // Rotate: Corbado now refuses the old secret and accepts the new one.
    let rotated = "corbado1_rotated_secret";
    t.emulators.rotate_secret(&t.secret_arn, rotated).await;
    wiremock::Mock::given(wiremock::matchers::header(
        "authorization",
        basic_auth(API_SECRET).as_str(),
    ))
    .respond_with(error_rsp(401, "invalid_api_secret"))
    .expect(1)
    .mount(&t.corbado)
    .await;
    wiremock::Mock::given(wiremock::matchers::header(
        "authorization",
        basic_auth(rotated).as_str(),
    ))
    .and(wiremock::matchers::body_json(claims_body))
    .respond_with(verify_rsp("success"))
    .expect(1)
    .mount(&t.corbado)
    .await;
    assert_eq!(t.invoke(verify_event(&jwt)).await.status, 200);
    t.corbado.verify().await;
    assert_eq!(t.items().await.len(), 2);
}

#[tokio::test]
async fn a_second_401_after_refreshing_is_a_502() {
    let t = TestApp::start().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    t.expect_corbado(
        CORBADO_PATH,
        json!({"signedPasskeyData": jwt, "username": "user-42"}),
        error_rsp(401, "invalid_api_secret"),
        2,
    )
    .await;
    t.invoke(verify_event(&jwt))
        .await
        .assert_error(502, "upstream_error");
    t.assert_table_empty().await;
}

#[tokio::test]
async fn a_missing_secret_is_a_500_and_the_next_request_succeeds_once_it_exists() {
    let name = unique_name("not-yet-created");
    let t = TestApp::builder().secret_arn(&name).start().await;
    let jwt = t.expect_verification("user-42", "success", 1).await;

    let reply = t.invoke(verify_event(&jwt)).await;
    reply.assert_error(500, "internal_error");
    t.assert_table_empty().await;

    t.emulators
        .secrets
        .create_secret()
        .name(&name)
        .secret_string(json!({"apiSecret": API_SECRET}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(t.invoke(verify_event(&jwt)).await.status, 200);
}

#[tokio::test]
async fn a_dynamodb_failure_is_a_500_without_a_cookie() {
    let t = TestApp::start().await;
    let corbado_uri = format!("{}/v2", t.corbado.uri());
    let missing_table = config(&unique_name("no-such-table"), &t.secret_arn, &corbado_uri);
    let app = t.emulators.verify(&missing_table);
    let jwt = t.expect_verification("user-42", "success", 1).await;
    let reply = invoke(&app, verify_event(&jwt)).await;
    reply.assert_error(500, "internal_error");
    assert!(!reply.raw.to_string().contains("ResourceNotFound"));
}

#[tokio::test]
async fn the_function_keeps_serving_after_every_kind_of_error() {
    let t = TestApp::start().await;
    let jwt = t.expect_verification("user-42", "success", 1).await;
    for event in [
        Event::new(VERIFY, "{"),
        Event::new(VERIFY, "").base64_body(&[0xff; 64]),
        Event::json(VERIFY, &json!({"signedPasskeyData": "x"})),
        Event::json(VERIFY, &Value::Null),
    ] {
        assert_eq!(t.invoke(event).await.status, 400);
    }
    assert_eq!(t.invoke(verify_event(&jwt)).await.status, 200);
}
