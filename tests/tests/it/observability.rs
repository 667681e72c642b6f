//! What operators see in CloudWatch: one Embedded Metric Format record per
//! request, with the endpoint, the outcome code and the upstream latencies.
//! (The matching summary log line: `logs::request_log`.)

use integration_tests::*;
use serde_json::{json, Value};
use wiremock::matchers::path;
use wiremock::Mock;

const NAMESPACE: &str = "CorbadoConnect/observability-test";

async fn app() -> TestApp {
    TestApp::builder()
        .env("METRICS_NAMESPACE", NAMESPACE)
        .start()
        .await
}

/// The metric names each directive of `record` declares, by dimension set.
fn declared(record: &Value) -> Vec<(Value, Vec<String>)> {
    record["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|directive| {
            assert_eq!(directive["Namespace"], NAMESPACE);
            let names = directive["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap().to_owned())
                .collect();
            (directive["Dimensions"].clone(), names)
        })
        .collect()
}

fn assert_record(record: &Value, reply: &Reply, endpoint: &str, code: &str, upstreams: &[&str]) {
    assert_eq!(record["requestId"], reply.request_id.as_str());
    assert_eq!(record["Endpoint"], endpoint);
    assert_eq!(record["Code"], code);
    assert_eq!(record["Status"], reply.status);
    assert_eq!(record["Requests"], 1);
    assert_eq!(record["ServerErrors"], u8::from(reply.status >= 500));
    assert!(record["Latency"].as_f64().unwrap() > 0.0);
    let mut by_endpoint = vec!["ServerErrors", "CorbadoFailures", "Latency"];
    by_endpoint.extend(upstreams);
    assert_eq!(
        declared(record),
        [
            (json!([["Endpoint", "Code"]]), vec!["Requests".to_owned()]),
            (
                json!([["Endpoint"]]),
                by_endpoint.iter().map(|s| s.to_string()).collect()
            ),
        ]
    );
    for upstream in upstreams {
        assert!(record[upstream].as_f64().unwrap() > 0.0, "{upstream}");
    }
}

#[tokio::test]
async fn every_request_publishes_one_metric_record_with_its_outcome() {
    let t = app().await;
    let jwt = t.expect_verification("user-7", "success", 1).await;
    let login = t
        .invoke(Event::json(
            Endpoint::VerifySignedPasskeyData,
            &json!({"signedPasskeyData": jwt}),
        ))
        .await;
    assert_eq!(login.status, 200);
    let session = t.login("user-7", None).await;
    t.expect_corbado(
        "/connectTokens",
        json!({"type": "passkey-list", "data": {"identifier": "user-7"}}),
        connect_token_rsp(Some("ctk1_observability")),
        1,
    )
    .await;
    let token = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-list"}),
            )
            .session(&session),
        )
        .await;
    assert_eq!(token.status, 200);
    let refused = t
        .invoke(Event::json(
            Endpoint::CreateConnectToken,
            &json!({"type": "passkey-list"}),
        ))
        .await;
    refused.assert_error(401, "session_required");
    let rejected_jwt = t
        .expect_verification("user-8", "invalid_signature", 1)
        .await;
    let rejected = t
        .invoke(Event::json(
            Endpoint::VerifySignedPasskeyData,
            &json!({"signedPasskeyData": rejected_jwt}),
        ))
        .await;
    rejected.assert_error(401, "invalid_signature");

    let records = t.metric_records();
    assert_eq!(records.len(), 4, "one record per request: {records:#?}");
    let both = ["CorbadoLatency", "DynamoDbLatency"];
    assert_record(&records[0], &login, "verifySignedPasskeyData", "ok", &both);
    assert_record(&records[1], &token, "createConnectToken", "ok", &both);
    assert_record(
        &records[2],
        &refused,
        "createConnectToken",
        "session_required",
        &[],
    );
    // Corbado answered; the user's passkey failed: not a Corbado failure.
    assert_record(
        &records[3],
        &rejected,
        "verifySignedPasskeyData",
        "invalid_signature",
        &["CorbadoLatency"],
    );
    assert!(records.iter().all(|r| r["CorbadoFailures"] == 0));
}

#[tokio::test]
async fn corbado_failures_are_counted_and_their_requests_are_server_errors() {
    let t = app().await;
    Mock::given(path("/v2/passkey/verifySignedData"))
        .respond_with(error_rsp(503, "unavailable"))
        .mount(&t.corbado)
        .await;
    let failed = t
        .invoke(Event::json(
            Endpoint::VerifySignedPasskeyData,
            &json!({"signedPasskeyData": signed_passkey_data(login_claims("user-9"))}),
        ))
        .await;
    failed.assert_error(502, "upstream_error");
    let records = t.metric_records();
    assert_eq!(records.len(), 1);
    assert_record(
        &records[0],
        &failed,
        "verifySignedPasskeyData",
        "upstream_error",
        &["CorbadoLatency"],
    );
    assert_eq!(records[0]["CorbadoFailures"], 1);
    assert_eq!(records[0]["ServerErrors"], 1);
}
