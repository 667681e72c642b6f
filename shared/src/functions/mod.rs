//! One module per Lambda function: its routes and its handler. Each is built once per
//! execution environment, from the environment (`from_env`, what the binaries call) or
//! from clients the caller configured (`with_clients`, what the tests call).

pub mod create_connect_token;
pub mod session;
pub mod session_authorizer;
pub mod verify_signed_passkey_data;

use aws_config::SdkConfig;

pub use create_connect_token::CreateConnectToken;
pub use session::SessionRoutes;
pub use session_authorizer::{AuthorizedUser, Authorizer};
pub use verify_signed_passkey_data::VerifySignedPasskeyData;

use crate::config::{Config, ConfigError, SessionConfig};
use crate::http::{Function, Handler, Route, SessionCookie, Sessions};
use crate::session::policy::CredentialRules;
use crate::session::SessionStore;
use crate::telemetry::Telemetry;
use crate::upstream::corbado::{CallPolicy, CorbadoClient};
use crate::upstream::secrets::SecretCache;

/// Each HTTP function's binary and routes, as template.yaml must wire them.
pub const HTTP_FUNCTIONS: [(&str, &[Route]); 3] = [
    ("create-connect-token", CreateConnectToken::ROUTES),
    (
        "verify-signed-passkey-data",
        VerifySignedPasskeyData::ROUTES,
    ),
    ("session", SessionRoutes::ROUTES),
];

#[derive(thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("building the HTTP client failed: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// `main` returning this error prints its `Debug`: make that the readable message.
impl std::fmt::Debug for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The sessions every function shares: the table, the credential rules and the cookie.
pub fn sessions(config: &SessionConfig, dynamodb: aws_sdk_dynamodb::Client) -> Sessions {
    if !config.session_cookie_name.starts_with("__Host-") {
        tracing::warn!(
            cookie = %config.session_cookie_name,
            "SESSION_COOKIE_NAME lacks the __Host- prefix: a sibling subdomain can then plant a \
             cookie of that name, and requests carrying two are refused (session_ambiguous)"
        );
    }
    Sessions {
        store: SessionStore::from_config(dynamodb, config),
        rules: CredentialRules {
            allowed_origins: config.allowed_origins.clone(),
            native_app_sessions: config.native_app_sessions,
        },
        cookie: SessionCookie::new(&config.session_cookie_name, config.session_ttl.as_secs()),
    }
}

/// Reads [`Config`], logging why it cannot when it cannot.
fn config_from_env() -> Result<Config, ConfigError> {
    Config::from_env().inspect_err(|err| tracing::error!(error = %err, "cannot start"))
}

/// Reads [`SessionConfig`], logging why it cannot when it cannot.
fn session_config_from_env() -> Result<SessionConfig, ConfigError> {
    SessionConfig::from_env().inspect_err(|err| tracing::error!(error = %err, "cannot start"))
}

/// A passkey function's Corbado client and its sessions, from the configuration and the
/// AWS SDK environment.
fn passkey_parts(
    config: &Config,
    aws: &SdkConfig,
    policy: CallPolicy,
) -> Result<(CorbadoClient, Sessions), InitError> {
    let secrets = SecretCache::new(
        aws_sdk_secretsmanager::Client::new(aws),
        &config.api_secret_id,
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    passkey_parts_with(config, dynamodb, secrets, policy)
}

fn passkey_parts_with(
    config: &Config,
    dynamodb: aws_sdk_dynamodb::Client,
    secrets: SecretCache,
    policy: CallPolicy,
) -> Result<(CorbadoClient, Sessions), InitError> {
    let corbado = CorbadoClient::new(
        &config.backend_api,
        config.project_id.clone(),
        secrets,
        policy,
    )?;
    Ok((corbado, sessions(&config.sessions, dynamodb)))
}

fn function<H: Handler>(handler: H, sessions: Sessions, config: &SessionConfig) -> Function<H> {
    Function {
        handler,
        sessions,
        telemetry: Telemetry::new(&config.metrics_namespace),
    }
}

/// The passkey functions: a handler made from a Corbado client, on the sessions.
pub trait PasskeyFunction: Handler + Sized {
    fn with_corbado(corbado: CorbadoClient) -> Self;

    /// From the environment ([`Config`], [`crate::upstream::aws_sdk_config`]).
    fn from_env() -> impl std::future::Future<Output = Result<Function<Self>, InitError>> {
        async {
            let config = config_from_env()?;
            let aws = crate::upstream::aws_sdk_config().await;
            let (corbado, sessions) = passkey_parts(&config, &aws, CallPolicy::default())?;
            Ok(function(
                Self::with_corbado(corbado),
                sessions,
                &config.sessions,
            ))
        }
    }

    /// With AWS clients the caller configured (tests record their calls).
    fn with_clients(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secrets: SecretCache,
        policy: CallPolicy,
    ) -> Result<Function<Self>, InitError> {
        let (corbado, sessions) = passkey_parts_with(config, dynamodb, secrets, policy)?;
        Ok(function(
            Self::with_corbado(corbado),
            sessions,
            &config.sessions,
        ))
    }
}

impl PasskeyFunction for CreateConnectToken {
    fn with_corbado(corbado: CorbadoClient) -> Self {
        Self { corbado }
    }
}

impl PasskeyFunction for VerifySignedPasskeyData {
    fn with_corbado(corbado: CorbadoClient) -> Self {
        Self { corbado }
    }
}

impl SessionRoutes {
    /// From the environment ([`SessionConfig`]; no Corbado variable is needed).
    pub async fn from_env() -> Result<Function<Self>, InitError> {
        let config = session_config_from_env()?;
        let aws = crate::upstream::aws_sdk_config().await;
        Ok(Self::with_client(
            &config,
            aws_sdk_dynamodb::Client::new(&aws),
        ))
    }

    pub fn with_client(
        config: &SessionConfig,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Function<Self> {
        function(Self, sessions(config, dynamodb), config)
    }
}

impl Authorizer {
    /// From the environment ([`SessionConfig`]; no Corbado variable is needed).
    pub async fn from_env() -> Result<Self, InitError> {
        let config = session_config_from_env()?;
        let aws = crate::upstream::aws_sdk_config().await;
        Ok(Self::with_client(
            &config,
            aws_sdk_dynamodb::Client::new(&aws),
        ))
    }

    pub fn with_client(config: &SessionConfig, dynamodb: aws_sdk_dynamodb::Client) -> Self {
        Self {
            sessions: sessions(config, dynamodb),
            telemetry: Telemetry::new(&config.metrics_namespace),
        }
    }

    /// Sends the metric lines elsewhere than stdout (tests read them).
    pub fn with_metrics_sink(mut self, sink: crate::telemetry::metrics::MetricsSink) -> Self {
        self.telemetry = self.telemetry.with_metrics_sink(sink);
        self
    }
}
