//! The fault-injecting proxy itself (`tests/src/fault_proxy.rs`): what each fault shows the
//! client and the upstream.

use std::time::Duration;

use integration_tests::{Fault, FaultProxy};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/thing";

async fn upstream_and_proxy() -> (MockServer, FaultProxy, reqwest::Client) {
    let upstream = MockServer::start().await;
    Mock::given(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("0123456789"))
        .mount(&upstream)
        .await;
    let proxy = FaultProxy::start(&upstream.uri()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    (upstream, proxy, client)
}

async fn upstream_saw(upstream: &MockServer) -> usize {
    upstream.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn without_faults_requests_and_answers_pass_unchanged() {
    let (upstream, proxy, client) = upstream_and_proxy().await;
    let response = client
        .post(proxy.url() + PATH)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "0123456789");
    assert_eq!((proxy.received(PATH), proxy.forwarded(PATH)), (1, 1));
    assert_eq!(upstream_saw(&upstream).await, 1);
}

#[tokio::test]
async fn each_fault_shows_the_client_and_the_upstream_what_it_says() {
    let (upstream, proxy, client) = upstream_and_proxy().await;
    let send = || client.post(proxy.url() + PATH).body("x").send();

    proxy.inject(PATH, Fault::ResetBeforeForward, 1);
    let err = send().await.unwrap_err();
    assert!(!err.is_timeout() && !err.is_connect(), "{err:?}");
    assert_eq!(upstream_saw(&upstream).await, 0);

    proxy.inject(PATH, Fault::ResetAfterForward, 1);
    let err = send().await.unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(upstream_saw(&upstream).await, 1);

    proxy.inject(PATH, Fault::TruncatedBody, 1);
    let response = send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "the body must be cut");
    assert_eq!(upstream_saw(&upstream).await, 2);

    proxy.inject(PATH, Fault::LoseReply, 1);
    assert!(send().await.unwrap_err().is_timeout());
    assert_eq!(upstream_saw(&upstream).await, 3);

    proxy.inject(PATH, Fault::corbado_error(503, "internal_error"), 1);
    let response = send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "internal_error");
    assert_eq!(upstream_saw(&upstream).await, 3);

    proxy.inject(PATH, Fault::Delay(Duration::from_millis(200)), 1);
    let started = std::time::Instant::now();
    assert_eq!(send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));

    assert_eq!(send().await.unwrap().status(), 200, "the queue is empty");
    assert_eq!((proxy.received(PATH), proxy.forwarded(PATH)), (7, 5));
}

#[tokio::test]
async fn dynamodb_requests_are_keyed_by_operation_and_refused_connections_refuse() {
    let (_upstream, proxy, client) = upstream_and_proxy().await;
    proxy.inject("PutItem", Fault::dynamodb_error("ThrottlingException"), 1);
    let response = client
        .post(proxy.url() + PATH)
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["__type"],
        "com.amazonaws.dynamodb.v20120810#ThrottlingException"
    );
    assert_eq!((proxy.received("PutItem"), proxy.received(PATH)), (1, 0));

    proxy.stop_listening().await;
    let fresh = reqwest::Client::new();
    assert!(fresh
        .get(proxy.url())
        .send()
        .await
        .unwrap_err()
        .is_connect());
    proxy.listen_again();
    assert_eq!(
        fresh
            .post(proxy.url() + PATH)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
