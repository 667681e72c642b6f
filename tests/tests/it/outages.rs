//! DynamoDB Local and Secrets Manager (moto) stopped in the middle of a run
//! and started again: requests during the outage fail cleanly, requests after
//! it succeed, and nothing is half-written.

use std::time::Duration;

use connect_backend::functions::{CreateConnectToken, PasskeyFunction, VerifySignedPasskeyData};
use connect_backend::session::attr;
use connect_backend::upstream::secrets::SecretCache;
use integration_tests::*;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer};

const CREATE: Endpoint = Endpoint::CreateConnectToken;
const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;

async fn corbado_that_always_succeeds() -> MockServer {
    let corbado = MockServer::start().await;
    Mock::given(path("/v2/passkey/verifySignedData"))
        .respond_with(verify_rsp("success"))
        .mount(&corbado)
        .await;
    Mock::given(path("/v2/connectTokens"))
        .respond_with(connect_token_rsp(Some("ctk1_x")))
        .mount(&corbado)
        .await;
    corbado
}

fn login(user: &str) -> Event {
    Event::json(
        VERIFY,
        &json!({"signedPasskeyData": signed_passkey_data(login_claims(user))}),
    )
}

#[tokio::test]
async fn a_dynamodb_outage_fails_cleanly_and_service_resumes_after_it() {
    let data = std::env::temp_dir().join(unique_name("dynamodb-local-data"));
    std::fs::create_dir_all(&data).unwrap();
    let mut dynamodb_local = EmulatorProcess::dynamodb_local(&data);
    dynamodb_local.start();

    let emulators = Emulators::connect().await;
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        emulators
            .function_dynamodb_config()
            .endpoint_url(dynamodb_local.url())
            .build(),
    );
    let table = unique_name("sessions");
    // A DynamoDB Local just started answers its first requests slowly.
    create_table(
        &emulators.patient_dynamodb_at(&dynamodb_local.url()),
        &table,
    )
    .await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let corbado = corbado_that_always_succeeds().await;
    let config = config(&table, &secret_arn, &format!("{}/v2", corbado.uri()));
    let secrets = || SecretCache::new(emulators.function_secrets(), &secret_arn);
    let verify =
        VerifySignedPasskeyData::with_clients(&config, dynamodb.clone(), secrets(), TEST_POLICY)
            .unwrap();
    let create =
        CreateConnectToken::with_clients(&config, dynamodb.clone(), secrets(), TEST_POLICY)
            .unwrap();

    let before = invoke(&verify, login("user-before")).await;
    assert_eq!(before.status, 200);
    let cookie = before.cookies[0].split(';').next().unwrap().to_owned();

    dynamodb_local.stop();
    for i in 0..5 {
        invoke(&verify, login(&format!("user-during-{i}")))
            .await
            .assert_error(500, "internal_error");
    }
    invoke(
        &create,
        Event::json(CREATE, &json!({"type": "passkey-list"})).cookie(&cookie),
    )
    .await
    .assert_error(500, "internal_error");

    dynamodb_local.start();
    // Started again, it answers its first requests slowly, as at first, and more so while
    // other tests keep the machine busy: wait for one through a patient client, so that what
    // follows asks only whether the app's own clients recover from the outage.
    emulators
        .patient_dynamodb_at(&dynamodb_local.url())
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("DynamoDB Local answers after its restart");
    let after = invoke(&verify, login("user-after")).await;
    assert_eq!(after.status, 200, "{:?}", after.raw);
    let created = invoke(
        &create,
        Event::json(CREATE, &json!({"type": "passkey-list"})).cookie(&cookie),
    )
    .await;
    assert_eq!(
        created.status, 200,
        "the session from before the outage still works: {:?}",
        created.raw
    );

    let items = dynamodb
        .scan()
        .table_name(&table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let users: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|i| i[attr::USER_ID].as_s().unwrap().as_str())
        .collect();
    assert_eq!(
        users,
        ["user-after", "user-before"].into(),
        "no session from the outage"
    );
    for item in &items {
        for name in [
            attr::KEY,
            attr::USER_ID,
            attr::CREATED_AT,
            attr::EXPIRES_AT,
            attr::CORBADO_USER_ID,
            attr::CREDENTIAL_ID,
        ] {
            assert!(item.contains_key(name), "half-written item lacks {name}");
        }
    }
    drop(dynamodb_local);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn secrets_manager_unreachable_at_start_then_back_and_down_again() {
    let mut moto = EmulatorProcess::moto();
    let emulators = Emulators::connect().await;
    let secrets_client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&emulators.aws)
            .interceptor(CallRecorder::new("secretsmanager"))
            .endpoint_url(moto.url())
            .build(),
    );
    let table = emulators.new_table().await;
    let corbado = corbado_that_always_succeeds().await;
    let secret_name = unique_name("corbado-api-secret");
    let config = config(&table, &secret_name, &format!("{}/v2", corbado.uri()));
    // Initialisation does not need Secrets Manager: the secret is read on first use.
    let secrets = SecretCache::new(secrets_client.clone(), &secret_name)
        .with_refresh_interval(Duration::from_millis(1));
    let app = VerifySignedPasskeyData::with_clients(
        &config,
        emulators.function_dynamodb(),
        secrets,
        TEST_POLICY,
    )
    .unwrap();

    let down = invoke(&app, login("user-1")).await;
    down.assert_error(500, "internal_error");
    assert!(emulators.items(&table).await.is_empty());

    moto.start();
    secrets_client
        .create_secret()
        .name(&secret_name)
        .secret_string(API_SECRET)
        .send()
        .await
        .unwrap();
    let up = invoke(&app, login("user-2")).await;
    assert_eq!(up.status, 200, "no poisoned cache: {:?}", up.raw);

    // Down again while a secret is cached: the refresh fails, the cached secret keeps serving.
    moto.stop();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let cached = invoke(&app, login("user-3")).await;
    assert_eq!(cached.status, 200, "{:?}", cached.raw);
    assert_eq!(emulators.items(&table).await.len(), 2);
}
