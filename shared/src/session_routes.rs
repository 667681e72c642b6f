//! The session function's three routes, for the whole application rather than for
//! passkeys: who is logged in, logout, and logout everywhere.
//!
//! - `GET /auth/session`: `200 {"userId", "displayName"?, "expiresAt"}` for a live session,
//!   else `401`. The cookie is `HttpOnly`, so this is how a page learns it is logged in.
//! - `DELETE /auth/session`: ends the cookie's session (and a native app's bearer token's)
//!   and clears the cookie. Always `200` when it gets that far: logging out twice, or
//!   without a session, is no error.
//! - `DELETE /auth/sessions`: ends every session of the presented session's user.
//!
//! A dead session cookie (unknown, expired, not a token) gets its `401` with the clearing
//! cookie, so the browser stops sending it.

use std::time::Instant;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::api::{self, ApiError, Invocation};
use crate::edge::{request_id, Endpoint, Presented, RequestRecord, Routes, SessionParts};
use crate::session::{Session, SessionToken};

pub struct SessionRoutes(SessionParts);

impl From<SessionParts> for SessionRoutes {
    fn from(parts: SessionParts) -> Self {
        Self(parts)
    }
}

#[derive(Serialize)]
struct SessionResponse<'a> {
    #[serde(rename = "userId")]
    user_id: &'a str,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    /// Epoch seconds.
    #[serde(rename = "expiresAt")]
    expires_at: u64,
}

#[derive(Serialize)]
struct LogoutResponse {
    success: bool,
}

#[derive(Serialize)]
struct LogoutEverywhereResponse {
    success: bool,
    /// How many live sessions ended, the presented one included.
    revoked: usize,
}

impl SessionRoutes {
    /// Which of the three routes a request is for: by method, and by the last segment of
    /// the path API Gateway sent (`session` or `sessions`), whatever stage or prefix
    /// precedes it. Not by the request's URI, which the runtime may have had to cut short.
    fn route(request: &Request) -> Result<Endpoint, ApiError> {
        let invocation = Invocation::of(request);
        let path = invocation.path.trim_end_matches('/');
        let all = path.ends_with("/sessions");
        if !all && !path.ends_with("/session") {
            return Err(ApiError::NotFound);
        }
        match (request.method(), all) {
            (&Method::GET, false) => Ok(Endpoint::Session),
            (&Method::DELETE, false) => Ok(Endpoint::Logout),
            (&Method::DELETE, true) => Ok(Endpoint::LogoutEverywhere),
            (_, false) => Err(ApiError::MethodNotAllowed("GET, DELETE")),
            (_, true) => Err(ApiError::MethodNotAllowed("DELETE")),
        }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let mut record = RequestRecord::bounded_by(Invocation::of(&request).deadline);
        let presented = self.0.edge.presented_token(&request);
        let cookie_presented = matches!(presented, Ok(Some(Presented::Cookie(_))));
        let (endpoint, outcome) = match Self::route(&request) {
            Ok(endpoint) => (
                endpoint,
                self.try_handle(endpoint, &request, presented, &mut record)
                    .await,
            ),
            Err(err) => (Endpoint::Session, Err(err)),
        };
        // A dead session cookie (unknown, expired, not a token) leaves the browser with its
        // 401, instead of riding along on every request until it expires.
        let dead_cookie = cookie_presented && matches!(outcome, Err(ApiError::SessionInvalid));
        let response = self
            .0
            .edge
            .finish(endpoint, request_id(&request), started, record, outcome);
        if dead_cookie {
            api::with_cookie(response, api::clearing_cookie(&self.0.edge.cookie_name))
        } else {
            response
        }
    }

    async fn try_handle(
        &self,
        endpoint: Endpoint,
        request: &Request,
        presented: Result<Option<Presented>, ApiError>,
        record: &mut RequestRecord,
    ) -> Result<Response<Body>, ApiError> {
        match endpoint {
            Endpoint::Session => {
                let presented = presented?.ok_or(ApiError::SessionRequired)?;
                // Browsers attach cookies to cross-site requests; bearer tokens they never attach.
                if matches!(presented, Presented::Cookie(_)) {
                    self.0.edge.check_origin(request)?;
                }
                let (_, session) = self.live_session(&presented, record).await?;
                Ok(api::json_response(
                    StatusCode::OK,
                    &SessionResponse {
                        user_id: &session.user_id,
                        display_name: session.display_name.as_deref(),
                        expires_at: session.expires_at,
                    },
                ))
            }
            Endpoint::Logout => self.logout(request, record).await,
            Endpoint::LogoutEverywhere => {
                // A cross-site page must not end the user's sessions.
                self.0.edge.check_origin(request)?;
                let presented = presented?.ok_or(ApiError::SessionRequired)?;
                let (token, session) = self.live_session(&presented, record).await?;
                let revoked = record
                    .dynamodb(self.0.sessions.revoke_all_for_user(&session.user_id))
                    .await?;
                // The index lags the table: the presented session is ended by its key too.
                let ended_by_key = record.dynamodb(self.0.sessions.revoke(&token)).await?;
                let revoked = revoked + usize::from(ended_by_key.is_some());
                record.sessions_revoked = Some(revoked);
                let body = api::json_response(
                    StatusCode::OK,
                    &LogoutEverywhereResponse {
                        success: true,
                        revoked,
                    },
                );
                Ok(match presented {
                    Presented::Bearer(_) => body,
                    Presented::Cookie(_) => self.clearing_cookie(body),
                })
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// Ends the session of the cookie and clears the cookie, whatever else the request
    /// carries: an `Authorization` header (a global fetch wrapper adds one) is no reason
    /// to leave the user logged in. A bearer token of a native app, where those are on,
    /// ends too. Idempotent: no session, or one that is unknown, expired or malformed,
    /// still ends in `200`, so a logout button always works.
    async fn logout(
        &self,
        request: &Request,
        record: &mut RequestRecord,
    ) -> Result<Response<Body>, ApiError> {
        // A cross-site page must not log the user out.
        self.0.edge.check_origin(request)?;
        let edge = &self.0.edge;
        // Two cookies of our name: clear ours, end neither (either may be planted).
        let cookie = api::cookie(request, &edge.cookie_name);
        let cookie_sent = !matches!(cookie, Ok(None));
        let cookie = cookie.ok().flatten();
        let bearer = api::bearer_token(request).filter(|_| edge.native_app_sessions);
        let tokens = [cookie.as_deref(), bearer]
            .into_iter()
            .flatten()
            .filter_map(SessionToken::parse);
        let mut revoked = 0;
        let mut references = Vec::new();
        for token in tokens {
            references.push(token.reference());
            if let Some(user_id) = record.dynamodb(self.0.sessions.revoke(&token)).await? {
                revoked += 1;
                record.user_id = Some(user_id);
            }
        }
        record.sessions_revoked = Some(revoked);
        record.session_ref = Some(references.join(",")).filter(|r| !r.is_empty());
        let body = api::json_response(StatusCode::OK, &LogoutResponse { success: true });
        // A native app's own logout has no cookie to clear.
        let bearer_only = !cookie_sent && bearer.is_some();
        Ok(if bearer_only {
            body
        } else {
            self.clearing_cookie(body)
        })
    }

    fn clearing_cookie(&self, response: Response<Body>) -> Response<Body> {
        api::with_cookie(response, api::clearing_cookie(&self.0.edge.cookie_name))
    }

    /// The live session of the presented token, and the token, or why there is none; the
    /// summary line names its user and reference.
    async fn live_session(
        &self,
        presented: &Presented,
        record: &mut RequestRecord,
    ) -> Result<(SessionToken, Session), ApiError> {
        let token = SessionToken::parse(presented.token()).ok_or(ApiError::SessionInvalid)?;
        record.session_ref = Some(token.reference());
        let session = record
            .dynamodb(self.0.sessions.find(&token))
            .await?
            .ok_or(ApiError::SessionInvalid)?;
        record.user_id = Some(session.user_id.clone());
        Ok((token, session))
    }
}

impl Routes for SessionRoutes {
    async fn handle(&self, _endpoint: Endpoint, request: Request) -> Response<Body> {
        SessionRoutes::handle(self, request).await
    }

    fn refuse(&self, endpoint: Endpoint, request_id: &str, error: ApiError) -> Response<Body> {
        self.0.edge.refuse(endpoint, request_id, error)
    }
}
