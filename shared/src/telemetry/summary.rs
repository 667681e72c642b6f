//! The one summary line and the one metrics record every request ends with.

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};

use super::metrics::{self, millis, Metrics, MetricsSink, RequestOutcome};
use crate::deadline::Deadline;
use crate::http::{ApiError, Endpoint};
use crate::session::SessionError;

/// What one request did, gathered for its summary line and its metrics; and the deadline
/// its upstream calls are cut off at.
pub struct RequestRecord {
    pub endpoint: Endpoint,
    pub request_id: String,
    pub started: Instant,
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
    /// The session's [`crate::session::SessionToken::reference`]; never the token.
    pub session_ref: Option<String>,
}

impl RequestRecord {
    pub fn new(endpoint: Endpoint, request_id: &str, started: Instant) -> Self {
        Self {
            endpoint,
            request_id: request_id.to_owned(),
            started,
            deadline: None,
            corbado: None,
            dynamodb: None,
            token_type: None,
            corbado_user_id: None,
            credential_id: None,
            presented_session_revoked: false,
            sessions_revoked: None,
            user_id: None,
            session_ref: None,
        }
    }

    /// The deadline a phase draws on; without one, the function's whole timeout.
    pub fn deadline(&self) -> Deadline {
        self.deadline.unwrap_or_else(|| Deadline::for_invocation(0))
    }

    /// A Corbado phase, timed.
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

/// An error and every error beneath it, as one line: `a: b: c`.
pub(crate) struct Chain<'e>(pub &'e (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Where a function's summary lines and metrics go.
pub struct Telemetry {
    metrics: Metrics,
}

impl Telemetry {
    pub fn new(metrics_namespace: &str) -> Self {
        Self {
            metrics: Metrics::new(metrics_namespace, MetricsSink::Stdout),
        }
    }

    /// Sends the metric lines elsewhere than stdout (tests read them).
    pub fn with_metrics_sink(self, sink: MetricsSink) -> Self {
        Self {
            metrics: Metrics::new(self.metrics.namespace(), sink),
        }
    }

    /// The answer to a request, with its summary line and metrics record: every HTTP
    /// request ends here.
    pub fn finish(
        &self,
        record: &RequestRecord,
        outcome: Result<Response<Body>, ApiError>,
    ) -> Response<Body> {
        let (response, code, error) = match outcome {
            Ok(response) => (response, metrics::CODE_OK, None),
            Err(err) => (err.to_response(), err.code(), Some(err)),
        };
        let status = response.status().as_u16();
        self.publish(record, status, code, error.as_ref());
        response
    }

    /// The summary line and the metrics record of one request that ended in `status`
    /// and `code`.
    pub fn publish(
        &self,
        record: &RequestRecord,
        status: u16,
        code: &str,
        error: Option<&ApiError>,
    ) {
        let latency = record.started.elapsed();
        macro_rules! summary {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    endpoint = record.endpoint.as_str(),
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
                    reason = error.map(|e| tracing::field::display(Chain(e))),
                    $message
                )
            };
        }
        match error {
            None => summary!(info, "request completed"),
            Some(err) if err.is_server_side() => summary!(error, "request failed"),
            Some(_) => summary!(info, "request refused"),
        }
        self.metrics.publish(&RequestOutcome {
            endpoint: record.endpoint,
            code,
            status,
            corbado_failure: error.is_some_and(ApiError::is_corbado_failure),
            latency,
            corbado_latency: record.corbado,
            dynamodb_latency: record.dynamodb,
            request_id: Some(record.request_id.as_str()).filter(|id| !id.is_empty()),
        });
    }
}
