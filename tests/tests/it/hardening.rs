//! Native-app sessions, cross-site requests, session fixation, Corbado
//! retries, and hostile requests: each point as a client or attacker sees it.

use connect_backend::session::attr;
use integration_tests::*;
use serde_json::json;
use wiremock::matchers::{any, path};
use wiremock::Mock;

const CREATE: Endpoint = Endpoint::CreateConnectToken;
const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;
const VERIFY_PATH: &str = "/passkey/verifySignedData";

fn list_event() -> Event {
    Event::json(CREATE, &json!({"type": "passkey-list"}))
}

fn verify_event(jwt: &str) -> Event {
    Event::json(VERIFY, &json!({ "signedPasskeyData": jwt }))
}

async fn expect_list_token(t: &TestApp, user: &str, times: u64) {
    t.expect_corbado(
        "/connectTokens",
        json!({"type": "passkey-list", "data": {"identifier": user}}),
        connect_token_rsp(Some("ctk1_list")),
        times,
    )
    .await;
}

// --- Native apps -----------------------------------------------------------

#[tokio::test]
async fn native_sessions_are_refused_while_disabled() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    let body_delivery = Event::json(
        VERIFY,
        &json!({"signedPasskeyData": jwt, "sessionDelivery": "body"}),
    );
    t.invoke(body_delivery)
        .await
        .assert_error(400, "native_sessions_disabled");

    let session = t.login("user-42", None).await;
    let bearer = list_event().header("authorization", &format!("Bearer {}", session.expose()));
    t.invoke(bearer)
        .await
        .assert_error(400, "native_sessions_disabled");
    assert_eq!(t.items().await.len(), 1, "only the login's session");
}

#[tokio::test]
async fn native_apps_get_the_token_in_the_body_and_send_it_as_bearer() {
    let t = TestApp::builder().native().start().await;
    let jwt = t.expect_verification("user-42", "success", 1).await;
    expect_list_token(&t, "user-42", 1).await;

    let event = Event::json(
        VERIFY,
        &json!({"signedPasskeyData": jwt, "sessionDelivery": "body"}),
    )
    .without_header("origin");
    let login = t.invoke(event).await;
    assert_eq!(login.status, 200, "{:?}", login.raw);
    assert!(login.cookies.is_empty(), "body delivery sets no cookie");
    let token = login.body["sessionToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(login.body["success"], true);
    assert_eq!(login.body["expiresIn"], SESSION_TTL_SECONDS);
    let items = t.items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0][attr::KEY].as_s().unwrap(), &session_key(&token));

    let reply = t
        .invoke(
            list_event()
                .without_header("origin")
                .header("authorization", &format!("Bearer {token}")),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body["connectToken"], "ctk1_list");
}

#[tokio::test]
async fn bearer_tokens_are_checked_like_cookies() {
    let t = TestApp::builder().native().start().await;
    t.expect_no_corbado_call().await;
    let unknown = connect_backend::SessionToken::generate().unwrap();
    t.invoke(list_event().header("authorization", &format!("Bearer {}", unknown.expose())))
        .await
        .assert_error(401, "session_invalid");
    // A bearer value that cannot be a token of ours (an application's own API token, which a
    // global fetch wrapper adds), or another scheme: the request simply has no session.
    for value in [
        "Bearer ",
        "Bearer garbage",
        "bearer AAAA",
        "Basic dXNlcjpwYXNz",
    ] {
        t.invoke(list_event().header("authorization", value))
            .await
            .assert_error(401, "session_required");
    }
    // And beside the session cookie, such a value leaves the cookie to speak.
    let t = TestApp::builder().native().start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    let reply = t
        .invoke(
            list_event()
                .session(&session)
                .header("authorization", "Bearer app-api-token"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
}

#[tokio::test]
async fn an_unknown_session_delivery_is_a_400() {
    let t = TestApp::builder().native().start().await;
    t.expect_no_corbado_call().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    for delivery in [json!("header"), json!(1), json!(["body"]), json!("BODY")] {
        let event = Event::json(
            VERIFY,
            &json!({"signedPasskeyData": jwt, "sessionDelivery": delivery}),
        );
        t.invoke(event).await.assert_error(400, "invalid_request");
    }
    t.assert_table_empty().await;
}

// --- Cross-site requests and session handling --------------------------------

#[tokio::test]
async fn cookie_requests_from_other_origins_are_refused() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 3).await;
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.example",
        "http://app.example.com",
    ] {
        let reply = t
            .invoke(list_event().session(&session).header("origin", origin))
            .await;
        reply.assert_error(403, "origin_not_allowed");
    }
    // The configured frontends, and clients that send no Origin (no browser), are served.
    for event in [
        list_event().session(&session),
        list_event()
            .session(&session)
            .header("origin", "http://localhost:3000"),
        list_event().session(&session).without_header("origin"),
    ] {
        assert_eq!(t.invoke(event).await.status, 200);
    }
}

#[tokio::test]
async fn bearer_requests_are_not_subject_to_the_origin_check() {
    let t = TestApp::builder().native().start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    let event = list_event()
        .header("origin", "https://evil.example")
        .header("authorization", &format!("Bearer {}", session.expose()));
    assert_eq!(t.invoke(event).await.status, 200);
}

#[tokio::test]
async fn logins_from_other_origins_are_refused_and_write_nothing() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let jwt = signed_passkey_data(login_claims("attacker"));
    t.invoke(verify_event(&jwt).header("origin", "https://evil.example"))
        .await
        .assert_error(403, "origin_not_allowed");
    t.assert_table_empty().await;
}

#[tokio::test]
async fn a_login_whose_session_write_fails_keeps_the_session_presented() {
    // DeleteItem alone still works: a revoke that ran apart from the write would go through.
    let t = TestApp::builder()
        .failing_dynamodb(&["PutItem", "TransactWriteItems"])
        .start()
        .await;
    let held = t.login("user-42", None).await;
    let jwt = t.expect_verification("user-42", "success", 1).await;

    let reply = t.invoke(verify_event(&jwt).session(&held)).await;
    reply.assert_error(500, "internal_error");
    assert!(
        t.sessions().find(&held).await.unwrap().is_some(),
        "the session the client held survives the failed login"
    );
    assert_eq!(t.items().await.len(), 1, "nothing was written");
}

#[tokio::test]
async fn a_login_always_issues_a_fresh_session_and_revokes_the_one_presented() {
    let t = TestApp::start().await;
    let old = t.login("user-42", None).await;
    let other_user = t.login("someone-else", None).await;
    let jwt = t.expect_verification("user-42", "success", 1).await;

    let reply = t.invoke(verify_event(&jwt).session(&old)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    let (_, new_token, _) = parse_set_cookie(&reply.cookies[0]);
    assert_ne!(new_token, old.expose());

    assert_eq!(
        t.sessions().find(&old).await.unwrap(),
        None,
        "the old session is revoked"
    );
    let keys: Vec<String> = t
        .items()
        .await
        .iter()
        .map(|i| i[attr::KEY].as_s().unwrap().clone())
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&session_key(&new_token)));
    assert!(
        keys.iter().any(|k| k == other_user.key()),
        "other sessions are untouched"
    );

    // A stale or foreign cookie is no obstacle to logging in.
    let jwt = t.expect_verification("user-7", "success", 1).await;
    let stale = verify_event(&jwt).cookie(&format!("{COOKIE_NAME}=not-a-token"));
    assert_eq!(t.invoke(stale).await.status, 200);
}

#[tokio::test]
async fn a_failed_login_leaves_the_presented_session_alone() {
    let t = TestApp::start().await;
    let old = t.login("user-42", None).await;
    let jwt = t
        .expect_verification("user-42", "invalid_signature", 1)
        .await;
    t.invoke(verify_event(&jwt).session(&old))
        .await
        .assert_error(401, "invalid_signature");
    assert!(t.sessions().find(&old).await.unwrap().is_some());
}

// --- Corbado faults ------------------------------------------------------------

#[tokio::test]
async fn connect_tokens_are_retried_after_429_and_5xx() {
    for status in [429, 500, 502, 503, 504] {
        let t = TestApp::start().await;
        let session = t.login("user-42", None).await;
        Mock::given(path("/v2/connectTokens"))
            .respond_with(error_rsp(status, "transient"))
            .up_to_n_times(2)
            .expect(2)
            .mount(&t.corbado)
            .await;
        expect_list_token(&t, "user-42", 1).await;
        let reply = t.invoke(list_event().session(&session)).await;
        assert_eq!(reply.status, 200, "{status}: {:?}", reply.raw);
        t.corbado.verify().await;
    }
}

#[tokio::test]
async fn a_verification_is_resent_after_a_429_only() {
    // 429: Corbado refused it unprocessed, so the single-use data is still good.
    let t = TestApp::start().await;
    Mock::given(path(format!("/v2{VERIFY_PATH}")))
        .respond_with(error_rsp(429, "rate_limited"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&t.corbado)
        .await;
    let jwt = t.expect_verification("user-42", "success", 1).await;
    let reply = t.invoke(verify_event(&jwt)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    t.corbado.verify().await;
    assert_eq!(t.items().await.len(), 1);

    // A 5xx may come after Corbado consumed it: a resend would fail as a replay.
    for status in [500, 502, 503, 504] {
        let t = TestApp::start().await;
        Mock::given(any())
            .respond_with(error_rsp(status, "unavailable"))
            .expect(1)
            .mount(&t.corbado)
            .await;
        let jwt = signed_passkey_data(login_claims("user-42"));
        t.invoke(verify_event(&jwt))
            .await
            .assert_error(502, "upstream_error");
        t.assert_table_empty().await;
    }
}

#[tokio::test]
async fn retries_are_bounded_then_the_answer_is_a_502() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    Mock::given(any())
        .respond_with(error_rsp(503, "unavailable"))
        .expect(u64::from(TEST_POLICY.retry.max_retries) + 1)
        .mount(&t.corbado)
        .await;
    t.invoke(list_event().session(&session))
        .await
        .assert_error(502, "upstream_error");
}

#[tokio::test]
async fn client_errors_from_corbado_are_not_retried() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    Mock::given(any())
        .respond_with(error_rsp(400, "validation_error"))
        .expect(1)
        .mount(&t.corbado)
        .await;
    t.invoke(list_event().session(&session))
        .await
        .assert_error(502, "upstream_error");
}

#[tokio::test]
async fn a_redirect_from_corbado_is_not_followed() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    Mock::given(path("/v2/connectTokens"))
        .respond_with(
            wiremock::ResponseTemplate::new(307)
                .insert_header("location", format!("{}/elsewhere", t.corbado.uri())),
        )
        .expect(1)
        .mount(&t.corbado)
        .await;
    // The API secret must not travel to wherever a redirect points.
    Mock::given(path("/elsewhere"))
        .respond_with(connect_token_rsp(Some("ctk1_elsewhere")))
        .expect(0)
        .mount(&t.corbado)
        .await;
    t.invoke(list_event().session(&session))
        .await
        .assert_error(502, "upstream_error");
}

// --- Hostile requests --------------------------------------------------------------

#[tokio::test]
async fn hostile_requests_get_documented_errors_and_write_nothing() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let session = t.login("user-42", None).await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(2000), "}".repeat(2000));
    let huge_cookie = format!("{COOKIE_NAME}={}", "A".repeat(8000));
    let cases: Vec<(&str, Event, u16, &str)> = vec![
        (
            "huge body",
            Event::new(VERIFY, &"x".repeat(1 << 20)),
            413,
            "payload_too_large",
        ),
        (
            "huge base64 body",
            Event::new(VERIFY, "").base64_body(&vec![b' '; 100_000]),
            413,
            "payload_too_large",
        ),
        // Deep nesting is parsed without recursion (no stack overflow): valid JSON, wrong shape.
        (
            "deep array",
            Event::new(VERIFY, &deep),
            400,
            "invalid_request",
        ),
        (
            "deep object",
            Event::new(CREATE, &deep_object).session(&session),
            400,
            "invalid_request",
        ),
        (
            "number for string",
            Event::json(CREATE, &json!({"type": 1})).session(&session),
            400,
            "invalid_request",
        ),
        (
            "object for string",
            Event::json(VERIFY, &json!({"signedPasskeyData": {"a": 1}})),
            400,
            "invalid_request",
        ),
        (
            "duplicate key",
            Event::new(CREATE, r#"{"type":"passkey-list","type":"passkey-append"}"#)
                .session(&session),
            400,
            "invalid_request",
        ),
        (
            "invalid UTF-8",
            Event::new(CREATE, "")
                .base64_body(b"{\"type\":\"passkey-\xc3\x28\"}")
                .session(&session),
            400,
            "malformed_json",
        ),
        (
            "NUL in string",
            Event::new(VERIFY, "{\"signedPasskeyData\":\"a.b.c\\u0000\"}"),
            400,
            "invalid_signed_passkey_data",
        ),
        (
            "trailing garbage",
            Event::new(VERIFY, &format!("{{\"signedPasskeyData\":\"{jwt}\"}} x")),
            400,
            "malformed_json",
        ),
        (
            "JSON string body",
            Event::new(VERIFY, "\"hello\""),
            400,
            "invalid_request",
        ),
        (
            "JSON with BOM",
            Event::new(
                VERIFY,
                &format!("\u{feff}{{\"signedPasskeyData\":\"{jwt}\"}}"),
            ),
            400,
            "malformed_json",
        ),
        (
            "oversized cookie",
            list_event().cookie(&huge_cookie),
            401,
            "session_invalid",
        ),
        // Read from the event's cookies as bytes, as the authorizer reads them.
        (
            "cookie with CRLF",
            list_event().cookie(&format!("{COOKIE_NAME}=abc\r\nSet-Cookie: x=y")),
            401,
            "session_invalid",
        ),
        (
            "empty cookie value",
            list_event().cookie(&format!("{COOKIE_NAME}=")),
            401,
            "session_invalid",
        ),
        (
            "cookie without value",
            list_event().cookie(COOKIE_NAME),
            401,
            "session_required",
        ),
        (
            "token with spaces",
            list_event().cookie(&format!("{COOKIE_NAME}= {} ", "A".repeat(41))),
            401,
            "session_invalid",
        ),
        (
            "JSON lookalike type",
            Event::json(VERIFY, &json!({"signedPasskeyData": jwt}))
                .header("content-type", "application/jsonp"),
            415,
            "unsupported_media_type",
        ),
        (
            "DELETE",
            list_event().session(&session).method("DELETE"),
            405,
            "method_not_allowed",
        ),
    ];
    for (name, event, status, code) in cases {
        let reply = t.invoke(event).await;
        reply.assert_case_error(name, status, code);
        assert!(
            reply.headers.get("set-cookie").is_none()
                && reply.raw["headers"].as_object().unwrap().len() <= 5,
            "{name}: {:?}",
            reply.headers
        );
    }
    assert_eq!(t.items().await.len(), 1, "only the login's session");
}

// --- What API Gateway really delivers ---------------------------------------

#[tokio::test]
async fn the_session_cookie_is_found_beside_cookies_holding_any_text() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    // Set by other apps on the same site; API Gateway passes them on as the browser sent them.
    let event = list_event()
        .cookie("pref=José")
        .session(&session)
        .cookie("名前=値; theme=\"dark\"");
    let reply = t.invoke(event).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body["connectToken"], "ctk1_list");
}

#[tokio::test]
async fn a_re_login_beside_utf8_cookies_still_revokes_the_presented_session() {
    let t = TestApp::start().await;
    let old = t.login("user-42", None).await;
    let jwt = t.expect_verification("user-42", "success", 1).await;
    let reply = t
        .invoke(verify_event(&jwt).cookie("pref=José").session(&old))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(t.sessions().find(&old).await.unwrap(), None);
    assert_eq!(t.items().await.len(), 1, "only the new session");
}

#[tokio::test]
async fn two_session_cookies_are_refused_whichever_comes_first() {
    let t = TestApp::start().await;
    t.expect_no_corbado_call().await;
    let good = t.login("user-42", None).await;
    let planted = t.login("attacker", None).await;
    for (first, second) in [(&good, &planted), (&planted, &good)] {
        let event = list_event().session(first).session(second);
        t.invoke(event).await.assert_error(401, "session_ambiguous");
    }
    // A login presenting two is refused before Corbado sees the single-use data.
    let jwt = signed_passkey_data(login_claims("user-42"));
    let login = verify_event(&jwt).session(&good).session(&planted);
    t.invoke(login).await.assert_error(401, "session_ambiguous");
    assert_eq!(
        t.items().await.len(),
        2,
        "both sessions untouched, nothing new"
    );
}

#[tokio::test]
async fn browsers_cannot_have_the_session_token_in_the_body() {
    let t = TestApp::builder().native().start().await;
    t.expect_no_corbado_call().await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    // The events carry Origin: https://app.example.com, an allowed origin.
    let event = Event::json(
        VERIFY,
        &json!({"signedPasskeyData": jwt, "sessionDelivery": "body"}),
    );
    t.invoke(event)
        .await
        .assert_error(400, "body_delivery_from_browser");
    t.assert_table_empty().await;
}

#[tokio::test]
async fn forwarding_headers_lambda_http_cannot_parse_do_not_matter() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 2).await;
    for (name, value) in [("host", "exa mple.com"), ("x-forwarded-proto", "ht tp")] {
        let reply = t
            .invoke(list_event().session(&session).header(name, value))
            .await;
        assert_eq!(reply.status, 200, "{name}: {value}: {:?}", reply.raw);
    }
}

#[tokio::test]
async fn a_panic_while_handling_a_request_is_a_500_and_the_next_request_is_served() {
    let t = TestApp::builder()
        .panicking_once_in_dynamodb("GetItem")
        .start()
        .await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    t.invoke(list_event().session(&session))
        .await
        .assert_error(500, "internal_error");
    let reply = t.invoke(list_event().session(&session)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
}

#[tokio::test]
async fn uris_lambda_http_could_not_build_do_not_matter() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 3).await;
    let cases = [
        ("host", json!("example.com:99999")),
        ("rawQueryString", json!("a b")),
        // The function routes by the path API Gateway sent, which keeps the route.
        (
            "rawPath",
            json!(format!("/{}/auth/createConnectToken", "€".repeat(9000))),
        ),
    ];
    for (field, value) in cases {
        let mut event = list_event().session(&session);
        match field {
            "host" => event.json["headers"]["host"] = value,
            _ => event.json[field] = value,
        }
        let reply = t.invoke(event).await;
        assert_eq!(reply.status, 200, "{field}: {:?}", reply.raw);
    }
}

#[tokio::test]
async fn events_lambda_http_would_refuse_whole_get_json_answers() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    // Flagged base64 but not base64: the body cannot be read.
    let mut event = list_event().session(&session).base64_body(b"{}");
    event.json["body"] = json!("!!!");
    t.invoke(event).await.assert_error(400, "malformed_json");
    // A header value http cannot hold is dropped; the request is still served.
    let event = list_event().session(&session).header("x-debug", "a\u{7f}b");
    let reply = t.invoke(event).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    // Not an API Gateway event at all: refused as unreadable, nothing written.
    let mut event = list_event().session(&session);
    event.json["headers"] = json!("not a header map");
    t.invoke(event).await.assert_error(400, "malformed_request");
    assert_eq!(t.items().await.len(), 1);
}

#[tokio::test]
async fn every_function_reads_the_session_cookie_the_same_way() {
    let t = TestApp::start().await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    // lambda_http drops the whole Cookie header when one cookie holds a control
    // character; the authorizer reads the event's cookies itself. Both must agree.
    let odd = "x=\u{1}";
    let reply = t.invoke(list_event().cookie(odd).session(&session)).await;
    assert_eq!(reply.status, 200, "createConnectToken: {:?}", reply.raw);
    let who = Event::bodyless(Endpoint::Session)
        .cookie(odd)
        .session(&session);
    let reply = t.invoke(who).await;
    assert_eq!(reply.body["userId"], "user-42", "session: {:?}", reply.raw);
    let authorized = t
        .authorize(
            Event::bodyless(Endpoint::Authorizer)
                .cookie(odd)
                .session(&session),
        )
        .await;
    assert_eq!(authorized.unwrap()["isAuthorized"], true);

    // A second cookie of our name, holding a control character: ambiguous everywhere.
    let planted = format!("{COOKIE_NAME}=planted\u{1}");
    t.invoke(list_event().session(&session).cookie(&planted))
        .await
        .assert_error(401, "session_ambiguous");
    let who = Event::bodyless(Endpoint::Session)
        .session(&session)
        .cookie(&planted);
    t.invoke(who).await.assert_error(401, "session_ambiguous");
    let denied = t
        .authorize(
            Event::bodyless(Endpoint::Authorizer)
                .session(&session)
                .cookie(&planted),
        )
        .await;
    assert_eq!(denied.unwrap()["isAuthorized"], false);

    // Logout finds the session beside the odd cookie, and ends it.
    let logout = Event::bodyless(Endpoint::Logout)
        .cookie(odd)
        .session(&session);
    let reply = t.invoke(logout).await;
    assert_eq!(reply.status, 200, "logout: {:?}", reply.raw);
    t.assert_table_empty().await;
}

#[tokio::test]
async fn a_query_the_uri_cannot_hold_still_reaches_its_route() {
    let t = TestApp::start().await;
    for query in ["a=<b", "a b", "next=%zz\u{7f}"] {
        let session = t.login("user-42", None).await;
        let mut logout = Event::bodyless(Endpoint::Logout).session(&session);
        logout.json["rawQueryString"] = json!(query);
        let reply = t.invoke(logout).await;
        assert_eq!(reply.status, 200, "{query:?}: {:?}", reply.raw);
        assert_eq!(reply.cookies.len(), 1, "{query:?}: the clearing cookie");
        t.assert_table_empty().await;
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let t = TestApp::builder()
        .panicking_once_in_dynamodb("DeleteItem")
        .start()
        .await;
    let session = t.login("user-42", None).await;
    expect_list_token(&t, "user-42", 1).await;
    let mut unreadable = list_event().session(&session);
    unreadable.json["headers"] = json!("not a header map");
    let events = [
        ("a connect token", list_event().session(&session)),
        ("a refusal", list_event()),
        ("an unreadable event", unreadable),
        (
            "who am I",
            Event::bodyless(Endpoint::Session).session(&session),
        ),
        (
            "a panic",
            Event::bodyless(Endpoint::Logout).session(&session),
        ),
        (
            "a logout",
            Event::bodyless(Endpoint::Logout).session(&session),
        ),
        (
            "a wrong method",
            Event::bodyless(Endpoint::LogoutEverywhere).method("GET"),
        ),
    ];
    let mut statuses = Vec::new();
    for (case, event) in events {
        let reply = t.invoke(event).await;
        statuses.push(reply.status);
        assert_eq!(reply.headers["x-content-type-options"], "nosniff", "{case}");
        assert_eq!(
            reply.headers["strict-transport-security"], "max-age=63072000",
            "{case}"
        );
        assert_eq!(reply.headers["cache-control"], "no-store", "{case}");
    }
    assert_eq!(statuses, [200, 401, 400, 200, 500, 200, 405]);
}
