//! `POST /auth/createConnectToken` end to end: session cookie in, Corbado
//! stand-in asserting the exact request, connect token out.

use aws_sdk_dynamodb::types::AttributeValue;
use connect_backend::session::attr;
use integration_tests::*;
use serde_json::json;
use wiremock::ResponseTemplate;

const CREATE: Endpoint = Endpoint::CreateConnectToken;
const CORBADO_PATH: &str = "/connectTokens";

fn create_event(token_type: &str) -> Event {
    Event::json(CREATE, &json!({ "type": token_type }))
}

#[tokio::test]
async fn each_token_type_sends_the_data_shape_the_spec_defines() {
    let t = TestApp::start().await;
    let session = t.login("user-42", Some("Jane Doe")).await;
    let cases = [
        (
            "passkey-append",
            json!({"displayName": "Jane Doe", "identifier": "user-42"}),
        ),
        ("passkey-list", json!({"identifier": "user-42"})),
        ("passkey-delete", json!({"identifier": "user-42"})),
    ];
    for (token_type, data) in cases {
        let secret = format!("ctk1_{token_type}");
        t.expect_corbado(
            CORBADO_PATH,
            json!({"type": token_type, "data": data}),
            connect_token_rsp(Some(&secret)),
            1,
        )
        .await;
        let reply = t.invoke(create_event(token_type).session(&session)).await;
        assert_eq!(reply.status, 200, "{token_type}: {:?}", reply.raw);
        assert_eq!(reply.body, json!({"connectToken": secret}));
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert!(reply.cookies.is_empty());
    }
}

#[tokio::test]
async fn append_uses_the_user_id_as_display_name_when_none_is_known() {
    let t = TestApp::start().await;
    let session = t.login("user-7", None).await;
    t.expect_corbado(
        CORBADO_PATH,
        json!({"type": "passkey-append", "data": {"displayName": "user-7", "identifier": "user-7"}}),
        connect_token_rsp(Some("ctk1_x")),
        1,
    )
    .await;
    let reply = t
        .invoke(create_event("passkey-append").session(&session))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
}

#[tokio::test]
async fn the_session_cookie_is_found_among_other_cookies() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    t.expect_corbado(
        CORBADO_PATH,
        json!({"type": "passkey-list", "data": {"identifier": "user-42"}}),
        connect_token_rsp(Some("ctk1_y")),
        1,
    )
    .await;
    let event = create_event("passkey-list")
        .cookie("theme=dark")
        .session(&session)
        .cookie("_ga=GA1.2.3");
    assert_eq!(t.invoke(event).await.status, 200);
}

#[tokio::test]
async fn requests_without_a_live_session_are_401s_and_corbado_is_not_called() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;

    let no_cookie = t.invoke(create_event("passkey-list")).await;
    no_cookie.assert_error(401, "session_required");
    let other_cookie_only = t
        .invoke(create_event("passkey-list").cookie("theme=dark"))
        .await;
    other_cookie_only.assert_error(401, "session_required");

    for value in ["", "garbage", "AAAA", &"A".repeat(44)] {
        let reply = t
            .invoke(create_event("passkey-list").cookie(&format!("{COOKIE_NAME}={value}")))
            .await;
        reply.assert_error(401, "session_invalid");
    }

    // Well-formed, but never issued.
    let unknown = connect_backend::SessionToken::generate().unwrap();
    t.invoke(create_event("passkey-list").session(&unknown))
        .await
        .assert_error(401, "session_invalid");

    // Revoked.
    let revoked = t.login("user-42", None).await;
    assert!(t.sessions().revoke(&revoked).await.unwrap().is_some());
    t.invoke(create_event("passkey-list").session(&revoked))
        .await
        .assert_error(401, "session_invalid");
}

#[tokio::test]
async fn an_expired_session_is_refused_even_while_dynamodb_still_holds_it() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let token = connect_backend::SessionToken::generate().unwrap();
    let now = connect_backend::session::now_epoch_seconds();
    // DynamoDB's TTL deletes late: the item is still there an hour after expiry.
    t.emulators
        .dynamodb
        .put_item()
        .table_name(&t.table)
        .item(attr::KEY, AttributeValue::S(session_key(token.expose())))
        .item(attr::USER_ID, AttributeValue::S("user-42".into()))
        .item(
            attr::CREATED_AT,
            AttributeValue::N((now - 7200).to_string()),
        )
        .item(
            attr::EXPIRES_AT,
            AttributeValue::N((now - 3600).to_string()),
        )
        .send()
        .await
        .unwrap();
    t.invoke(create_event("passkey-list").session(&token))
        .await
        .assert_error(401, "session_invalid");
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let session = t.login("user-42", None).await;
    let good = json!({"type": "passkey-list"}).to_string();
    let cases: Vec<(&str, Event, u16, &str)> = vec![
        (
            "unknown type",
            create_event("passkey-login"),
            400,
            "unknown_token_type",
        ),
        ("empty type", create_event(""), 400, "unknown_token_type"),
        (
            "missing type",
            Event::json(CREATE, &json!({"kind": "passkey-list"})),
            400,
            "invalid_request",
        ),
        (
            "type not a string",
            Event::json(CREATE, &json!({"type": ["passkey-list"]})),
            400,
            "invalid_request",
        ),
        (
            "malformed JSON",
            Event::new(CREATE, "{type: passkey-list}"),
            400,
            "malformed_json",
        ),
        ("empty body", Event::new(CREATE, ""), 400, "malformed_json"),
        (
            "too large",
            Event::json(
                CREATE,
                &json!({"type": "passkey-list", "pad": "x".repeat(20_000)}),
            ),
            413,
            "payload_too_large",
        ),
        (
            "no content type",
            Event::new(CREATE, &good).without_header("content-type"),
            415,
            "unsupported_media_type",
        ),
        (
            "PUT",
            Event::new(CREATE, &good).method("PUT"),
            405,
            "method_not_allowed",
        ),
    ];
    for (name, event, status, code) in cases {
        let reply = t.invoke(event.session(&session)).await;
        reply.assert_case_error(name, status, code);
    }
}

#[tokio::test]
async fn corbado_failures_are_502_or_504_and_hide_corbado_s_message() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    let cases = [
        (
            "passkey-list",
            connect_token_rsp(None),
            502,
            "upstream_error",
        ),
        (
            "passkey-delete",
            error_rsp(400, "validation_error"),
            502,
            "upstream_error",
        ),
        (
            "passkey-append",
            error_rsp(500, "internal_error"),
            502,
            "upstream_error",
        ),
    ];
    for (token_type, response, status, code) in cases {
        // A 5xx is retried up to the policy's limit first.
        let attempts = if token_type == "passkey-append" {
            u64::from(TEST_POLICY.retry.max_retries) + 1
        } else {
            1
        };
        let data = if token_type == "passkey-append" {
            json!({"displayName": "user-42", "identifier": "user-42"})
        } else {
            json!({"identifier": "user-42"})
        };
        t.expect_corbado(
            CORBADO_PATH,
            json!({"type": token_type, "data": data}),
            response,
            attempts,
        )
        .await;
        let reply = t.invoke(create_event(token_type).session(&session)).await;
        reply.assert_error(status, code);
        assert!(!reply.raw.to_string().contains("CORBADO-INTERNAL"));
    }
}

#[tokio::test]
async fn a_hanging_corbado_is_a_504() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    t.expect_corbado(
        CORBADO_PATH,
        json!({"type": "passkey-list", "data": {"identifier": "user-42"}}),
        connect_token_rsp(Some("ctk1_late")).set_delay(std::time::Duration::from_secs(10)),
        1,
    )
    .await;
    t.invoke(create_event("passkey-list").session(&session))
        .await
        .assert_error(504, "upstream_timeout");
}

#[tokio::test]
async fn an_empty_secret_from_corbado_is_unusable() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    t.expect_corbado(
        CORBADO_PATH,
        json!({"type": "passkey-list", "data": {"identifier": "user-42"}}),
        ResponseTemplate::new(200).set_body_json(json!({"secret": ""})),
        1,
    )
    .await;
    t.invoke(create_event("passkey-list").session(&session))
        .await
        .assert_error(502, "upstream_error");
}
