//! [`TestApp`]: every function of the stack on one fresh table, secret and Corbado
//! stand-in, as a test sets it up.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use connect_backend::functions::{
    Authorizer, CreateConnectToken, PasskeyFunction, SessionRoutes, VerifySignedPasskeyData,
};
use connect_backend::http::Function;
use connect_backend::session::SessionStore;
use connect_backend::telemetry::metrics::MetricsSink;
use connect_backend::upstream::secrets::SecretCache;
use connect_backend::SessionToken;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{
    authorize, basic_auth, config_with, invoke, login_claims, respond, signed_passkey_data,
    verify_rsp, Emulators, Endpoint, Event, FaultProxy, Reply, API_SECRET, SESSION_TTL_SECONDS,
    TEST_POLICY,
};

/// The proxies of [`TestAppBuilder::start_behind_fault_proxies`].
pub struct FaultProxies {
    /// Keyed by operation: `PutItem`, `TransactWriteItems`, `GetItem`.
    pub dynamodb: FaultProxy,
    /// Keyed by path: `/v2/passkey/verifySignedData`, `/v2/connectTokens`.
    pub corbado: FaultProxy,
}

/// Every function of the stack on one fresh table, with its own secret and Corbado stand-in.
pub struct TestApp {
    pub create_connect_token: Function<CreateConnectToken>,
    pub verify: Function<VerifySignedPasskeyData>,
    pub session_routes: Function<SessionRoutes>,
    pub authorizer: Authorizer,
    pub emulators: Emulators,
    pub table: String,
    pub secret_arn: String,
    pub corbado: MockServer,
    metric_lines: Arc<Mutex<Vec<String>>>,
}

/// How a [`TestApp`] differs from the default: `TestApp::builder()…start()`.
#[derive(Default)]
pub struct TestAppBuilder {
    overrides: Vec<(&'static str, String)>,
    secret_arn: Option<String>,
    secret_refresh: Option<Duration>,
    failure: Option<FailOperations>,
}

impl TestAppBuilder {
    /// Native app sessions on (`NATIVE_APP_SESSIONS=true`).
    pub fn native(self) -> Self {
        self.env("NATIVE_APP_SESSIONS", "true")
    }

    /// A configuration variable set otherwise.
    pub fn env(mut self, name: &'static str, value: &str) -> Self {
        self.overrides.push((name, value.to_owned()));
        self
    }

    /// The API secret in this secret (default: a fresh one holding [`API_SECRET`]).
    pub fn secret_arn(mut self, arn: impl Into<String>) -> Self {
        self.secret_arn = Some(arn.into());
        self
    }

    /// How long the functions keep the API secret before reading it again.
    pub fn secret_refresh(mut self, refresh: Duration) -> Self {
        self.secret_refresh = Some(refresh);
        self
    }

    /// DynamoDB calls of the named operations fail before they are sent, as when DynamoDB
    /// throttles or drops a request.
    pub fn failing_dynamodb(mut self, operations: &'static [&'static str]) -> Self {
        self.failure = Some(FailOperations {
            operations,
            how: Failure::Error,
        });
        self
    }

    /// The first DynamoDB call of `operation` panics, as a defect of ours would.
    pub fn panicking_once_in_dynamodb(mut self, operation: &'static str) -> Self {
        self.failure = Some(FailOperations {
            operations: std::slice::from_ref(Box::leak(Box::new(operation))),
            how: Failure::PanicOnce(Default::default()),
        });
        self
    }

    pub async fn start(self) -> TestApp {
        let corbado = MockServer::start().await;
        let corbado_url = corbado.uri();
        self.start_reaching(corbado, corbado_url, None).await
    }

    /// The functions reach DynamoDB Local and the Corbado stand-in through
    /// [`FaultProxy`]s, so that a test can lose, cut or delay their replies. Test set-up
    /// (`login`, `items`) goes to DynamoDB Local directly.
    pub async fn start_behind_fault_proxies(self) -> (TestApp, FaultProxies) {
        let dynamodb_url = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
        let corbado = MockServer::start().await;
        let proxies = FaultProxies {
            dynamodb: FaultProxy::start(&dynamodb_url).await,
            corbado: FaultProxy::start(&corbado.uri()).await,
        };
        let corbado_url = proxies.corbado.url();
        let app = self
            .start_reaching(corbado, corbado_url, Some(proxies.dynamodb.url()))
            .await;
        (app, proxies)
    }

    /// `corbado_url` is where the functions reach the `corbado` stand-in: its own
    /// address, or a proxy's in front of it; `dynamodb_url`, a proxy in front of DynamoDB Local.
    async fn start_reaching(
        self,
        corbado: MockServer,
        corbado_url: String,
        dynamodb_url: Option<String>,
    ) -> TestApp {
        let emulators = Emulators::connect().await;
        let secret_arn = match self.secret_arn {
            Some(arn) => arn,
            None => emulators.new_secret(API_SECRET).await,
        };
        let mut dynamodb = emulators.function_dynamodb_config();
        if let Some(url) = dynamodb_url {
            dynamodb = dynamodb.endpoint_url(url);
        }
        if let Some(failure) = self.failure {
            dynamodb = dynamodb.interceptor(failure);
        }
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
        let table = emulators.new_table().await;
        let overrides: Vec<(&str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let config = config_with(
            &table,
            &secret_arn,
            &format!("{corbado_url}/v2"),
            &overrides,
        );
        let refresh = self.secret_refresh.unwrap_or(Duration::from_secs(600));
        let secrets = || {
            SecretCache::new(emulators.function_secrets(), &secret_arn)
                .with_refresh_interval(refresh)
        };
        let metric_lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = || MetricsSink::Memory(Arc::clone(&metric_lines));
        let create_connect_token =
            CreateConnectToken::with_clients(&config, dynamodb.clone(), secrets(), TEST_POLICY)
                .expect("createConnectToken starts")
                .with_metrics_sink(sink());
        let verify = VerifySignedPasskeyData::with_clients(
            &config,
            dynamodb.clone(),
            secrets(),
            TEST_POLICY,
        )
        .expect("verifySignedPasskeyData starts")
        .with_metrics_sink(sink());
        let session_routes = SessionRoutes::with_client(&config.sessions, dynamodb.clone())
            .with_metrics_sink(sink());
        let authorizer =
            Authorizer::with_client(&config.sessions, dynamodb).with_metrics_sink(sink());
        TestApp {
            create_connect_token,
            verify,
            session_routes,
            authorizer,
            emulators,
            table,
            secret_arn,
            corbado,
            metric_lines,
        }
    }
}

impl TestApp {
    /// The stack with the test configuration.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
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
        match event.endpoint() {
            Endpoint::CreateConnectToken => invoke(&self.create_connect_token, event).await,
            Endpoint::VerifySignedPasskeyData => invoke(&self.verify, event).await,
            Endpoint::Session | Endpoint::Logout | Endpoint::LogoutEverywhere => {
                invoke(&self.session_routes, event).await
            }
            Endpoint::Authorizer => panic!("the authorizer answers through TestApp::authorize"),
        }
    }

    /// [`TestApp::invoke`]'s response JSON, whatever it holds.
    pub async fn respond(&self, event: Event) -> Value {
        let (_request_id, response) = match event.endpoint() {
            Endpoint::CreateConnectToken => respond(&self.create_connect_token, event).await,
            Endpoint::VerifySignedPasskeyData => respond(&self.verify, event).await,
            Endpoint::Session | Endpoint::Logout | Endpoint::LogoutEverywhere => {
                respond(&self.session_routes, event).await
            }
            Endpoint::Authorizer => panic!("the authorizer answers through TestApp::authorize"),
        };
        response
    }

    /// The sessions table, as the functions use it.
    pub fn sessions(&self) -> &SessionStore {
        self.verify.store()
    }

    /// The event through the authorizer's runtime path: its answer, or `None` when the
    /// invocation failed (API Gateway then answers 500).
    pub async fn authorize(&self, event: Event) -> Option<Value> {
        authorize(&self.authorizer, event).await
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
