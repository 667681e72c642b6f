//! The emulators the tests run against: DynamoDB Local and moto, started by
//! `scripts/test.sh` and reached through the SDK's standard `AWS_ENDPOINT_URL_*` variables,
//! or started by a test of its own ([`EmulatorProcess`]) to cause an outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use connect_backend::functions::{CreateConnectToken, PasskeyFunction, VerifySignedPasskeyData};
use connect_backend::http::Function;
use connect_backend::upstream::secrets::SecretCache;
use connect_backend::Config;

use crate::{CallRecorder, TEST_POLICY};

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
        let aws = connect_backend::upstream::aws_sdk_config().await;
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

    /// The login function for `config`, on this harness's recorded clients.
    pub fn verify(&self, config: &Config) -> Function<VerifySignedPasskeyData> {
        let secrets = SecretCache::new(self.function_secrets(), &config.api_secret_id);
        VerifySignedPasskeyData::with_clients(
            config,
            self.function_dynamodb(),
            secrets,
            TEST_POLICY,
        )
        .expect("verifySignedPasskeyData starts")
    }

    /// The connect-token function for `config`, on this harness's recorded clients.
    pub fn create_connect_token(&self, config: &Config) -> Function<CreateConnectToken> {
        let secrets = SecretCache::new(self.function_secrets(), &config.api_secret_id);
        CreateConnectToken::with_clients(config, self.function_dynamodb(), secrets, TEST_POLICY)
            .expect("createConnectToken starts")
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
