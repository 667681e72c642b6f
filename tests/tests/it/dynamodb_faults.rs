//! verifySignedPasskeyData when DynamoDB's replies are lost, refused or slow
//! (through a [`FaultProxy`]). Corbado has consumed the single-use
//! signedPasskeyData by the time the session is written, so a write that
//! committed must end in a working login, never in a 500 and an orphan session.

use std::time::Duration;

use integration_tests::*;
use serde_json::json;

const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;
const CREATE: Endpoint = Endpoint::CreateConnectToken;
const PUT: &str = "PutItem";
const TRANSACT: &str = "TransactWriteItems";
const USER: &str = "user-42";

/// An app behind the proxies whose Corbado stand-in verifies one login by
/// [`USER`]; returns that login's signedPasskeyData.
async fn start() -> (TestApp, FaultProxies, String) {
    let (t, proxies) = TestApp::builder().start_behind_fault_proxies().await;
    let jwt = t.expect_verification(USER, "success", 1).await;
    (t, proxies, jwt)
}

fn login(jwt: &str) -> Event {
    Event::json(VERIFY, &json!({ "signedPasskeyData": jwt }))
}

fn connect_token_request() -> Event {
    Event::json(CREATE, &json!({"type": "passkey-list"}))
}

/// Asserts a successful login and returns the token of the session cookie it set.
/// createConnectToken accepts the session (Corbado's answer mounted here).
async fn assert_session_works(t: &TestApp, token: &str) {
    t.expect_corbado(
        "/connectTokens",
        json!({"type": "passkey-list", "data": {"identifier": USER}}),
        connect_token_rsp(Some("ctk1_after_fault")),
        1,
    )
    .await;
    let reply = t
        .invoke(connect_token_request().cookie(&format!("{COOKIE_NAME}={token}")))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.raw);
    assert_eq!(reply.body, json!({"connectToken": "ctk1_after_fault"}));
}

#[tokio::test]
async fn a_lost_put_item_reply_after_the_write_committed_still_logs_the_user_in() {
    let (t, proxies, jwt) = start().await;
    proxies.dynamodb.inject(PUT, Fault::LoseReply, 1);

    let token = t.invoke(login(&jwt)).await.session_token();

    t.assert_only_session(&session_key(&token)).await;
    assert_session_works(&t, &token).await;
}

#[tokio::test]
async fn a_lost_transaction_reply_after_the_commit_still_replaces_the_old_session() {
    let (t, proxies, jwt) = start().await;
    let old = t.login(USER, None).await;
    proxies.dynamodb.inject(TRANSACT, Fault::LoseReply, 1);

    let token = t.invoke(login(&jwt).session(&old)).await.session_token();

    assert_ne!(token, old.expose());
    t.assert_only_session(&session_key(&token)).await;
    t.invoke(connect_token_request().session(&old))
        .await
        .assert_error(401, "session_invalid");
    assert_session_works(&t, &token).await;
}

/// A re-login whose transaction first meets `fault`, then goes through.
async fn assert_relogin_succeeds_after(fault: Fault) {
    let (t, proxies, jwt) = start().await;
    let old = t.login(USER, None).await;
    proxies.dynamodb.inject(TRANSACT, fault.clone(), 1);

    let reply = t.invoke(login(&jwt).session(&old)).await;
    assert_eq!(reply.status, 200, "after {fault:?}: {:?}", reply.raw);
    let token = reply.session_token();

    t.assert_only_session(&session_key(&token)).await;
    assert_eq!(proxies.dynamodb.forwarded(TRANSACT), 1);
    assert_session_works(&t, &token).await;
}

#[tokio::test]
async fn a_transaction_conflict_is_retried() {
    assert_relogin_succeeds_after(Fault::transaction_canceled(&[
        "TransactionConflict",
        "None",
    ]))
    .await;
}

#[tokio::test]
async fn a_transaction_canceled_for_throttling_is_retried() {
    assert_relogin_succeeds_after(Fault::transaction_canceled(&["ThrottlingError", "None"])).await;
}

#[tokio::test]
async fn a_throttled_transaction_is_retried() {
    assert_relogin_succeeds_after(Fault::dynamodb_error("ThrottlingException")).await;
}

#[tokio::test]
async fn throttled_put_items_are_retried() {
    for error_type in [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
    ] {
        let (t, proxies, jwt) = start().await;
        proxies
            .dynamodb
            .inject(PUT, Fault::dynamodb_error(error_type), 1);

        let reply = t.invoke(login(&jwt)).await;
        assert_eq!(reply.status, 200, "after {error_type}: {:?}", reply.raw);
        let token = reply.session_token();

        t.assert_only_session(&session_key(&token)).await;
        assert_eq!(proxies.dynamodb.forwarded(PUT), 1, "{error_type}");
    }
}

#[tokio::test]
async fn a_conflict_on_every_attempt_is_a_500_that_leaves_the_old_session() {
    let (t, proxies, jwt) = start().await;
    let old = t.login(USER, None).await;
    let conflict = Fault::transaction_canceled(&["TransactionConflict", "None"]);
    proxies.dynamodb.inject(TRANSACT, conflict, 1000);

    let started = std::time::Instant::now();
    t.invoke(login(&jwt).session(&old))
        .await
        .assert_error(500, "internal_error");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the retries end within the budget: {:?}",
        started.elapsed()
    );

    assert_eq!(proxies.dynamodb.forwarded(TRANSACT), 0);
    t.assert_only_session(old.key()).await;
    assert_session_works(&t, old.expose()).await;
}

#[tokio::test]
async fn a_put_item_slower_than_the_attempt_timeout_still_logs_the_user_in() {
    let (t, proxies, jwt) = start().await;
    // Beyond the SDK's 1.5 s attempt timeout: the SDK sends the write again
    // after a random backoff of up to 1 s, so the slow write mostly lands
    // first and the retry finds its item; either order must end well.
    proxies
        .dynamodb
        .inject(PUT, Fault::Delay(Duration::from_millis(1600)), 1);

    let token = t.invoke(login(&jwt)).await.session_token();

    proxies
        .dynamodb
        .wait_forwarded(PUT, 2, Duration::from_secs(5))
        .await;
    t.assert_only_session(&session_key(&token)).await;
    assert_session_works(&t, &token).await;
}
