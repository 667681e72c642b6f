//! Everything both functions log, at TRACE and for every crate (the AWS SDK,
//! hyper and reqwest included), while they run their success and failure
//! paths with known secret values: no secret may appear.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use integration_tests::*;
use serde_json::json;
use wiremock::matchers::{header, path};
use wiremock::Mock;

#[tokio::test]
async fn no_secret_reaches_the_logs_on_any_path() {
    let logs = CapturedLogs::of_this_test(tracing_subscriber::filter::LevelFilter::TRACE);

    let t = TestApp::builder().native().start().await;
    let rotated = "corbado1_rotated_secret_also_never_logged";
    let mut secrets: Vec<String> = vec![
        API_SECRET.into(),
        rotated.into(),
        basic_auth(API_SECRET),
        basic_auth(rotated),
        STANDARD.encode(format!("{PROJECT_ID}:{API_SECRET}")),
    ];

    // Logins: cookie delivery, body delivery, a failed verification.
    let jwt = signed_passkey_data(login_claims("user-42"));
    let failing_jwt = signed_passkey_data(login_claims("user-bad"));
    secrets.extend([jwt.clone(), failing_jwt.clone()]);
    Mock::given(path("/v2/passkey/verifySignedData"))
        .and(wiremock::matchers::body_partial_json(
            json!({"username": "user-42"}),
        ))
        .respond_with(verify_rsp("success"))
        .mount(&t.corbado)
        .await;
    Mock::given(path("/v2/passkey/verifySignedData"))
        .and(wiremock::matchers::body_partial_json(
            json!({"username": "user-bad"}),
        ))
        .respond_with(verify_rsp("invalid_signature"))
        .mount(&t.corbado)
        .await;

    let cookie_login = t
        .invoke(Event::json(
            Endpoint::VerifySignedPasskeyData,
            &json!({"signedPasskeyData": jwt}),
        ))
        .await;
    assert_eq!(cookie_login.status, 200);
    let (_, cookie_token, _) = parse_set_cookie(&cookie_login.cookies[0]);
    let body_login = t
        .invoke(
            Event::json(
                Endpoint::VerifySignedPasskeyData,
                &json!({"signedPasskeyData": jwt, "sessionDelivery": "body"}),
            )
            // A native app: no Origin header (browsers never get the token in the body).
            .without_header("origin")
            .cookie(&format!("{COOKIE_NAME}={cookie_token}")),
        )
        .await;
    assert_eq!(body_login.status, 200);
    let body_token = body_login.body["sessionToken"].as_str().unwrap().to_owned();
    let failed = t
        .invoke(Event::json(
            Endpoint::VerifySignedPasskeyData,
            &json!({"signedPasskeyData": failing_jwt}),
        ))
        .await;
    assert_eq!(failed.status, 401);
    secrets.extend([cookie_token, body_token.clone()]);

    // Connect tokens: after a rotation (401, refresh, retry), by bearer, and a Corbado error.
    // Each function keeps its own copy of the secret: this one reads it before the rotation.
    Mock::given(path("/v2/connectTokens"))
        .and(header("authorization", basic_auth(API_SECRET).as_str()))
        .respond_with(connect_token_rsp(Some("ctk1_before_rotation_never_logged")))
        .up_to_n_times(1)
        .mount(&t.corbado)
        .await;
    secrets.push("ctk1_before_rotation_never_logged".into());
    let before_rotation = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-list"}),
            )
            .without_header("origin")
            .header("authorization", &format!("Bearer {body_token}")),
        )
        .await;
    assert_eq!(before_rotation.status, 200, "{:?}", before_rotation.raw);
    t.emulators.rotate_secret(&t.secret_arn, rotated).await;
    Mock::given(header("authorization", basic_auth(API_SECRET).as_str()))
        .respond_with(error_rsp(401, "invalid_api_secret"))
        .mount(&t.corbado)
        .await;
    Mock::given(path("/v2/connectTokens"))
        .and(header("authorization", basic_auth(rotated).as_str()))
        .respond_with(connect_token_rsp(Some(
            "ctk1_connect_token_secret_never_logged",
        )))
        .up_to_n_times(1)
        .mount(&t.corbado)
        .await;
    Mock::given(path("/v2/connectTokens"))
        .respond_with(error_rsp(500, "internal_error"))
        .mount(&t.corbado)
        .await;
    secrets.push("ctk1_connect_token_secret_never_logged".into());
    let bearer = format!("Bearer {body_token}");
    let created = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-list"}),
            )
            .header("authorization", &bearer),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.raw);
    let upstream_failure = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-append"}),
            )
            .header("authorization", &bearer),
        )
        .await;
    assert_eq!(upstream_failure.status, 502);
    let unknown = connect_backend::SessionToken::generate().unwrap();
    secrets.push(unknown.expose().to_owned());
    let refused = t
        .invoke(
            Event::json(
                Endpoint::CreateConnectToken,
                &json!({"type": "passkey-list"}),
            )
            .session(&unknown),
        )
        .await;
    assert_eq!(refused.status, 401);

    // The metric lines go to the same log in Lambda.
    let metrics: String = t
        .metric_records()
        .iter()
        .map(|record| format!("{record}\n"))
        .collect();
    let text = logs.text() + &metrics;
    // The capture saw the interesting events, so its silence about secrets means something.
    for expected in [
        "request completed",
        "\"presented_session_revoked\":true",
        "Corbado rejected the API secret",
        "Corbado call failed; retrying",
        "\"code\":\"invalid_signature\"",
        "\"code\":\"session_invalid\"",
        "requestID=req-557650104455887358",
        "GetSecretValue",
    ] {
        assert!(text.contains(expected), "the logs lack {expected:?}");
    }
    // Every line of the process, whichever thread wrote it: this test's, its runtime's other
    // threads', and the other tests' of this binary.
    let everything = logs.everything() + &metrics;
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..12.min(secret.len())]
        );
    }
    for line in everything.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
}
