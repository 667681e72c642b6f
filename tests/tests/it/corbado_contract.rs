//! The requests our Corbado client sends, checked against Corbado's official
//! Backend API v2 spec by Prism (`prism proxy … --errors`): a request that
//! violates the spec gets a 422 from Prism and the flow fails.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::*;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

const CREATE: Endpoint = Endpoint::CreateConnectToken;
const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;

/// Prism in proxy mode in front of `upstream`; killed when dropped.
struct Prism {
    child: Child,
    url: String,
}

impl Prism {
    fn start(upstream: &str) -> Self {
        let bin = std::env::var("PRISM_BIN").expect("PRISM_BIN is set by scripts/test.sh");
        let spec = std::env::var("CORBADO_SPEC").expect("CORBADO_SPEC is set by scripts/test.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args([
                "proxy",
                &spec,
                upstream,
                "--errors",
                "-h",
                "127.0.0.1",
                "-p",
            ])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prism");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "prism did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn both_flows_send_requests_that_corbado_s_spec_accepts() {
    // The stand-in behind Prism answers as the spec says; Prism serves the
    // spec's paths without the `/v2` of its server URL.
    let upstream = MockServer::start().await;
    let auth = basic_auth(API_SECRET);
    Mock::given(method("POST"))
        .and(path("/passkey/verifySignedData"))
        .and(header("authorization", auth.as_str()))
        .respond_with(verify_rsp("success"))
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/connectTokens"))
        .and(header("authorization", auth.as_str()))
        .respond_with(connect_token_rsp(Some("ctk1_from_spec")))
        .expect(3)
        .mount(&upstream)
        .await;
    let prism = Prism::start(&upstream.uri());

    let emulators = Emulators::connect().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let table = emulators.new_table().await;
    let config = config(&table, &secret_arn, &prism.url);
    let verify = emulators.verify(&config);
    let create = emulators.create_connect_token(&config);

    let jwt = signed_passkey_data(login_claims("user-42"));
    let login = invoke(
        &verify,
        Event::json(VERIFY, &json!({"signedPasskeyData": jwt})),
    )
    .await;
    assert_eq!(
        login.status, 200,
        "Prism refused verifySignedData: {:?}",
        login.raw
    );
    let cookie = login.cookies[0].split(';').next().unwrap().to_owned();

    for token_type in ["passkey-append", "passkey-list", "passkey-delete"] {
        let reply = invoke(
            &create,
            Event::json(CREATE, &json!({"type": token_type})).cookie(&cookie),
        )
        .await;
        assert_eq!(
            reply.status, 200,
            "Prism refused {token_type}: {:?}",
            reply.raw
        );
        assert_eq!(reply.body, json!({"connectToken": "ctk1_from_spec"}));
    }
    upstream.verify().await;

    // The control: Prism does refuse what the spec forbids, so the passes above mean something.
    let http = reqwest::Client::new();
    let violations = [
        (
            "/passkey/verifySignedData",
            json!({"signedPasskeyData": jwt}),
        ),
        (
            "/connectTokens",
            json!({"type": "passkey-login-typo", "data": {"identifier": "x"}}),
        ),
        (
            "/connectTokens",
            json!({"type": "passkey-list", "data": {"identifier": "x", "extra": 1}}),
        ),
    ];
    for (path_, body) in violations {
        let status = http
            .post(format!("{}{path_}", prism.url))
            .basic_auth(PROJECT_ID, Some(API_SECRET))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 422, "Prism let {body} through to {path_}");
    }
    let wrong_path = http
        .post(format!("{}/passkeys/verifySignedData", prism.url))
        .basic_auth(PROJECT_ID, Some(API_SECRET))
        .json(&json!({"signedPasskeyData": jwt, "username": "user-42"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        wrong_path, 404,
        "the prose guide's plural path is not in the spec"
    );
}
