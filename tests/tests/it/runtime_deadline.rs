//! One deadline per invocation, which every phase draws from: when Corbado and DynamoDB
//! drag, the real function binaries under the Lambda Runtime API still answer, with a
//! documented error, before Lambda's timeout would end the invocation with no answer and
//! no summary line. The function's timeout here is shorter than the template's 15 s so
//! that the tests run quickly; the deadline the runtime hands over is what counts.

use std::time::{Duration, Instant};

use crate::runtime_support::*;
use connect_tools::runtime_api::{FunctionProcess, Outcome};
use integration_tests::*;
use serde_json::{json, Value};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer};

const TIMEOUT: Duration = Duration::from_secs(8);

/// A table, a secret and a DynamoDB Local reached through a fault proxy.
async fn dragging_dynamodb() -> (Emulators, String, String, FaultProxy) {
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let dynamodb_url = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    let proxy = FaultProxy::start(&dynamodb_url).await;
    (emulators, table, secret_arn, proxy)
}

/// Invokes, and asserts that the answer is `status` and `code` and came before the deadline.
async fn assert_answers_in_time(process: &FunctionProcess, event: &Value, status: u64, code: &str) {
    let started = Instant::now();
    let outcome = process.invoke(event).await;
    let took = started.elapsed();
    let response = match outcome {
        Outcome::Response(response) => response,
        other => panic!(
            "{other:?} after {took:?}\nstdout:\n{}",
            process.stdout().join("\n")
        ),
    };
    let body = body(&response);
    assert_eq!(
        (response["statusCode"].as_u64(), body["code"].as_str()),
        (Some(status), Some(code)),
        "{response}"
    );
    assert!(took < TIMEOUT, "answered after {took:?}");
    // The summary line was written: Lambda did not cut the invocation off.
    let summary = process
        .stdout()
        .iter()
        .any(|line| line.contains("request failed") && line.contains(code));
    assert!(summary, "no summary line:\n{}", process.stdout().join("\n"));
}

fn login_event() -> Value {
    let jwt = signed_passkey_data(login_claims("user-42"));
    Event::json(
        Endpoint::VerifySignedPasskeyData,
        &json!({ "signedPasskeyData": jwt }),
    )
    .json
}

#[tokio::test]
async fn a_login_leaves_the_session_write_its_time_when_corbado_drags() {
    let (_emulators, table, secret_arn, dynamodb) = dragging_dynamodb().await;
    // Corbado answers within its own attempt timeout (5 s), but late; and every session
    // write and read-back loses its reply.
    let corbado = MockServer::start().await;
    Mock::given(path("/v2/passkey/verifySignedData"))
        .respond_with(verify_rsp("success").set_delay(Duration::from_secs(4)))
        .mount(&corbado)
        .await;
    dynamodb.inject("PutItem", Fault::LoseReply, 100);
    dynamodb.inject("GetItem", Fault::LoseReply, 100);
    let overrides = [("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url())];
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let env = function_env(&table, &secret_arn, &corbado.uri(), &overrides);
    let process = start_function_with_timeout(VERIFY_SIGNED_PASSKEY_DATA, env, TIMEOUT).await;
    // Corbado's share ends first, so the single-use data is either verified with time
    // left to write the session, or the login fails before anything is written.
    assert_answers_in_time(&process, &login_event(), 504, "upstream_timeout").await;
    assert_eq!(dynamodb.received("PutItem"), 0, "no session write began");
}

#[tokio::test]
async fn a_login_whose_session_write_and_read_back_lose_their_replies_answers_in_time() {
    let (emulators, table, secret_arn, dynamodb) = dragging_dynamodb().await;
    let corbado = corbado_accepting_everything("ctk1_unused").await;
    dynamodb.inject("PutItem", Fault::LoseReply, 100);
    dynamodb.inject("GetItem", Fault::LoseReply, 100);
    let overrides = [("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url())];
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let env = function_env(&table, &secret_arn, &corbado.uri(), &overrides);
    let process = start_function_with_timeout(VERIFY_SIGNED_PASSKEY_DATA, env, TIMEOUT).await;
    assert_answers_in_time(&process, &login_event(), 500, "internal_error").await;
    // The process goes on serving.
    let refused = Event::json(
        Endpoint::VerifySignedPasskeyData,
        &json!({"signedPasskeyData": "not-a-jwt"}),
    );
    let reply = answer(&process, &refused.json).await;
    assert_eq!(reply["statusCode"], 400);
    drop(emulators);
}

#[tokio::test]
async fn logout_everywhere_whose_deletes_lose_their_replies_answers_in_time() {
    let (emulators, table, _, dynamodb) = dragging_dynamodb().await;
    let token = create_session(&emulators, &table, "user-42").await;
    for _ in 0..2 {
        create_session(&emulators, &table, "user-42").await;
    }
    // Each delete lands, but its reply never comes: the function cannot know, and retries.
    dynamodb.inject("DeleteItem", Fault::LoseReply, 1000);
    let overrides = [("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url())];
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let env = function_env(&table, "unused", "http://127.0.0.1:9", &overrides);
    let process = start_function_with_timeout("session", env, TIMEOUT).await;
    let event = Event::bodyless(Endpoint::LogoutEverywhere)
        .session(&token)
        .json;
    assert_answers_in_time(&process, &event, 500, "internal_error").await;
}
