//! Calls to Corbado whose connection fails, through a [`FaultProxy`].
//! signedPasskeyData is single-use: a verifySignedData that may have reached
//! Corbado must not be sent again (Corbado would answer `invalid_challenge`).
//! A connect token is cheap: a failed `POST /connectTokens` is simply retried.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use integration_tests::*;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::Mock;

const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;
const CREATE: Endpoint = Endpoint::CreateConnectToken;
const VERIFY_PATH: &str = "/v2/passkey/verifySignedData";
const TOKENS_PATH: &str = "/v2/connectTokens";
const USER: &str = "user-42";

/// Like the real Corbado, the stand-in verifies the login once; the same
/// signedPasskeyData sent again is an `invalid_challenge`. Returns it.
async fn single_use_login(t: &TestApp) -> String {
    let jwt = signed_passkey_data(login_claims(USER));
    let verification = || {
        Mock::given(method("POST"))
            .and(path(VERIFY_PATH))
            .and(header("authorization", basic_auth(API_SECRET).as_str()))
            .and(body_json(
                json!({"signedPasskeyData": jwt, "username": USER}),
            ))
    };
    verification()
        .respond_with(verify_rsp("success"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&t.corbado)
        .await;
    verification()
        .respond_with(verify_rsp("invalid_challenge"))
        .with_priority(2)
        .mount(&t.corbado)
        .await;
    jwt
}

fn login(jwt: &str) -> Event {
    Event::json(VERIFY, &json!({ "signedPasskeyData": jwt }))
}

/// A verification that may have reached Corbado is not sent again: the
/// login is a 502, and nothing is written.
async fn assert_not_resent_after(fault: Fault) {
    let (t, proxies) = TestApp::builder().start_behind_fault_proxies().await;
    let jwt = single_use_login(&t).await;
    proxies.corbado.inject(VERIFY_PATH, fault.clone(), 1);

    let reply = t.invoke(login(&jwt)).await;

    assert_eq!(
        proxies.corbado.received(VERIFY_PATH),
        1,
        "{fault:?}: sent again"
    );
    reply.assert_case_error(&format!("{fault:?}"), 502, "upstream_error");
    t.assert_table_empty().await;
}

#[tokio::test]
async fn a_verification_whose_connection_resets_after_it_reached_corbado_is_not_resent() {
    assert_not_resent_after(Fault::ResetAfterForward).await;
}

#[tokio::test]
async fn a_verification_whose_answer_is_cut_short_is_not_resent() {
    assert_not_resent_after(Fault::TruncatedBody).await;
}

/// The proxy reset the connection before passing the request on, but the
/// app cannot tell that from a reset after: to it, the request may have
/// reached Corbado.
#[tokio::test]
async fn a_verification_whose_connection_resets_before_it_reached_corbado_is_not_resent() {
    assert_not_resent_after(Fault::ResetBeforeForward).await;
}

#[tokio::test]
async fn a_verification_answered_503_is_not_resent() {
    assert_not_resent_after(Fault::corbado_error(503, "internal_error")).await;
}

#[tokio::test]
async fn a_verification_answered_429_is_sent_again() {
    let (t, proxies) = TestApp::builder().start_behind_fault_proxies().await;
    let jwt = single_use_login(&t).await;
    let too_many = Fault::corbado_error(429, "too_many_requests");
    proxies.corbado.inject(VERIFY_PATH, too_many, 1);

    let reply = t.invoke(login(&jwt)).await;

    t.assert_only_session(&session_key(&reply.session_token()))
        .await;
    assert_eq!(proxies.corbado.received(VERIFY_PATH), 2);
    assert_eq!(proxies.corbado.forwarded(VERIFY_PATH), 1);
}

/// The Corbado client's module: it logs a failed attempt before it backs off and tries again.
const CORBADO_CLIENT: &str = "connect_backend::upstream::corbado";

#[tokio::test]
async fn a_verification_whose_connection_is_refused_is_sent_again() {
    let (t, proxies) = TestApp::builder().start_behind_fault_proxies().await;
    let jwt = single_use_login(&t).await;
    proxies.corbado.stop_listening().await;
    // Corbado comes back between the refused attempt and the retry. The
    // test's runtime is single-threaded, so the app logs on this thread. The
    // process's one subscriber runs the hook: with a thread-scoped one, tracing
    // would cache "not interested" for the log call if another test's thread
    // reached it first.
    let came_back = Arc::new(AtomicBool::new(false));
    {
        let (proxy, came_back) = (proxies.corbado.clone(), Arc::clone(&came_back));
        logs::on_first_event(CORBADO_CLIENT, move || {
            proxy.listen_again();
            came_back.store(true, Ordering::SeqCst);
        });
    }

    let reply = t.invoke(login(&jwt)).await;

    assert!(
        came_back.load(Ordering::SeqCst),
        "the app logged no failed attempt: {:?}",
        reply.raw
    );
    t.assert_only_session(&session_key(&reply.session_token()))
        .await;
    assert_eq!(proxies.corbado.forwarded(VERIFY_PATH), 1);
}

/// `POST /connectTokens` meets `fault` once, then is sent again and goes
/// through; `reaching_corbado` of the two requests reach the stand-in.
async fn assert_connect_token_after(fault: Fault, reaching_corbado: u64) {
    let (t, proxies) = TestApp::builder().start_behind_fault_proxies().await;
    let session = t.login(USER, None).await;
    t.expect_corbado(
        "/connectTokens",
        json!({"type": "passkey-list", "data": {"identifier": USER}}),
        connect_token_rsp(Some("ctk1_after_fault")),
        reaching_corbado,
    )
    .await;
    proxies.corbado.inject(TOKENS_PATH, fault.clone(), 1);

    let reply = t
        .invoke(Event::json(CREATE, &json!({"type": "passkey-list"})).session(&session))
        .await;

    assert_eq!(reply.status, 200, "after {fault:?}: {:?}", reply.raw);
    assert_eq!(reply.body, json!({"connectToken": "ctk1_after_fault"}));
    assert_eq!(proxies.corbado.received(TOKENS_PATH), 2, "{fault:?}");
    assert_eq!(
        proxies.corbado.forwarded(TOKENS_PATH) as u64,
        reaching_corbado,
        "{fault:?}"
    );
}

#[tokio::test]
async fn a_connect_token_request_whose_connection_resets_is_sent_again() {
    assert_connect_token_after(Fault::ResetAfterForward, 2).await;
}

#[tokio::test]
async fn a_connect_token_request_whose_answer_is_cut_short_is_sent_again() {
    assert_connect_token_after(Fault::TruncatedBody, 2).await;
}

#[tokio::test]
async fn a_connect_token_request_answered_503_is_sent_again() {
    assert_connect_token_after(Fault::corbado_error(503, "internal_error"), 1).await;
}
