//! The API Gateway HTTP API Lambda authorizer (payload format 2.0, simple responses) that
//! the application's own routes attach: the same session cookie, checked the same way as
//! the session routes check it.
//!
//! A live session answers `{"isAuthorized": true, "context": {"userId", "displayName"?}}`,
//! which the route's integration reads from `requestContext.authorizer.lambda`; anything
//! else answers `{"isAuthorized": false}` (API Gateway then answers 403). When DynamoDB
//! fails, the invocation fails, and API Gateway answers 500: an outage is not a logout.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::api::{self, ApiError};
use crate::edge::{Endpoint, RequestRecord, SessionParts};
use crate::session::SessionToken;

/// What API Gateway answers a client the authorizer refuses.
const DENIED_STATUS: u16 = 403;

pub struct Authorizer(SessionParts);

impl From<SessionParts> for Authorizer {
    fn from(parts: SessionParts) -> Self {
        Self(parts)
    }
}

/// The simple response of payload format 2.0.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AuthorizerResponse {
    #[serde(rename = "isAuthorized")]
    pub is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<AuthorizerContext>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AuthorizerContext {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// The invocation fails, and API Gateway answers the client 500. The detail is in the
/// summary log line, not here: Lambda logs this message too.
#[derive(Debug, thiserror::Error)]
#[error("the sessions table could not be read")]
pub struct AuthorizerFailed;

impl AuthorizerResponse {
    const DENIED: Self = Self {
        is_authorized: false,
        context: None,
    };
}

impl Authorizer {
    /// Decides one authorizer event, with its summary line and metrics. An error is a
    /// failed invocation: the table could not be read.
    pub async fn authorize(
        &self,
        event: &Value,
        request_id: &str,
    ) -> Result<AuthorizerResponse, AuthorizerFailed> {
        let started = Instant::now();
        let mut record = RequestRecord::default();
        let outcome = self.decide(event, &mut record).await;
        let summary = |status, code, error| {
            let latency = started.elapsed();
            let endpoint = Endpoint::Authorizer;
            self.0
                .edge
                .record(endpoint, request_id, latency, &record, status, code, error);
        };
        match outcome {
            Ok(context) => {
                summary(200, crate::metrics::CODE_OK, None);
                Ok(AuthorizerResponse {
                    is_authorized: true,
                    context: Some(context),
                })
            }
            Err(failure @ ApiError::Session(_)) => {
                summary(500, failure.code(), Some(&failure));
                Err(AuthorizerFailed)
            }
            Err(denied) => {
                summary(DENIED_STATUS, denied.code(), Some(&denied));
                Ok(AuthorizerResponse::DENIED)
            }
        }
    }

    async fn decide(
        &self,
        event: &Value,
        record: &mut RequestRecord,
    ) -> Result<AuthorizerContext, ApiError> {
        let presented = api::find_cookie(cookie_headers(event), &self.0.edge.cookie_name)?
            .ok_or(ApiError::SessionRequired)?;
        let token = SessionToken::parse(presented).ok_or(ApiError::SessionInvalid)?;
        record.session_ref = Some(token.reference());
        let session = record
            .dynamodb(self.0.sessions.find(&token))
            .await?
            .ok_or(ApiError::SessionInvalid)?;
        record.user_id = Some(session.user_id.clone());
        Ok(AuthorizerContext {
            user_id: session.user_id,
            display_name: session.display_name,
        })
    }
}

/// The event's cookies, as `Cookie` header values: payload 2.0 puts them in `cookies`,
/// one per entry; an event without that field may still carry a `cookie` header. The
/// same rule as the HTTP functions' ([`crate::api::Invocation`]).
fn cookie_headers(event: &Value) -> Vec<&[u8]> {
    let cookies = strings(event.get("cookies"));
    if !cookies.is_empty() {
        return cookies;
    }
    let header = event
        .get("headers")
        .and_then(Value::as_object)
        .and_then(|headers| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        })
        .map(|(_, value)| value);
    strings(header)
}

/// A string, or the strings of an array; anything else holds none.
fn strings(value: Option<&Value>) -> Vec<&[u8]> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::as_bytes)
            .collect(),
        Some(Value::String(value)) => vec![value.as_bytes()],
        _ => Vec::new(),
    }
}
