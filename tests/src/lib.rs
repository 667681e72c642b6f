//! Test harness: real API Gateway HTTP API events in, the Lambda response
//! JSON out, against DynamoDB Local and moto (started by `scripts/test.sh`)
//! and a wiremock stand-in for Corbado's Backend API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use connect_backend::metrics::MetricsSink;
use connect_backend::{
    App, Authorizer, CallPolicy, Config, Routes, SecretCache, SessionParts, SessionRoutes,
    SessionToken,
};
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const PROJECT_ID: &str = "pro-1234567890";
pub const API_SECRET: &str = "corbado1_test_secret_value_that_must_never_leak";
pub const COOKIE_NAME: &str = "__Host-session";
pub const SESSION_TTL_SECONDS: u64 = 3600;

/// Short enough that the hang and retry tests finish quickly.
pub const TEST_POLICY: CallPolicy = CallPolicy {
    connect_timeout: Duration::from_millis(500),
    attempt_timeout: Duration::from_millis(1500),
    total_budget: Duration::from_secs(3),
    max_retries: 3,
    base_backoff: Duration::from_millis(20),
};

/// The emulators, reached through the SDK's standard `AWS_ENDPOINT_URL_*` variables.
pub struct Emulators {
    pub aws: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Emulators {
    pub async fn connect() -> Self {
        for var in [
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ] {
            let url = std::env::var(var).unwrap_or_default();
            assert!(
                url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"),
                "{var} must point at a local emulator (got {url:?}): run the tests with scripts/test.sh"
            );
        }
        // The configuration the functions themselves run with (timeouts included).
        let aws = connect_backend::aws_sdk_config().await;
        // The tests' own set-up and checks wait longer: a loaded machine must not fail a
        // test before the code under test runs.
        let patient = aws
            .to_builder()
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&patient),
            secrets: aws_sdk_secretsmanager::Client::new(&patient),
            aws,
        }
    }

    /// The DynamoDB client configuration of the code under test: the functions' own
    /// timeouts, and a [`CallRecorder`] (its calls are checked against the roles).
    pub fn function_dynamodb_config(&self) -> aws_sdk_dynamodb::config::Builder {
        aws_sdk_dynamodb::config::Builder::from(&self.aws)
            .interceptor(CallRecorder::new("dynamodb"))
    }

    /// The DynamoDB client of the code under test ([`Emulators::function_dynamodb_config`]).
    pub fn function_dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(self.function_dynamodb_config().build())
    }

    /// The Secrets Manager client of the code under test, its calls recorded.
    pub fn function_secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&self.aws)
                .interceptor(CallRecorder::new("secretsmanager"))
                .build(),
        )
    }

    pub async fn new_table(&self) -> String {
        let name = unique_name("sessions");
        create_table(&self.dynamodb, &name).await;
        name
    }

    /// The set-up client, patient as this harness's own, for a DynamoDB Local at `url`.
    pub fn patient_dynamodb_at(&self, url: &str) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            self.dynamodb
                .config()
                .to_builder()
                .endpoint_url(url)
                .build(),
        )
    }

    /// The passkey functions' [`App`] for `config`, on this harness's recorded clients.
    pub fn app(&self, config: &Config) -> App {
        let secrets = SecretCache::new(self.function_secrets(), &config.api_secret_id);
        App::from_clients(config, self.function_dynamodb(), secrets, TEST_POLICY)
            .expect("app starts")
    }

    /// Creates a secret in moto and returns its ARN.
    pub async fn new_secret(&self, value: &str) -> String {
        self.secrets
            .create_secret()
            .name(unique_name("corbado-api-secret"))
            .secret_string(value)
            .send()
            .await
            .expect("create secret in moto")
            .arn
            .expect("moto returns an ARN")
    }

    pub async fn rotate_secret(&self, arn: &str, value: &str) {
        self.secrets
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value)
            .send()
            .await
            .expect("put secret value in moto");
    }

    pub async fn items(&self, table: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.dynamodb
            .scan()
            .table_name(table)
            .consistent_read(true)
            .send()
            .await
            .expect("scan DynamoDB Local")
            .items
            .unwrap_or_default()
    }
}

/// Creates the sessions table `name`. On a loaded machine the SDK may retry a create whose
/// reply came late; the name is the caller's alone, so a table that exists under it is the
/// one this call created.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) {
    if let Err(err) = connect_backend::session::create_table(dynamodb, name).await {
        assert!(
            format!("{err:?}").contains("ResourceInUseException"),
            "create table in DynamoDB Local: {err:?}"
        );
    }
}

pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub use connect_backend::Endpoint;

pub mod aws_calls;
pub use aws_calls::{as_function, CallRecorder};
pub mod fault_proxy;
pub use fault_proxy::{Fault, FaultProxy};

/// The event in `events/` that tests of `endpoint` start from.
fn event_file(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::CreateConnectToken => {
            include_str!("../../events/create-connect-token/passkey-list.json")
        }
        Endpoint::VerifySignedPasskeyData => {
            include_str!("../../events/verify-signed-passkey-data/valid.json")
        }
        Endpoint::Session => include_str!("../../events/session/session.json"),
        Endpoint::Logout => include_str!("../../events/session/logout.json"),
        Endpoint::LogoutEverywhere => include_str!("../../events/session/logout-everywhere.json"),
        Endpoint::Authorizer => include_str!("../../events/session-authorizer/authorized.json"),
    }
}

/// An API Gateway HTTP API (payload 2.0) event for one endpoint, starting from the files in `events/`.
#[derive(Clone)]
pub struct Event {
    endpoint: Endpoint,
    pub json: Value,
}

impl Event {
    pub fn new(endpoint: Endpoint, body: &str) -> Self {
        let mut event: Value =
            serde_json::from_str(event_file(endpoint)).expect("event file is JSON");
        let object = event.as_object_mut().unwrap();
        object.remove("cookies");
        object["body"] = json!(body);
        object["headers"]["content-length"] = json!(body.len().to_string());
        Self {
            endpoint,
            json: event,
        }
    }

    /// The event of `endpoint` as its file has it, without cookies: for the routes that
    /// take no body (the session routes, the authorizer).
    pub fn bodyless(endpoint: Endpoint) -> Self {
        let mut event: Value =
            serde_json::from_str(event_file(endpoint)).expect("event file is JSON");
        let object = event.as_object_mut().unwrap();
        object.remove("cookies");
        object.remove("identitySource");
        Self {
            endpoint,
            json: event,
        }
    }

    pub fn json(endpoint: Endpoint, body: &Value) -> Self {
        Self::new(endpoint, &body.to_string())
    }

    /// API Gateway passes each cookie of the request as one entry of `cookies`.
    pub fn cookie(mut self, cookie: &str) -> Self {
        let object = self.json.as_object_mut().unwrap();
        object
            .entry("cookies")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!(cookie));
        self
    }

    pub fn session(self, token: &SessionToken) -> Self {
        self.cookie(&format!("{COOKIE_NAME}={}", token.expose()))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.json["headers"][name] = json!(value);
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.json["headers"].as_object_mut().unwrap().remove(name);
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.json["requestContext"]["http"]["method"] = json!(method);
        self
    }

    pub fn base64_body(mut self, bytes: &[u8]) -> Self {
        self.json["body"] = json!(STANDARD.encode(bytes));
        self.json["isBase64Encoded"] = json!(true);
        self
    }
}

/// What API Gateway receives back from the function.
#[derive(Debug)]
pub struct Reply {
    /// The Lambda request id the invocation ran with.
    pub request_id: String,
    pub status: u16,
    pub headers: Value,
    pub cookies: Vec<String>,
    pub body: Value,
    pub raw: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The session token a cookie login set, after asserting the login's answer:
    /// 200, `{"success": true}` and exactly one session cookie.
    pub fn session_token(&self) -> String {
        assert_eq!(self.status, 200, "{:?}", self.raw);
        assert_eq!(self.body, json!({"success": true}));
        assert_eq!(self.cookies.len(), 1, "{:?}", self.cookies);
        let (name, token, _) = parse_set_cookie(&self.cookies[0]);
        assert_eq!(name, COOKIE_NAME);
        token
    }

    /// Asserts the shared error shape: `{"error": <message>, "code": <code>}`.
    pub fn assert_error(&self, status: u16, code: &str) {
        self.assert_case_error("", status, code);
    }

    /// [`Reply::assert_error`] for one named case of a table of requests.
    pub fn assert_case_error(&self, case: &str, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "{case}: {:?}",
            self.raw
        );
        let message = self.body["error"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "error message missing in {:?}",
            self.raw
        );
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(2),
            "{:?}",
            self.body
        );
        assert_eq!(self.headers["content-type"], "application/json");
        assert!(
            self.cookies.is_empty(),
            "an error set a cookie: {:?}",
            self.cookies
        );
    }
}

/// The proxies of [`TestApp::start_behind_fault_proxies`].
pub struct FaultProxies {
    /// Keyed by operation: `PutItem`, `TransactWriteItems`, `GetItem`.
    pub dynamodb: FaultProxy,
    /// Keyed by path: `/v2/passkey/verifySignedData`, `/v2/connectTokens`.
    pub corbado: FaultProxy,
}

/// One function instance under test, with its own table, secret and Corbado stand-in.
pub struct TestApp {
    pub app: App,
    /// The session function's routes, on the same table.
    pub session_routes: SessionRoutes,
    /// The authorizer, on the same table.
    pub authorizer: Authorizer,
    pub emulators: Emulators,
    pub table: String,
    pub secret_arn: String,
    pub corbado: MockServer,
    metric_lines: Arc<Mutex<Vec<String>>>,
}

impl TestApp {
    pub async fn start() -> Self {
        let emulators = Emulators::connect().await;
        let secret_arn = emulators.new_secret(API_SECRET).await;
        Self::start_with(emulators, secret_arn, Duration::from_secs(600)).await
    }

    pub async fn start_with(
        emulators: Emulators,
        secret_arn: String,
        secret_refresh: Duration,
    ) -> Self {
        Self::start_configured(emulators, secret_arn, secret_refresh, &[]).await
    }

    /// With some configuration variables set otherwise (e.g. `NATIVE_APP_SESSIONS`).
    pub async fn start_native() -> Self {
        let emulators = Emulators::connect().await;
        let secret_arn = emulators.new_secret(API_SECRET).await;
        Self::start_configured(
            emulators,
            secret_arn,
            Duration::from_secs(600),
            &[("NATIVE_APP_SESSIONS", "true")],
        )
        .await
    }

    pub async fn start_configured(
        emulators: Emulators,
        secret_arn: String,
        secret_refresh: Duration,
        overrides: &[(&str, &str)],
    ) -> Self {
        let dynamodb = emulators.function_dynamodb();
        let corbado = MockServer::start().await;
        let corbado_url = corbado.uri();
        Self::start_with_dynamodb(
            emulators,
            secret_arn,
            secret_refresh,
            overrides,
            dynamodb,
            corbado,
            corbado_url,
        )
        .await
    }

    /// An app whose DynamoDB calls of the named operations fail before they
    /// are sent, as when DynamoDB throttles or drops a request.
    pub async fn start_failing_dynamodb(operations: &'static [&'static str]) -> Self {
        Self::start_intercepting_dynamodb(FailOperations {
            operations,
            how: Failure::Error,
        })
        .await
    }

    /// An app whose first DynamoDB call of `operation` panics, as a defect of ours would.
    pub async fn start_panicking_once_in_dynamodb(operation: &'static str) -> Self {
        Self::start_intercepting_dynamodb(FailOperations {
            operations: std::slice::from_ref(Box::leak(Box::new(operation))),
            how: Failure::PanicOnce(Default::default()),
        })
        .await
    }

    async fn start_intercepting_dynamodb(
        interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static,
    ) -> Self {
        let emulators = Emulators::connect().await;
        let secret_arn = emulators.new_secret(API_SECRET).await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            emulators
                .function_dynamodb_config()
                .interceptor(interceptor)
                .build(),
        );
        let refresh = Duration::from_secs(600);
        let corbado = MockServer::start().await;
        let corbado_url = corbado.uri();
        Self::start_with_dynamodb(
            emulators,
            secret_arn,
            refresh,
            &[],
            dynamodb,
            corbado,
            corbado_url,
        )
        .await
    }

    /// An app that reaches DynamoDB Local and the Corbado stand-in through
    /// [`FaultProxy`]s, so that a test can lose, cut or delay their replies.
    /// Test set-up (`login`, `items`) goes to DynamoDB Local directly.
    pub async fn start_behind_fault_proxies() -> (Self, FaultProxies) {
        let emulators = Emulators::connect().await;
        let secret_arn = emulators.new_secret(API_SECRET).await;
        let dynamodb_url = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
        let corbado = MockServer::start().await;
        let proxies = FaultProxies {
            dynamodb: FaultProxy::start(&dynamodb_url).await,
            corbado: FaultProxy::start(&corbado.uri()).await,
        };
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            emulators
                .function_dynamodb_config()
                .endpoint_url(proxies.dynamodb.url())
                .build(),
        );
        let app = Self::start_with_dynamodb(
            emulators,
            secret_arn,
            Duration::from_secs(600),
            &[],
            dynamodb,
            corbado,
            proxies.corbado.url(),
        )
        .await;
        (app, proxies)
    }

    /// `corbado_url` is where the app reaches the `corbado` stand-in: its
    /// own address, or a proxy's in front of it.
    async fn start_with_dynamodb(
        emulators: Emulators,
        secret_arn: String,
        secret_refresh: Duration,
        overrides: &[(&str, &str)],
        dynamodb: aws_sdk_dynamodb::Client,
        corbado: MockServer,
        corbado_url: String,
    ) -> Self {
        let table = emulators.new_table().await;
        let config = config_with(&table, &secret_arn, &format!("{corbado_url}/v2"), overrides);
        let secrets = SecretCache::new(emulators.function_secrets(), &secret_arn)
            .with_refresh_interval(secret_refresh);
        let metric_lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = || MetricsSink::Memory(Arc::clone(&metric_lines));
        let parts = || {
            SessionParts::from_client(&config.sessions, dynamodb.clone()).with_metrics_sink(sink())
        };
        let session_routes = SessionRoutes::from(parts());
        let authorizer = Authorizer::from(parts());
        let app = App::from_clients(&config, dynamodb, secrets, TEST_POLICY)
            .expect("app starts")
            .with_metrics_sink(sink());
        Self {
            app,
            session_routes,
            authorizer,
            emulators,
            table,
            secret_arn,
            corbado,
            metric_lines,
        }
    }

    /// The Embedded Metric Format documents the app has written, one per request.
    pub fn metric_records(&self) -> Vec<Value> {
        self.metric_lines
            .lock()
            .unwrap()
            .iter()
            .map(|line| serde_json::from_str(line).expect("a metric line is JSON"))
            .collect()
    }

    /// The event through the function that serves its endpoint.
    pub async fn invoke(&self, event: Event) -> Reply {
        match event.endpoint {
            Endpoint::Session | Endpoint::Logout | Endpoint::LogoutEverywhere => {
                invoke(&self.session_routes, event).await
            }
            _ => invoke(&self.app, event).await,
        }
    }

    /// The event through the authorizer's runtime path: its answer, or `None` when the
    /// invocation failed (API Gateway then answers 500).
    pub async fn authorize(&self, event: Event) -> Option<Value> {
        let request = serde_json::value::to_raw_value(&event.json).expect("an event is JSON");
        let mut context = Context::default();
        context.request_id = unique_name("request");
        let event = LambdaEvent::new(request, context);
        let authorized = connect_backend::runtime::authorize(&self.authorizer, event);
        as_function(Endpoint::Authorizer, authorized).await.ok()
    }

    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.emulators.items(&self.table).await
    }

    /// Asserts that the table holds the session under `key` and nothing else.
    pub async fn assert_only_session(&self, key: &str) {
        let keys: Vec<String> = self
            .items()
            .await
            .iter()
            .map(|item| {
                item[connect_backend::session::attr::KEY]
                    .as_s()
                    .unwrap()
                    .clone()
            })
            .collect();
        assert_eq!(keys, [key], "the table holds exactly this session");
    }

    pub async fn assert_table_empty(&self) {
        let items = self.items().await;
        assert!(
            items.is_empty(),
            "a failed request wrote {} item(s)",
            items.len()
        );
    }

    /// A session as an existing login (password, SSO) would create it, with a store of its own.
    pub async fn login(&self, user_id: &str, display_name: Option<&str>) -> SessionToken {
        let ttl = Duration::from_secs(SESSION_TTL_SECONDS);
        self.session_lasting(ttl, user_id, display_name).await
    }

    /// A session that has expired, though DynamoDB's TTL has not removed it yet.
    pub async fn expired_session(&self, user_id: &str) -> SessionToken {
        self.session_lasting(Duration::ZERO, user_id, None).await
    }

    async fn session_lasting(
        &self,
        ttl: Duration,
        user_id: &str,
        display_name: Option<&str>,
    ) -> SessionToken {
        let store =
            connect_backend::SessionStore::new(self.emulators.dynamodb.clone(), &self.table, ttl);
        let (token, _) = store
            .create(connect_backend::NewSession {
                user_id: user_id.into(),
                display_name: display_name.map(Into::into),
                ..Default::default()
            })
            .await
            .expect("create session");
        token
    }

    /// The Corbado stand-in answers `path` with `response` when the request
    /// carries our Basic auth and exactly `body`.
    pub async fn expect_corbado(
        &self,
        path_: &str,
        body: Value,
        response: ResponseTemplate,
        times: u64,
    ) {
        Mock::given(method("POST"))
            .and(path(format!("/v2{path_}")))
            .and(header("authorization", basic_auth(API_SECRET).as_str()))
            .and(header("content-type", "application/json"))
            .and(body_json(body))
            .respond_with(response)
            .expect(times)
            .mount(&self.corbado)
            .await;
    }

    /// Corbado answers `result` to exactly `times` verifications of a login
    /// by `user`; returns that login's signedPasskeyData.
    pub async fn expect_verification(&self, user: &str, result: &str, times: u64) -> String {
        let jwt = signed_passkey_data(login_claims(user));
        self.expect_corbado(
            "/passkey/verifySignedData",
            json!({"signedPasskeyData": jwt, "username": user}),
            verify_rsp(result),
            times,
        )
        .await;
        jwt
    }

    /// Fails the test if Corbado receives any request at all.
    pub async fn expect_no_corbado_call(&self) {
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&self.corbado)
            .await;
    }
}

/// The frontend origin of the events in `events/`.
pub const FRONTEND_ORIGIN: &str = "https://app.example.com";

pub fn config(table: &str, secret_arn: &str, backend_api: &str) -> Config {
    config_with(table, secret_arn, backend_api, &[])
}

/// The test configuration with some variables set otherwise.
pub fn config_with(
    table: &str,
    secret_arn: &str,
    backend_api: &str,
    overrides: &[(&str, &str)],
) -> Config {
    let mut vars = HashMap::from([
        ("SESSIONS_TABLE", table.to_owned()),
        ("CORBADO_PROJECT_ID", PROJECT_ID.to_owned()),
        ("CORBADO_API_SECRET_ARN", secret_arn.to_owned()),
        ("CORBADO_BACKEND_API", backend_api.to_owned()),
        ("SESSION_TTL_SECONDS", SESSION_TTL_SECONDS.to_string()),
        ("SESSION_COOKIE_NAME", COOKIE_NAME.to_owned()),
        (
            "ALLOWED_ORIGINS",
            format!("{FRONTEND_ORIGIN},http://localhost:3000"),
        ),
    ]);
    for (name, value) in overrides {
        vars.insert(name, (*value).to_owned());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration is valid")
}

/// Runs the event through the functions' own runtime path ([`connect_backend::runtime::handle`]:
/// lambda_http's API Gateway adapter and the panic guard) and returns the response JSON
/// API Gateway would get.
pub async fn invoke(app: &impl Routes, event: Event) -> Reply {
    let request = serde_json::value::to_raw_value(&event.json).expect("an event is JSON");
    let mut context = Context::default();
    context.request_id = unique_name("request");
    let request_id = context.request_id.clone();
    let handled =
        connect_backend::runtime::handle(app, event.endpoint, LambdaEvent::new(request, context));
    let response = as_function(event.endpoint, handled).await;
    let raw = serde_json::to_value(response).expect("response serialises");
    let body = raw["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("the response body is JSON"))
        .unwrap_or(Value::Null);
    Reply {
        request_id,
        status: raw["statusCode"].as_u64().unwrap() as u16,
        headers: raw["headers"].clone(),
        cookies: raw["cookies"]
            .as_array()
            .map(|c| c.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
        body,
        raw,
    }
}

pub fn basic_auth(secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{PROJECT_ID}:{secret}"))
    )
}

/// A JWT shaped like Corbado's signedPasskeyData (the stand-in does the verifying).
pub fn signed_passkey_data(claims: Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"pki-1","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode("not-a-real-signature")
    )
}

pub fn login_claims(webauthn_id: &str) -> Value {
    json!({
        "iss": PROJECT_ID,
        "sub": "usr-676138078732345317",
        "exp": 1795639094,
        "iat": 1795638794,
        "credential": "cre-13566630052040460774",
        "webauthnId": webauthn_id,
        "isCUI": false
    })
}

pub fn verify_rsp(result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "verificationResult": result }))
}

pub fn connect_token_rsp(secret: Option<&str>) -> ResponseTemplate {
    let mut body = json!({
        "id": "ctk-940364795071150919",
        "tokenType": "passkey-append",
        "data": {"identifier": "user-42", "displayName": "Jane Doe"},
        "connectTokenStatus": "initial",
        "expires": 1795642394
    });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Corbado's `errorRsp` (common.yml), with a message that must never reach our clients.
pub fn error_rsp(status: u16, error_type: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(error_rsp_json(status, error_type))
}

/// The body of [`error_rsp`].
pub fn error_rsp_json(status: u16, error_type: &str) -> Value {
    json!({
        "httpStatusCode": status,
        "message": "CORBADO-INTERNAL-MESSAGE",
        "requestData": {"requestID": "req-557650104455887358", "link": "https://app.corbado.com/requests/req-557650104455887358"},
        "runtime": 0.012,
        "error": {"type": error_type, "details": "CORBADO-INTERNAL-DETAILS"}
    })
}

pub fn session_key(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits `name=value; Attr; Attr=x` into the pair and the attribute list.
pub fn parse_set_cookie(cookie: &str) -> (String, String, Vec<String>) {
    let mut parts = cookie.split("; ");
    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
    (
        name.to_owned(),
        value.to_owned(),
        parts.map(str::to_owned).collect(),
    )
}

/// Starts a function binary with a bad configuration and asserts that it
/// stops at once, naming the variable, without a panic.
pub fn assert_refuses_bad_configuration(binary: &str) {
    assert_refuses(
        binary,
        &[
            ("SESSIONS_TABLE", None),
            ("CORBADO_PROJECT_ID", None),
            ("CORBADO_API_SECRET_ARN", None),
            ("CORBADO_PROJECT_ID", Some("project-1")),
            ("CORBADO_BACKEND_API", Some("http://corbado.example.com/v2")),
            ("SESSION_TTL_SECONDS", Some("three hours")),
        ],
    );
}

/// [`assert_refuses_bad_configuration`] for the session function and the authorizer,
/// which read the session variables only.
pub fn assert_refuses_bad_session_configuration(binary: &str) {
    assert_refuses(
        binary,
        &[
            ("SESSIONS_TABLE", None),
            ("SESSION_TTL_SECONDS", Some("three hours")),
            ("SESSION_COOKIE_NAME", Some("session id")),
            ("ALLOWED_ORIGINS", Some("https://*.example.com")),
        ],
    );
}

/// Each case sets one variable otherwise (`None`: unset) on top of a valid configuration.
fn assert_refuses(binary: &str, cases: &[(&str, Option<&str>)]) {
    let valid = [
        ("SESSIONS_TABLE", "sessions"),
        ("CORBADO_PROJECT_ID", PROJECT_ID),
        ("CORBADO_API_SECRET_ARN", "corbado-api-secret"),
    ];
    for &(name, value) in cases {
        let mut command = std::process::Command::new(binary);
        command
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "eu-central-1");
        for (k, v) in valid.iter().filter(|(k, _)| *k != name) {
            command.env(k, v);
        }
        if let Some(value) = value {
            command.env(name, value);
        }
        let output = command.output().expect("run the function binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{name}={value:?}: it started");
        assert!(
            stderr.contains(name) && stdout.contains(name),
            "{name}={value:?}: the variable is not named.\nstdout: {stdout}\nstderr: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}={value:?}: {stderr}");
    }
}

/// Fails the named DynamoDB operations before they are sent.
#[derive(Debug)]
struct FailOperations {
    operations: &'static [&'static str],
    how: Failure,
}

#[derive(Debug)]
enum Failure {
    /// As when DynamoDB throttles or drops a request.
    Error,
    /// Once, then the calls go through: a defect in the request's path.
    PanicOnce(std::sync::atomic::AtomicBool),
}

impl aws_sdk_dynamodb::config::Intercept for FailOperations {
    fn name(&self) -> &'static str {
        "FailOperations"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let name = match cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            Some(metadata) if self.operations.contains(&metadata.name()) => metadata.name(),
            _ => return Ok(()),
        };
        match &self.how {
            Failure::Error => Err(format!("injected failure of {name}").into()),
            Failure::PanicOnce(done) => {
                if !done.swap(true, Ordering::SeqCst) {
                    panic!("injected panic in {name}");
                }
                Ok(())
            }
        }
    }
}

/// Every function of the stack on one fresh table, with AWS clients that record every
/// operation they perform.
pub struct RecordingApp {
    pub app: App,
    pub session_routes: SessionRoutes,
    pub authorizer: Authorizer,
    pub table: String,
    pub dynamodb_calls: CallRecorder,
    pub secrets_calls: CallRecorder,
}

pub async fn recording_app(emulators: &Emulators, corbado: &MockServer) -> RecordingApp {
    let table = emulators.new_table().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let dynamodb_calls = CallRecorder::new("dynamodb");
    let secrets_calls = CallRecorder::new("secretsmanager");
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&emulators.aws)
            .interceptor(dynamodb_calls.clone())
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&emulators.aws)
            .interceptor(secrets_calls.clone())
            .build(),
    );
    let config = config(&table, &secret_arn, &format!("{}/v2", corbado.uri()));
    RecordingApp {
        session_routes: SessionParts::from_client(&config.sessions, dynamodb.clone()).into(),
        authorizer: SessionParts::from_client(&config.sessions, dynamodb.clone()).into(),
        app: App::from_clients(
            &config,
            dynamodb,
            SecretCache::new(secrets, &secret_arn),
            TEST_POLICY,
        )
        .expect("app starts"),
        table,
        dynamodb_calls,
        secrets_calls,
    }
}

/// An emulator process of a test's own, which the test stops and starts
/// again on the same port to cause an outage.
pub struct EmulatorProcess {
    command: Vec<String>,
    cwd: Option<std::path::PathBuf>,
    pub port: u16,
    child: Option<std::process::Child>,
}

impl EmulatorProcess {
    /// DynamoDB Local keeping its data in `data_dir`, so it survives a restart.
    pub fn dynamodb_local(data_dir: &std::path::Path) -> Self {
        let jar = std::path::PathBuf::from(
            std::env::var("DYNAMODB_LOCAL_JAR")
                .expect("DYNAMODB_LOCAL_JAR is set by scripts/test.sh"),
        );
        let port = free_port();
        let lib = jar.parent().unwrap().join("DynamoDBLocal_lib");
        Self {
            command: vec![
                "java".into(),
                format!("-Djava.library.path={}", lib.display()),
                "-jar".into(),
                jar.display().to_string(),
                // It would otherwise report to AWS: nothing a test runs leaves the machine.
                "-disableTelemetry".into(),
                "-port".into(),
                port.to_string(),
                "-dbPath".into(),
                data_dir.display().to_string(),
            ],
            cwd: jar.parent().map(Into::into),
            port,
            child: None,
        }
    }

    /// moto's server (Secrets Manager); its state lives in memory only.
    pub fn moto() -> Self {
        let port = free_port();
        Self {
            command: vec![
                std::env::var("MOTO_SERVER").expect("MOTO_SERVER is set by scripts/test.sh"),
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            cwd: None,
            port,
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn start(&mut self) {
        let mut command = std::process::Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        self.child = Some(command.spawn().expect("start the emulator"));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not start",
                self.command[0]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the emulator kept listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Log output captured in memory, for tests that read what the functions log.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the process-wide JSON log subscriber, at `level`, writing here.
    pub fn install_json(level: tracing_subscriber::filter::LevelFilter) -> Self {
        let logs = Self::default();
        tracing_subscriber::fmt()
            .json()
            .with_max_level(level)
            .with_writer(logs.clone())
            .init();
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("logs are UTF-8")
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
