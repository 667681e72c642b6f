//! The API Gateway HTTP API Lambda authorizer (payload format 2.0, simple responses) that
//! the application's own routes attach: the same session cookie, read and checked the
//! same way as the session routes do.
//!
//! A live session answers `{"isAuthorized": true, "context": {"userId", "displayName"?}}`,
//! which the route's integration reads from `requestContext.authorizer.lambda`
//! ([`AuthorizedUser::of`]); a missing, unknown or expired session answers
//! `{"isAuthorized": false}` (API Gateway then answers 403). Every server-side failure
//! (DynamoDB, the deadline) fails the invocation, and API Gateway answers 500: an outage
//! is not a logout.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};

use crate::http::{request, ApiError, Endpoint, Sessions};
use crate::session::policy::CookieCount;
use crate::telemetry::{metrics, RequestRecord, Telemetry};

/// What API Gateway answers a client the authorizer refuses.
const DENIED_STATUS: u16 = 403;

pub struct Authorizer {
    pub(crate) sessions: Sessions,
    pub(crate) telemetry: Telemetry,
}

/// The simple response of payload format 2.0.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AuthorizerResponse {
    #[serde(rename = "isAuthorized")]
    pub is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<AuthorizedUser>,
}

/// The user a live session belongs to, as the authorizer hands it to the route.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuthorizedUser {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl AuthorizedUser {
    /// For the application's own Rust routes behind the authorizer: the user API Gateway
    /// passed on in `requestContext.authorizer.lambda`. `None` when the route is reached
    /// without the authorizer's context, which means it is misconfigured: never serve
    /// such a request as anonymous.
    pub fn of(request: &Request) -> Option<Self> {
        let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
            return None;
        };
        // lambda_http names the `lambda` object `fields`.
        let fields = &context.authorizer.as_ref()?.fields;
        let text = |name: &str| fields.get(name)?.as_str().map(str::to_owned);
        Some(Self {
            user_id: text("userId")?,
            display_name: text("displayName"),
        })
    }
}

/// The invocation fails, and API Gateway answers the client 500. The detail is in the
/// summary line, not here: Lambda logs this message too.
#[derive(Debug, thiserror::Error)]
#[error("the session could not be checked")]
pub struct AuthorizerFailed;

impl AuthorizerResponse {
    const DENIED: Self = Self {
        is_authorized: false,
        context: None,
    };
}

/// The parts of an authorizer event the authorizer reads, borrowed from the event's text
/// where no escape forces a copy.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizerEvent<'a> {
    /// Payload 2.0 puts the request's cookies here, one per entry.
    #[serde(borrow, default)]
    cookies: Option<Vec<Cow<'a, str>>>,
    /// An event without `cookies` may still carry a `cookie` header.
    #[serde(borrow, default)]
    headers: Option<HashMap<Cow<'a, str>, Cow<'a, str>>>,
}

impl<'a> AuthorizerEvent<'a> {
    /// The event in `json`; anything that is no authorizer event reads as one without
    /// cookies, which is denied.
    pub fn read(json: &'a str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The cookies, by the HTTP functions' rule ([`crate::http::Invocation`]): the
    /// `cookies` entries, else the `cookie` header.
    fn cookies(&self) -> Vec<&[u8]> {
        match &self.cookies {
            Some(cookies) if !cookies.is_empty() => cookies.iter().map(|c| c.as_bytes()).collect(),
            _ => self
                .headers
                .iter()
                .flatten()
                .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
                .map(|(_, value)| value.as_bytes())
                .collect(),
        }
    }
}

impl Authorizer {
    /// Decides one authorizer event, with its summary line and metrics. An error is a
    /// failed invocation.
    pub async fn authorize(
        &self,
        event: &AuthorizerEvent<'_>,
        request_id: &str,
    ) -> Result<AuthorizerResponse, AuthorizerFailed> {
        let mut record = RequestRecord::new(Endpoint::Authorizer, request_id, Instant::now());
        let outcome = self.decide(event, &mut record).await;
        match outcome {
            Ok(user) => {
                self.telemetry.publish(&record, 200, metrics::CODE_OK, None);
                Ok(AuthorizerResponse {
                    is_authorized: true,
                    context: Some(user),
                })
            }
            Err(failure) if failure.is_server_side() => {
                self.telemetry
                    .publish(&record, 500, failure.code(), Some(&failure));
                Err(AuthorizerFailed)
            }
            Err(denied) => {
                self.telemetry
                    .publish(&record, DENIED_STATUS, denied.code(), Some(&denied));
                Ok(AuthorizerResponse::DENIED)
            }
        }
    }

    async fn decide(
        &self,
        event: &AuthorizerEvent<'_>,
        record: &mut RequestRecord,
    ) -> Result<AuthorizedUser, ApiError> {
        let cookie = match request::find_cookie(event.cookies(), self.sessions.cookie.name()) {
            CookieCount::One(cookie) => cookie,
            CookieCount::None => return Err(ApiError::SessionRequired),
            CookieCount::Several => return Err(ApiError::SessionAmbiguous),
        };
        let (_, session) = self.sessions.live(cookie, record).await?;
        Ok(AuthorizedUser {
            user_id: session.user_id,
            display_name: session.display_name,
        })
    }
}
