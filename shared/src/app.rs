//! The two core endpoints. An [`App`] is built once per execution environment and
//! serves every invocation that environment receives.

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_http::http::header::ORIGIN;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::api::{self, ApiError, CreateConnectTokenBody, Invocation, VerifySignedPasskeyDataBody};
use crate::config::{Config, ConfigError};
use crate::corbado::{
    CallPolicy, ConnectTokenRequest, ConnectTokenType, CorbadoClient, VerificationResult,
};
use crate::edge::{request_id, Edge, Endpoint, Presented, RequestRecord, Routes};
use crate::metrics::MetricsSink;
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

/// What a login keeps back from Corbado's call for writing the session after it: a
/// transaction up to the SDK's operation timeout, then the read-back of an ambiguous write.
const SESSION_WRITE_RESERVE: Duration = Duration::from_millis(4500);

/// The AWS SDK configuration the functions run with: the standard environment
/// (`AWS_REGION`, `AWS_ENDPOINT_URL_*`, credentials) and timeouts that end
/// DynamoDB and Secrets Manager calls in time for the function to answer. Each request
/// also has one deadline ([`crate::deadline`]) that cuts off whatever runs longer.
pub async fn aws_sdk_config() -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_millis(1500))
        .operation_timeout(std::time::Duration::from_secs(3))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
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
    edge: Edge,
}

/// How verifySignedPasskeyData hands over the new session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SessionDelivery {
    Cookie,
    /// In the JSON body, for native apps without a cookie jar (`NATIVE_APP_SESSIONS=true` only).
    Body,
}

impl SessionDelivery {
    fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("cookie") => Ok(Self::Cookie),
            Some("body") => Ok(Self::Body),
            Some(_) => Err(ApiError::InvalidRequest(
                "sessionDelivery must be \"cookie\" or \"body\"".into(),
            )),
        }
    }
}

#[derive(Serialize)]
struct CreateConnectTokenResponse<'a> {
    #[serde(rename = "connectToken")]
    connect_token: &'a str,
}

#[derive(Serialize)]
struct VerifySignedPasskeyDataResponse<'a> {
    success: bool,
    #[serde(rename = "sessionToken", skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    #[serde(rename = "expiresIn", skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
}

impl App {
    /// Reads the configuration and the AWS SDK environment ([`aws_sdk_config`]).
    pub async fn from_env() -> Result<Self, InitError> {
        let config =
            Config::from_env().inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
        Self::new(&config, &aws_sdk_config().await, CallPolicy::default())
    }

    pub fn new(config: &Config, aws: &SdkConfig, policy: CallPolicy) -> Result<Self, InitError> {
        Self::from_clients(
            config,
            aws_sdk_dynamodb::Client::new(aws),
            SecretCache::new(
                aws_sdk_secretsmanager::Client::new(aws),
                &config.api_secret_id,
            ),
            policy,
        )
    }

    /// For callers that configure the AWS clients themselves (tests record their calls).
    pub fn from_clients(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secrets: SecretCache,
        policy: CallPolicy,
    ) -> Result<Self, InitError> {
        let sessions = SessionStore::from_config(dynamodb, &config.sessions);
        let corbado = CorbadoClient::new(
            &config.backend_api,
            config.project_id.clone(),
            secrets,
            policy,
        )?;
        Ok(Self {
            sessions,
            corbado,
            edge: Edge::new(&config.sessions),
        })
    }

    /// Sends the metric lines elsewhere than stdout (tests read them).
    pub fn with_metrics_sink(mut self, sink: MetricsSink) -> Self {
        self.edge.set_metrics_sink(sink);
        self
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Answers one request to `endpoint`.
    pub async fn handle(&self, endpoint: Endpoint, request: Request) -> Response<Body> {
        match endpoint {
            Endpoint::CreateConnectToken => self.create_connect_token(request).await,
            Endpoint::VerifySignedPasskeyData => self.verify_signed_passkey_data(request).await,
            // The session routes are the session function's ([`crate::SessionRoutes`]).
            other => self.refuse(other, request_id(&request), ApiError::NotFound),
        }
    }

    /// [`Routes::refuse`]
    pub fn refuse(&self, endpoint: Endpoint, request_id: &str, error: ApiError) -> Response<Body> {
        self.edge.refuse(endpoint, request_id, error)
    }

    /// `POST /auth/createConnectToken`
    pub async fn create_connect_token(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let mut record = RequestRecord::bounded_by(Invocation::of(&request).deadline);
        let outcome = self.try_create_connect_token(&request, &mut record).await;
        self.edge.finish(
            Endpoint::CreateConnectToken,
            request_id(&request),
            started,
            record,
            outcome,
        )
    }

    /// `POST /auth/verifySignedPasskeyData`
    pub async fn verify_signed_passkey_data(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let mut record = RequestRecord::bounded_by(Invocation::of(&request).deadline);
        let outcome = self
            .try_verify_signed_passkey_data(&request, &mut record)
            .await;
        self.edge.finish(
            Endpoint::VerifySignedPasskeyData,
            request_id(&request),
            started,
            record,
            outcome,
        )
    }

    async fn try_create_connect_token(
        &self,
        request: &Request,
        record: &mut RequestRecord,
    ) -> Result<Response<Body>, ApiError> {
        let body: CreateConnectTokenBody = api::json_body(request)?;
        let kind = ConnectTokenType::parse(&body.token_type).ok_or(ApiError::UnknownTokenType)?;
        record.token_type = Some(kind.as_str());
        let presented = self
            .edge
            .presented_token(request)?
            .ok_or(ApiError::SessionRequired)?;
        // Browsers attach cookies to cross-site requests; bearer tokens they never attach.
        if matches!(presented, Presented::Cookie(_)) {
            self.edge.check_origin(request)?;
        }
        let token = SessionToken::parse(presented.token()).ok_or(ApiError::SessionInvalid)?;
        record.session_ref = Some(token.reference());
        let session = record
            .dynamodb(self.sessions.find(&token))
            .await?
            .ok_or(ApiError::SessionInvalid)?;
        record.user_id = Some(session.user_id.clone());

        let deadline = record.deadline();
        let request = ConnectTokenRequest::for_session(kind, &session);
        let secret = record
            .corbado(self.corbado.create_connect_token(&request, deadline))
            .await?;
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
        record: &mut RequestRecord,
    ) -> Result<Response<Body>, ApiError> {
        // A cross-site page must not log the browser into an account of its choosing.
        self.edge.check_origin(request)?;
        let body: VerifySignedPasskeyDataBody = api::json_body(request)?;
        let delivery = SessionDelivery::parse(body.session_delivery.as_deref())?;
        if delivery == SessionDelivery::Body {
            if !self.edge.native_app_sessions {
                return Err(ApiError::NativeSessionsDisabled);
            }
            // A token in the body is readable by every script on the page: never for browsers.
            if request.headers().contains_key(ORIGIN) {
                return Err(ApiError::BodyDeliveryFromBrowser);
            }
        }
        let previous = self.edge.presented_token(request)?;
        let data = SignedPasskeyData::parse(body.signed_passkey_data)?;

        // Corbado consumes the data: leave the session write the time it needs after.
        let deadline = record.deadline().leaving(SESSION_WRITE_RESERVE);
        let result = record
            .corbado(self.corbado.verify_signed_data(&data, deadline))
            .await?;
        if result != VerificationResult::Success {
            return Err(ApiError::VerificationFailed(result));
        }

        // Always a fresh session (no fixation); the one the client held ends
        // with it, in one transaction.
        let previous = previous.and_then(|p| SessionToken::parse(p.token()));
        record.presented_session_revoked = previous.is_some();
        let claims = data.claims();
        let new = NewSession {
            user_id: claims.webauthn_id.clone(),
            display_name: None,
            corbado_user_id: claims.sub.clone(),
            credential_id: claims.credential.clone(),
        };
        let deadline = record.deadline();
        let (token, session) = record
            .dynamodb(
                self.sessions
                    .create_replacing(new, previous.as_ref(), deadline),
            )
            .await?;
        record.user_id = Some(session.user_id);
        record.session_ref = Some(token.reference());
        record.corbado_user_id = session.corbado_user_id;
        record.credential_id = session.credential_id;
        let ttl = self.sessions.ttl().as_secs();
        Ok(match delivery {
            SessionDelivery::Cookie => api::with_cookie(
                api::json_response(
                    StatusCode::OK,
                    &VerifySignedPasskeyDataResponse {
                        success: true,
                        session_token: None,
                        expires_in: None,
                    },
                ),
                api::session_cookie(&self.edge.cookie_name, &token, ttl),
            ),
            SessionDelivery::Body => api::json_response(
                StatusCode::OK,
                &VerifySignedPasskeyDataResponse {
                    success: true,
                    session_token: Some(token.expose()),
                    expires_in: Some(ttl),
                },
            ),
        })
    }
}

impl Routes for App {
    async fn handle(&self, endpoint: Endpoint, request: Request) -> Response<Body> {
        App::handle(self, endpoint, request).await
    }

    fn refuse(&self, endpoint: Endpoint, request_id: &str, error: ApiError) -> Response<Body> {
        App::refuse(self, endpoint, request_id, error)
    }
}
