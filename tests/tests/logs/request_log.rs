//! The one summary log line of each request: endpoint, outcome code, status,
//! upstream latencies, and whose session it touched.

use integration_tests::*;
use serde_json::{json, Value};
use wiremock::matchers::path;
use wiremock::Mock;

#[tokio::test]
async fn summary_lines() {
    let logs = CapturedLogs::of_this_test(tracing_subscriber::filter::LevelFilter::INFO);
    each_request_logs_one_summary_line_with_endpoint_code_and_upstream_latencies(&logs).await;
    session_routes_and_the_authorizer_name_the_user_and_the_session_they_touch(&logs).await;
}

const SUMMARIES: [&str; 3] = ["request completed", "request refused", "request failed"];

/// The `fields` of each JSON log line whose message is one of `messages`.
fn summaries(logs: &CapturedLogs, messages: &[&str]) -> Vec<Value> {
    logs.text()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| messages.iter().any(|m| line["fields"]["message"] == *m))
        .map(|line| line["fields"].clone())
        .collect()
}

async fn each_request_logs_one_summary_line_with_endpoint_code_and_upstream_latencies(
    logs: &CapturedLogs,
) {
    let t = TestApp::start().await;
    let session = t.login("user-10", None).await;
    t.expect_corbado(
        "/connectTokens",
        json!({"type": "passkey-delete", "data": {"identifier": "user-10"}}),
        connect_token_rsp(Some("ctk1_summary")),
        1,
    )
    .await;
    let reply = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-delete"}),
            )
            .session(&session),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let jwt = t.expect_verification("user-10", "success", 1).await;
    let reply = t
        .invoke(
            Event::json(
                Endpoint::VerifySignedPasskeyData,
                &json!({"signedPasskeyData": jwt}),
            )
            .session(&session),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    Mock::given(path("/v2/connectTokens"))
        .respond_with(error_rsp(400, "invalid_input"))
        .mount(&t.corbado)
        .await;
    let fresh = t.login("user-11", None).await;
    t.invoke(
        Event::json(
            Endpoint::CreateConnectToken,
            &json!({"type": "passkey-list"}),
        )
        .session(&fresh),
    )
    .await
    .assert_error(502, "upstream_error");

    let lines = summaries(logs, &SUMMARIES);
    assert_eq!(lines.len(), 3, "one summary per request: {lines:#?}");
    let number = |line: &Value, field: &str| line[field].as_f64().unwrap_or(-1.0);
    for line in &lines {
        assert!(number(line, "latency_ms") > 0.0);
        assert!(number(line, "corbado_ms") > 0.0 && number(line, "dynamodb_ms") > 0.0);
    }
    let created = &lines[0];
    assert_eq!(created["message"], "request completed");
    assert_eq!(created["endpoint"], "createConnectToken");
    assert_eq!(created["code"], "ok");
    assert_eq!(created["status"], 200);
    assert_eq!(created["token_type"], "passkey-delete");
    let login = &lines[1];
    assert_eq!(login["endpoint"], "verifySignedPasskeyData");
    assert_eq!(login["code"], "ok");
    assert_eq!(login["corbado_user_id"], "usr-676138078732345317");
    assert_eq!(login["credential_id"], "cre-13566630052040460774");
    assert_eq!(login["presented_session_revoked"], true);
    let failed = &lines[2];
    assert_eq!(failed["message"], "request failed");
    assert_eq!(failed["code"], "upstream_error");
    assert_eq!(failed["status"], 502);
    assert!(failed["reason"].as_str().unwrap().contains("400"));
    // Corbado's request id of the failure, for their support.
    assert!(logs.text().contains("req-557650104455887358"));
}

async fn session_routes_and_the_authorizer_name_the_user_and_the_session_they_touch(
    logs: &CapturedLogs,
) {
    let before = summaries(logs, &SUMMARIES).len();
    let t = TestApp::start().await;
    let first = t.login("user-20", None).await;
    let second = t.login("user-20", None).await;
    let third = t.login("user-20", None).await;
    let reference =
        |token: &connect_backend::SessionToken| session_key(token.expose())[..16].to_owned();

    let authorized = t
        .authorize(Event::bodyless(Endpoint::Authorizer).session(&first))
        .await;
    assert_eq!(authorized.unwrap()["isAuthorized"], true);
    let reply = t
        .invoke(Event::bodyless(Endpoint::Logout).session(&first))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    let reply = t
        .invoke(Event::bodyless(Endpoint::LogoutEverywhere).session(&second))
        .await;
    assert_eq!(reply.body["revoked"], 2, "{:?}", reply.raw);
    // The authorizer names whose session it refused, too.
    let denied = t
        .authorize(Event::bodyless(Endpoint::Authorizer).session(&third))
        .await;
    assert_eq!(denied.unwrap()["isAuthorized"], false);

    let lines = summaries(logs, &SUMMARIES).split_off(before);
    let named: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["endpoint"].as_str().unwrap_or("-"),
                l["user_id"].as_str().unwrap_or("-"),
                l["session_ref"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("authorizer", "user-20", reference(&first).as_str()),
            ("logout", "user-20", reference(&first).as_str()),
            ("logoutEverywhere", "user-20", reference(&second).as_str()),
            ("authorizer", "-", reference(&third).as_str()),
        ]
    );
    assert_eq!(lines[2]["sessions_revoked"], 2);
    // In no line of the process, whichever thread or test wrote it.
    let text = logs.everything();
    for token in [&first, &second, &third] {
        assert!(!text.contains(token.expose()), "a session token was logged");
    }
}
