//! `GET /auth/session`, `DELETE /auth/session` (logout) and `DELETE /auth/sessions`
//! (logout everywhere), through the functions' runtime path against DynamoDB Local:
//! what the browser gets back, and what stays in the table.

use connect_backend::SessionToken;
use integration_tests::*;
use serde_json::json;

fn who_am_i() -> Event {
    Event::bodyless(Endpoint::Session)
}

fn logout() -> Event {
    Event::bodyless(Endpoint::Logout)
}

fn logout_everywhere() -> Event {
    Event::bodyless(Endpoint::LogoutEverywhere)
}

/// The table's session keys, sorted.
async fn keys(app: &TestApp) -> Vec<String> {
    let mut keys: Vec<String> = app
        .items()
        .await
        .iter()
        .map(|item| item["sessionKey"].as_s().unwrap().clone())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_session_route_tells_the_page_who_is_logged_in() {
    let app = TestApp::start().await;
    let token = app.login("user-42", Some("Jane Doe")).await;
    let reply = app.invoke(who_am_i().session(&token)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    let expires_at = reply.body["expiresAt"]
        .as_u64()
        .expect("expiresAt in epoch seconds");
    assert_eq!(
        reply.body,
        json!({"userId": "user-42", "displayName": "Jane Doe", "expiresAt": expires_at})
    );
    let now = connect_backend::session::now_epoch_seconds();
    assert!((now + SESSION_TTL_SECONDS - 5..=now + SESSION_TTL_SECONDS).contains(&expires_at));
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert!(
        reply.cookies.is_empty(),
        "reading the session sets no cookie"
    );

    // Without a display name, the field is absent.
    let plain = app.login("user-43", None).await;
    let reply = app.invoke(who_am_i().session(&plain)).await;
    assert_eq!(reply.body["userId"], "user-43");
    assert!(reply.body.get("displayName").is_none(), "{:?}", reply.body);
}

/// A 401 `session_invalid` that also drops the dead cookie from the browser.
fn assert_invalid_and_cleared(case: &str, reply: &Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (401, "session_invalid"),
        "{case}: {:?}",
        reply.raw
    );
    assert_eq!(reply.cookies, [CLEARED], "{case}");
}

#[tokio::test]
async fn the_session_route_answers_401_without_a_live_session() {
    let app = TestApp::start().await;
    app.invoke(who_am_i())
        .await
        .assert_error(401, "session_required");
    let token = app.login("user-42", None).await;
    app.invoke(
        who_am_i()
            .session(&token)
            .cookie(&format!("{COOKIE_NAME}=planted")),
    )
    .await
    .assert_error(401, "session_ambiguous");
    // A page of another site may not read it with the user's cookie. The checks run in
    // openapi.yaml's order: presence of a session before the Origin of a cookie request.
    app.invoke(
        who_am_i()
            .session(&token)
            .header("origin", "https://evil.example.net"),
    )
    .await
    .assert_error(403, "origin_not_allowed");
    app.invoke(who_am_i().header("origin", "https://evil.example.net"))
        .await
        .assert_error(401, "session_required");
}

#[tokio::test]
async fn logout_revokes_the_session_and_clears_the_cookie() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let other_device = app.login("user-42", None).await;

    let reply = app.invoke(logout().session(&token)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body, json!({"success": true}));
    assert_eq!(reply.cookies, [CLEARED]);

    assert_eq!(keys(&app).await, [session_key(other_device.expose())]);
    let reply = app.invoke(who_am_i().session(&token)).await;
    assert_invalid_and_cleared("logged out", &reply);
    assert_eq!(
        app.invoke(who_am_i().session(&other_device)).await.status,
        200
    );
}

#[tokio::test]
async fn logout_always_ends_in_a_cleared_cookie() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    let unknown = SessionToken::generate().unwrap();
    let cases = [
        ("no cookie", logout()),
        ("unknown session", logout().session(&unknown)),
        (
            "not a token",
            logout().cookie(&format!("{COOKIE_NAME}=garbage")),
        ),
        (
            "two session cookies",
            logout()
                .session(&token)
                .cookie(&format!("{COOKIE_NAME}=planted")),
        ),
        ("no Origin header", logout().without_header("origin")),
    ];
    for (case, event) in cases {
        let reply = app.invoke(event).await;
        assert_eq!(reply.status, 200, "{case}: {:?}", reply.raw);
        assert_eq!(reply.body, json!({"success": true}), "{case}");
        assert_eq!(reply.cookies, [CLEARED], "{case}");
    }
    // Two cookies of our name: either may be planted, so neither session is ended.
    assert_eq!(keys(&app).await, [session_key(token.expose())]);
    // Logging out twice is no error.
    for _ in 0..2 {
        let reply = app.invoke(logout().session(&token)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.cookies, [CLEARED]);
    }
    app.assert_table_empty().await;
}

#[tokio::test]
async fn a_page_of_another_site_cannot_log_the_user_out() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    for event in [logout(), logout_everywhere()] {
        app.invoke(
            event
                .session(&token)
                .header("origin", "https://evil.example.net"),
        )
        .await
        .assert_error(403, "origin_not_allowed");
    }
    assert_eq!(keys(&app).await, [session_key(token.expose())]);
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user_and_no_other() {
    let app = TestApp::start().await;
    let presented = app.login("user-42", None).await;
    for _ in 0..2 {
        app.login("user-42", None).await;
    }
    let someone_else = app.login("user-7", None).await;

    let reply = app.invoke(logout_everywhere().session(&presented)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body, json!({"success": true, "revoked": 3}));
    assert_eq!(reply.cookies, [CLEARED]);
    assert_eq!(keys(&app).await, [session_key(someone_else.expose())]);
    assert_eq!(
        app.invoke(who_am_i().session(&someone_else)).await.status,
        200
    );
}

#[tokio::test]
async fn logout_everywhere_ends_more_sessions_than_one_round_of_deletes() {
    let app = TestApp::start().await;
    let presented = app.login("user-42", None).await;
    for _ in 0..59 {
        app.login("user-42", None).await;
    }
    let reply = app.invoke(logout_everywhere().session(&presented)).await;
    assert_eq!(
        reply.body,
        json!({"success": true, "revoked": 60}),
        "{:?}",
        reply.raw
    );
    app.assert_table_empty().await;
}

#[tokio::test]
async fn logout_everywhere_needs_a_live_session_and_deletes_nothing_without_one() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    app.invoke(logout_everywhere())
        .await
        .assert_error(401, "session_required");
    let reply = app
        .invoke(logout_everywhere().session(&SessionToken::generate().unwrap()))
        .await;
    assert_invalid_and_cleared("unknown session", &reply);
    assert_eq!(keys(&app).await, [session_key(token.expose())]);
}

#[tokio::test]
async fn a_dead_session_cookie_gets_its_401_with_the_clearing_cookie() {
    let app = TestApp::start().await;
    let unknown = SessionToken::generate().unwrap();
    // Expired, though DynamoDB's TTL has not removed it yet.
    let expired = app.expired_session("user-42").await;
    let not_a_token = format!("{COOKIE_NAME}=not-a-token");
    let cases = [
        ("who am I, unknown", who_am_i().session(&unknown)),
        ("who am I, expired", who_am_i().session(&expired)),
        ("who am I, not a token", who_am_i().cookie(&not_a_token)),
        ("everywhere, unknown", logout_everywhere().session(&unknown)),
        ("everywhere, expired", logout_everywhere().session(&expired)),
        (
            "everywhere, not a token",
            logout_everywhere().cookie(&not_a_token),
        ),
    ];
    for (case, event) in cases {
        assert_invalid_and_cleared(case, &app.invoke(event).await);
    }

    // Logout everywhere retried after its reply was lost: the session ended the first time.
    let token = app.login("user-42", None).await;
    let first = app.invoke(logout_everywhere().session(&token)).await;
    assert_eq!(first.status, 200, "{:?}", first.raw);
    let retried = app.invoke(logout_everywhere().session(&token)).await;
    assert_invalid_and_cleared("retried after a lost reply", &retried);

    // A native app's bearer token is no cookie: there is none to clear.
    let native = TestApp::builder().native().start().await;
    let reply = native
        .invoke(
            who_am_i()
                .without_header("origin")
                .header("authorization", &format!("Bearer {}", unknown.expose())),
        )
        .await;
    reply.assert_error(401, "session_invalid");
}

#[tokio::test]
async fn logout_ends_the_cookies_session_whatever_authorization_header_comes_along() {
    // Native sessions off: a global fetch wrapper's bearer token is not ours to judge.
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    for bearer in ["Bearer app-api-token", "Bearer "] {
        let reply = app
            .invoke(logout().session(&token).header("authorization", bearer))
            .await;
        assert_eq!(reply.status, 200, "{bearer}: {:?}", reply.raw);
        assert_eq!(reply.body, json!({"success": true}));
        assert_eq!(reply.cookies, [CLEARED], "{bearer}");
        app.assert_table_empty().await;
    }

    // Native sessions on, a cookie and a bearer token of ours: both sessions end.
    let native = TestApp::builder().native().start().await;
    let cookie = native.login("user-42", None).await;
    let bearer = native.login("user-42", None).await;
    let untouched = native.login("user-42", None).await;
    let reply = native
        .invoke(
            logout()
                .session(&cookie)
                .header("authorization", &format!("Bearer {}", bearer.expose())),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.cookies, [CLEARED]);
    assert_eq!(keys(&native).await, [session_key(untouched.expose())]);
    // And a bearer token that is not one of ours leaves the cookie's logout alone.
    let reply = native
        .invoke(
            logout()
                .session(&untouched)
                .header("authorization", "Bearer app-api-token"),
        )
        .await;
    assert_eq!((reply.status, reply.cookies.len()), (200, 1));
    native.assert_table_empty().await;
}

#[tokio::test]
async fn a_failed_revocation_is_a_500_and_the_cookie_stays() {
    let app = TestApp::builder()
        .failing_dynamodb(&["DeleteItem"])
        .start()
        .await;
    let token = app.login("user-42", None).await;
    app.login("user-42", None).await;
    for event in [logout(), logout_everywhere()] {
        let reply = app.invoke(event.session(&token)).await;
        reply.assert_error(500, "internal_error");
    }
    assert_eq!(
        app.items().await.len(),
        2,
        "nothing was revoked, and nothing claims it was"
    );
}

#[tokio::test]
async fn the_routes_name_the_methods_they_allow() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    for (event, allow) in [
        (who_am_i().method("POST"), "GET, DELETE"),
        (who_am_i().method("PUT"), "GET, DELETE"),
        (logout_everywhere().method("GET"), "DELETE"),
    ] {
        let reply = app.invoke(event.session(&token)).await;
        reply.assert_error(405, "method_not_allowed");
        assert_eq!(reply.headers["allow"], allow);
    }
    let mut elsewhere = who_am_i();
    elsewhere.json["rawPath"] = json!("/auth/profile");
    app.invoke(elsewhere).await.assert_error(404, "not_found");
    assert_eq!(keys(&app).await, [session_key(token.expose())]);
}

#[tokio::test]
async fn native_apps_use_the_routes_with_their_bearer_token_and_get_no_cookie() {
    let app = TestApp::builder().native().start().await;
    let token = app.login("user-42", None).await;
    let bearer = |event: Event| {
        event
            .without_header("origin")
            .header("authorization", &format!("Bearer {}", token.expose()))
    };
    let reply = app.invoke(bearer(who_am_i())).await;
    assert_eq!(
        (reply.status, &reply.body["userId"]),
        (200, &json!("user-42"))
    );
    let reply = app.invoke(bearer(logout())).await;
    assert_eq!(
        (reply.status, reply.cookies.len()),
        (200, 0),
        "{:?}",
        reply.raw
    );
    app.assert_table_empty().await;

    // Off (the default), a bearer token is refused rather than ignored.
    let browser_only = TestApp::start().await;
    let token = browser_only.login("user-42", None).await;
    browser_only
        .invoke(
            who_am_i()
                .without_header("origin")
                .header("authorization", &format!("Bearer {}", token.expose())),
        )
        .await
        .assert_error(400, "native_sessions_disabled");
}

#[tokio::test]
async fn each_route_publishes_its_own_endpoint_metrics() {
    let app = TestApp::start().await;
    let token = app.login("user-42", None).await;
    app.invoke(who_am_i().session(&token)).await;
    app.invoke(logout_everywhere().session(&token)).await;
    app.invoke(logout()).await;
    app.invoke(who_am_i()).await;
    let records: Vec<(String, String, u64)> = app
        .metric_records()
        .iter()
        .map(|r| {
            (
                r["Endpoint"].as_str().unwrap().to_owned(),
                r["Code"].as_str().unwrap().to_owned(),
                r["Status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("session", "ok", 200),
        ("logoutEverywhere", "ok", 200),
        ("logout", "ok", 200),
        ("session", "session_required", 401),
    ];
    let expected: Vec<(String, String, u64)> = expected
        .iter()
        .map(|(e, c, s)| ((*e).to_owned(), (*c).to_owned(), *s))
        .collect();
    assert_eq!(records, expected);
}
