//! What every HTTP function shares between reading a request and answering it: which
//! endpoint it is, the session it presents, the Origin check, and the one place where a
//! request ends with its summary log line and metrics.

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::http::header::ORIGIN;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::api::{self, ApiError};
use crate::config::{ConfigError, SessionConfig};
use crate::deadline::Deadline;
use crate::metrics::{self, millis, Metrics, MetricsSink, RequestOutcome};
use crate::session::{SessionError, SessionStore};

/// The endpoints this crate serves: the `Endpoint` of logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/createConnectToken`
    CreateConnectToken,
    /// `POST /auth/verifySignedPasskeyData`
    VerifySignedPasskeyData,
    /// `GET /auth/session`
    Session,
    /// `DELETE /auth/session`
    Logout,
    /// `DELETE /auth/sessions`
    LogoutEverywhere,
    /// The API Gateway Lambda authorizer in front of the application's own routes.
    Authorizer,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateConnectToken => "createConnectToken",
            Self::VerifySignedPasskeyData => "verifySignedPasskeyData",
            Self::Session => "session",
            Self::Logout => "logout",
            Self::LogoutEverywhere => "logoutEverywhere",
            Self::Authorizer => "authorizer",
        }
    }
}

/// A function's HTTP routes, as the runtime loop ([`crate::runtime`]) drives them.
pub trait Routes: Sync {
    /// Answers one request; `endpoint` is the one the function was started for, which a
    /// function serving several routes refines from the request.
    fn handle(
        &self,
        endpoint: Endpoint,
        request: Request,
    ) -> impl Future<Output = Response<Body>> + Send;

    /// The answer to an invocation whose event could not be handled (an unreadable
    /// event, or a panic), with its summary line and metrics.
    fn refuse(&self, endpoint: Endpoint, request_id: &str, error: ApiError) -> Response<Body>;
}

/// What one request did, gathered for its summary log line and its metrics; and the
/// deadline its upstream calls are cut off at.
#[derive(Default)]
pub(crate) struct RequestRecord {
    /// None: calls are bounded only by their own timeouts (a refusal makes none).
    pub deadline: Option<Deadline>,
    pub corbado: Option<Duration>,
    pub dynamodb: Option<Duration>,
    pub token_type: Option<&'static str>,
    pub corbado_user_id: Option<String>,
    pub credential_id: Option<String>,
    pub presented_session_revoked: bool,
    /// How many sessions a logout ended.
    pub sessions_revoked: Option<usize>,
    /// Whose session the request used or ended: the audit trail of logins and logouts.
    pub user_id: Option<String>,
    /// The session's [`crate::SessionToken::reference`]; never the token.
    pub session_ref: Option<String>,
}

impl RequestRecord {
    pub fn bounded_by(deadline: Deadline) -> Self {
        Self {
            deadline: Some(deadline),
            ..Self::default()
        }
    }

    /// The deadline a phase draws on; without one, the function's whole timeout.
    pub fn deadline(&self) -> Deadline {
        self.deadline.unwrap_or_else(|| Deadline::for_invocation(0))
    }

    pub async fn corbado<T>(&mut self, call: impl Future<Output = T>) -> T {
        timed(&mut self.corbado, call).await
    }

    /// A DynamoDB phase, timed, and cut off at the request's deadline.
    pub async fn dynamodb<T>(
        &mut self,
        call: impl Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionError> {
        let deadline = self.deadline();
        timed(&mut self.dynamodb, deadline.run(call))
            .await
            .unwrap_or_else(|passed| Err(passed.into()))
    }
}

/// Runs `call`, adding its duration to `total`.
async fn timed<T>(total: &mut Option<Duration>, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let output = call.await;
    *total = Some(total.unwrap_or_default() + started.elapsed());
    output
}

/// The Lambda request id of the invocation; empty when there is none.
pub(crate) fn request_id(request: &Request) -> &str {
    request
        .lambda_context_ref()
        .map_or("", |context| context.request_id.as_str())
}

/// Where a request's session token came from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Presented {
    Cookie(String),
    /// `Authorization: Bearer …`, from native apps that hold the token themselves.
    Bearer(String),
}

impl Presented {
    pub fn token(&self) -> &str {
        match self {
            Self::Cookie(t) | Self::Bearer(t) => t,
        }
    }
}

/// What the session routes and the authorizer are made of: the table, and the edge.
/// `SessionRoutes::from(parts)`, `Authorizer::from(parts)`.
pub struct SessionParts {
    pub(crate) sessions: SessionStore,
    pub(crate) edge: Edge,
}

impl SessionParts {
    /// Reads [`SessionConfig`] and the AWS SDK environment ([`crate::aws_sdk_config`]).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = SessionConfig::from_env()
            .inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
        let dynamodb = aws_sdk_dynamodb::Client::new(&crate::aws_sdk_config().await);
        Ok(Self::from_client(&config, dynamodb))
    }

    pub fn from_client(config: &SessionConfig, dynamodb: aws_sdk_dynamodb::Client) -> Self {
        Self {
            sessions: SessionStore::from_config(dynamodb, config),
            edge: Edge::new(config),
        }
    }

    /// Sends the metric lines elsewhere than stdout (tests read them).
    pub fn with_metrics_sink(mut self, sink: MetricsSink) -> Self {
        self.edge.set_metrics_sink(sink);
        self
    }
}

/// The session settings every HTTP function applies the same way, and its metrics.
pub(crate) struct Edge {
    pub cookie_name: String,
    allowed_origins: Vec<String>,
    pub native_app_sessions: bool,
    metrics: Metrics,
}

impl Edge {
    pub fn new(config: &SessionConfig) -> Self {
        if !config.session_cookie_name.starts_with("__Host-") {
            tracing::warn!(
                cookie = %config.session_cookie_name,
                "SESSION_COOKIE_NAME lacks the __Host- prefix: a sibling subdomain can then plant a \
                 cookie of that name, and requests carrying two are refused (session_ambiguous)"
            );
        }
        Self {
            cookie_name: config.session_cookie_name.clone(),
            allowed_origins: config.allowed_origins.clone(),
            native_app_sessions: config.native_app_sessions,
            metrics: Metrics::new(&config.metrics_namespace, MetricsSink::Stdout),
        }
    }

    pub fn set_metrics_sink(&mut self, sink: MetricsSink) {
        self.metrics = Metrics::new(self.metrics.namespace(), sink);
    }

    /// The session token the request presents: a bearer token (native apps,
    /// only when enabled) or else the session cookie.
    pub fn presented_token(&self, request: &Request) -> Result<Option<Presented>, ApiError> {
        if let Some(bearer) = api::bearer_token(request) {
            if !self.native_app_sessions {
                return Err(ApiError::NativeSessionsDisabled);
            }
            return Ok(Some(Presented::Bearer(bearer.to_owned())));
        }
        Ok(api::cookie(request, &self.cookie_name)?.map(Presented::Cookie))
    }

    /// Requests from a browser carry `Origin`; only the configured frontends may act with our cookie.
    pub fn check_origin(&self, request: &Request) -> Result<(), ApiError> {
        match request.headers().get(ORIGIN) {
            None => Ok(()),
            Some(origin)
                if self
                    .allowed_origins
                    .iter()
                    .any(|o| o.as_bytes() == origin.as_bytes()) =>
            {
                Ok(())
            }
            Some(_) => Err(ApiError::OriginNotAllowed),
        }
    }

    /// The response, one summary log line and one metrics line: every request ends here.
    pub fn finish(
        &self,
        endpoint: Endpoint,
        request_id: &str,
        started: Instant,
        record: RequestRecord,
        outcome: Result<Response<Body>, ApiError>,
    ) -> Response<Body> {
        let latency = started.elapsed();
        let (response, code, error) = match outcome {
            Ok(response) => (response, metrics::CODE_OK, None),
            Err(err) => (err.to_response(), err.code(), Some(err)),
        };
        let status = response.status().as_u16();
        self.record(
            endpoint,
            request_id,
            latency,
            &record,
            status,
            code,
            error.as_ref(),
        );
        response
    }

    /// The answer to a request refused before its handler ran (an unreadable event, a
    /// panic, a route the function does not serve), with its summary line and metrics.
    pub fn refuse(&self, endpoint: Endpoint, request_id: &str, error: ApiError) -> Response<Body> {
        let record = RequestRecord::default();
        self.finish(endpoint, request_id, Instant::now(), record, Err(error))
    }

    /// The summary log line and the metrics line of one request.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        endpoint: Endpoint,
        request_id: &str,
        latency: Duration,
        record: &RequestRecord,
        status: u16,
        code: &str,
        error: Option<&ApiError>,
    ) {
        macro_rules! summary {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    endpoint = endpoint.as_str(),
                    status,
                    code,
                    latency_ms = millis(latency),
                    corbado_ms = record.corbado.map(millis),
                    dynamodb_ms = record.dynamodb.map(millis),
                    token_type = record.token_type,
                    corbado_user_id = record.corbado_user_id.as_deref(),
                    credential_id = record.credential_id.as_deref(),
                    presented_session_revoked = record.presented_session_revoked.then_some(true),
                    sessions_revoked = record.sessions_revoked,
                    user_id = record.user_id.as_deref(),
                    session_ref = record.session_ref.as_deref(),
                    reason = error.map(tracing::field::display),
                    $message
                )
            };
        }
        match error {
            None => summary!(info, "request completed"),
            Some(err) if err.status().is_server_error() => summary!(error, "request failed"),
            Some(_) => summary!(info, "request refused"),
        }
        self.metrics.publish(&RequestOutcome {
            endpoint,
            code,
            status,
            corbado_failure: error.is_some_and(ApiError::is_corbado_failure),
            latency,
            corbado_latency: record.corbado,
            dynamodb_latency: record.dynamodb,
            request_id: Some(request_id).filter(|id| !id.is_empty()),
        });
    }
}
