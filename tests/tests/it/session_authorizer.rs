//! The API Gateway Lambda authorizer (HTTP API, payload 2.0, simple responses) through its
//! runtime path, against DynamoDB Local: what API Gateway gets back for each request.

use connect_backend::SessionToken;
use integration_tests::*;
use serde_json::{json, Value};

fn request() -> Event {
    Event::bodyless(Endpoint::Authorizer)
}

/// As API Gateway builds the event: each cookie in `cookies`, the Cookie header as the
/// identity source.
fn with_cookies(cookies: &[&str]) -> Event {
    let mut event = request();
    event.json["cookies"] = json!(cookies);
    event.json["identitySource"] = json!([cookies.join("; ")]);
    event
}

fn session_cookie(token: &SessionToken) -> String {
    format!("{COOKIE_NAME}={}", token.expose())
}

const DENIED: fn() -> Value = || json!({"isAuthorized": false});

#[tokio::test]
async fn a_live_session_is_authorized_with_the_user_in_the_context() {
    let app = TestApp::start().await;
    let token = app.login("user-42", Some("Jane Doe")).await;
    let answer = app
        .authorize(with_cookies(&["theme=dark", &session_cookie(&token)]))
        .await;
    assert_eq!(
        answer,
        Some(json!({
            "isAuthorized": true,
            "context": {"userId": "user-42", "displayName": "Jane Doe"}
        }))
    );
    let plain = app.login("user-43", None).await;
    let answer = app
        .authorize(with_cookies(&[&session_cookie(&plain)]))
        .await;
    assert_eq!(
        answer,
        Some(json!({"isAuthorized": true, "context": {"userId": "user-43"}}))
    );
}

#[tokio::test]
async fn other_cookies_may_hold_any_text() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let answer = app
        .authorize(with_cookies(&[
            "pref=José",
            "emoji=🍪",
            "empty=",
            "noequals",
            &session_cookie(&token),
        ]))
        .await
        .unwrap();
    assert_eq!(answer["isAuthorized"], true, "{answer}");
}

#[tokio::test]
async fn anything_but_a_live_session_is_denied() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let expired = app.expired_session("user-42").await;
    let unknown = SessionToken::generate().unwrap();
    let cases: Vec<(&str, Event)> = vec![
        ("no cookie", request()),
        ("other cookies only", with_cookies(&["theme=dark"])),
        (
            "unknown session",
            with_cookies(&[&session_cookie(&unknown)]),
        ),
        (
            "expired session",
            with_cookies(&[&session_cookie(&expired)]),
        ),
        (
            "not a token",
            with_cookies(&[&format!("{COOKIE_NAME}=garbage")]),
        ),
        (
            "two session cookies",
            with_cookies(&[&session_cookie(&token), &session_cookie(&unknown)]),
        ),
        (
            "a bearer token (the authorizer reads the cookie only)",
            request().header("authorization", &format!("Bearer {}", token.expose())),
        ),
    ];
    for (case, event) in cases {
        assert_eq!(app.authorize(event).await, Some(DENIED()), "{case}");
    }
}

#[tokio::test]
async fn a_logged_out_session_is_denied_at_once() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let event = || with_cookies(&[&session_cookie(&token)]);
    assert_eq!(app.authorize(event()).await.unwrap()["isAuthorized"], true);
    let reply = app
        .invoke(Event::bodyless(Endpoint::Logout).session(&token))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(app.authorize(event()).await, Some(DENIED()));
}

#[tokio::test]
async fn the_cookie_header_serves_when_the_event_has_no_cookies_field() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let answer = app
        .authorize(request().header("Cookie", &format!("a=1; {}", session_cookie(&token))))
        .await
        .unwrap();
    assert_eq!(answer["isAuthorized"], true, "{answer}");
}

#[tokio::test]
async fn events_that_are_no_authorizer_request_are_denied() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let cookie = session_cookie(&token);
    for (case, json) in [
        ("a string", json!("hello")),
        ("null", Value::Null),
        ("cookies not a list", json!({"cookies": 42})),
        ("cookies of numbers", json!({"cookies": [1, 2]})),
        ("headers not an object", json!({"headers": [cookie]})),
    ] {
        let mut event = request();
        event.json = json;
        assert_eq!(app.authorize(event).await, Some(DENIED()), "{case}");
    }
}

#[tokio::test]
async fn an_unreadable_table_fails_the_invocation_rather_than_deny() {
    // Denying would log the user out of the application during a DynamoDB outage.
    let app = TestApp::builder()
        .failing_dynamodb(&["GetItem"])
        .start()
        .await;
    let token = app.login("user-42", None).await;
    assert_eq!(
        app.authorize(with_cookies(&[&session_cookie(&token)]))
            .await,
        None
    );
    // Without a cookie there is nothing to read: a plain denial.
    assert_eq!(app.authorize(request()).await, Some(DENIED()));
}

#[tokio::test]
async fn each_decision_publishes_one_metric_record() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    app.authorize(with_cookies(&[&session_cookie(&token)]))
        .await;
    app.authorize(request()).await;
    let records = app.metric_records();
    let seen: Vec<(&str, &str, u64, bool)> = records
        .iter()
        .map(|r| {
            (
                r["Endpoint"].as_str().unwrap(),
                r["Code"].as_str().unwrap(),
                r["Status"].as_u64().unwrap(),
                r.get("DynamoDbLatency").is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("authorizer", "ok", 200, true),
            // API Gateway answers 403 to a denied request; no cookie, no read.
            ("authorizer", "session_required", 403, false),
        ]
    );
}
