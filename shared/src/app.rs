//! The two endpoints. An [`App`] is built once per execution environment and
//! serves every invocation that environment receives.

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::api::{self, ApiError};
use crate::config::{Config, ConfigError};
use crate::corbado::{
    ConnectTokenRequest, ConnectTokenType, CorbadoClient, Timeouts, VerificationResult,
};
use crate::secret::SecretCache;
use crate::session::{NewSession, SessionStore, SessionToken};
use crate::signed_data::SignedPasskeyData;

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

pub struct App {
    sessions: SessionStore,
    corbado: CorbadoClient,
    cookie_name: String,
}

#[derive(Deserialize)]
struct CreateConnectTokenBody {
    #[serde(rename = "type")]
    token_type: String,
}

#[derive(Serialize)]
struct CreateConnectTokenResponse<'a> {
    #[serde(rename = "connectToken")]
    connect_token: &'a str,
}

#[derive(Deserialize)]
struct VerifySignedPasskeyDataBody {
    #[serde(rename = "signedPasskeyData")]
    signed_passkey_data: String,
}

#[derive(Serialize)]
struct VerifySignedPasskeyDataResponse {
    success: bool,
}

impl App {
    /// Reads the configuration and the standard AWS SDK environment
    /// (`AWS_REGION`, `AWS_ENDPOINT_URL_*`, credentials).
    pub async fn from_env() -> Result<Self, InitError> {
        let config =
            Config::from_env().inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
        let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::new(&config, &aws, Timeouts::default())
    }

    pub fn new(config: &Config, aws: &SdkConfig, timeouts: Timeouts) -> Result<Self, InitError> {
        Self::from_clients(
            config,
            aws_sdk_dynamodb::Client::new(aws),
            SecretCache::new(
                aws_sdk_secretsmanager::Client::new(aws),
                &config.api_secret_id,
            ),
            timeouts,
        )
    }

    /// For callers that configure the AWS clients themselves (tests record their calls).
    pub fn from_clients(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secrets: SecretCache,
        timeouts: Timeouts,
    ) -> Result<Self, InitError> {
        let sessions = SessionStore::new(dynamodb, &config.sessions_table, config.session_ttl);
        let corbado = CorbadoClient::new(
            &config.backend_api,
            config.project_id.clone(),
            secrets,
            timeouts,
        )?;
        Ok(Self {
            sessions,
            corbado,
            cookie_name: config.session_cookie_name.clone(),
        })
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// `POST /auth/createConnectToken`
    pub async fn create_connect_token(&self, request: Request) -> Response<Body> {
        self.try_create_connect_token(&request)
            .await
            .unwrap_or_else(ApiError::into_response)
    }

    /// `POST /auth/verifySignedPasskeyData`
    pub async fn verify_signed_passkey_data(&self, request: Request) -> Response<Body> {
        self.try_verify_signed_passkey_data(&request)
            .await
            .unwrap_or_else(ApiError::into_response)
    }

    async fn try_create_connect_token(
        &self,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let body: CreateConnectTokenBody = api::json_body(request)?;
        let kind = ConnectTokenType::parse(&body.token_type).ok_or(ApiError::UnknownTokenType)?;
        let token = api::cookie(request, &self.cookie_name).ok_or(ApiError::SessionRequired)?;
        let token = SessionToken::parse(token).ok_or(ApiError::SessionInvalid)?;
        let session = self
            .sessions
            .find(&token)
            .await?
            .ok_or(ApiError::SessionInvalid)?;

        let secret = self
            .corbado
            .create_connect_token(&ConnectTokenRequest::for_session(kind, &session))
            .await?;
        tracing::info!(token_type = body.token_type, "connect token created");
        Ok(api::json_response(
            StatusCode::OK,
            &CreateConnectTokenResponse {
                connect_token: secret.expose_secret(),
            },
        ))
    }

    async fn try_verify_signed_passkey_data(
        &self,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let body: VerifySignedPasskeyDataBody = api::json_body(request)?;
        let data = SignedPasskeyData::parse(body.signed_passkey_data)?;

        let result = self.corbado.verify_signed_data(&data).await?;
        if result != VerificationResult::Success {
            return Err(ApiError::VerificationFailed(result));
        }

        let claims = data.claims();
        let (token, session) = self
            .sessions
            .create(NewSession {
                user_id: claims.webauthn_id.clone(),
                display_name: None,
                corbado_user_id: claims.sub.clone(),
                credential_id: claims.credential.clone(),
            })
            .await?;
        tracing::info!(
            corbado_user_id = session.corbado_user_id.as_deref().unwrap_or("-"),
            credential_id = session.credential_id.as_deref().unwrap_or("-"),
            "passkey login verified; session created"
        );
        let response = api::json_response(
            StatusCode::OK,
            &VerifySignedPasskeyDataResponse { success: true },
        );
        Ok(api::with_cookie(
            response,
            api::session_cookie(&self.cookie_name, &token, self.sessions.ttl().as_secs()),
        ))
    }
}
