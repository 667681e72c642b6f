//! The session function's three routes, for the whole application rather than for
//! passkeys: who is logged in, logout, and logout everywhere.
//!
//! - `GET /auth/session`: `200 {"userId", "displayName"?, "expiresAt"}` for a live session,
//!   else `401`. The cookie is `HttpOnly`, so this is how a page learns it is logged in.
//! - `DELETE /auth/session`: ends the presented session and clears the cookie. Always
//!   `200` when it gets that far: logging out twice, or without a session, is no error.
//! - `DELETE /auth/sessions`: ends every session of the presented session's user.

use std::time::Instant;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::api::{self, ApiError};
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
    /// Which of the three routes a request is for: by method, and by the path's last
    /// segment (`session` or `sessions`), whatever stage or prefix precedes it.
    fn route(request: &Request) -> Result<Endpoint, ApiError> {
        let path = request.uri().path().trim_end_matches('/');
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
        let mut record = RequestRecord::default();
        let (endpoint, outcome) = match Self::route(&request) {
            Ok(endpoint) => (
                endpoint,
                self.try_handle(endpoint, &request, &mut record).await,
            ),
            Err(err) => (Endpoint::Session, Err(err)),
        };
        self.0
            .edge
            .finish(endpoint, request_id(&request), started, record, outcome)
    }

    async fn try_handle(
        &self,
        endpoint: Endpoint,
        request: &Request,
        record: &mut RequestRecord,
    ) -> Result<Response<Body>, ApiError> {
        match endpoint {
            Endpoint::Session => {
                let presented = self.presented(request)?;
                // Browsers attach cookies to cross-site requests; bearer tokens they never attach.
                if matches!(presented, Presented::Cookie(_)) {
                    self.0.edge.check_origin(request)?;
                }
                let (_, session) = self.live_session(presented, record).await?;
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
                let presented = self.presented(request)?;
                let (token, session) = self.live_session(presented, record).await?;
                let revoked = record
                    .dynamodb(self.0.sessions.revoke_all_for_user(&session.user_id))
                    .await?;
                // The index lags the table: the presented session is ended by its key too.
                let ended_by_key = record.dynamodb(self.0.sessions.revoke(&token)).await?;
                let revoked = revoked + usize::from(ended_by_key);
                record.sessions_revoked = Some(revoked);
                Ok(self.clearing_cookie(
                    Some(presented),
                    api::json_response(
                        StatusCode::OK,
                        &LogoutEverywhereResponse {
                            success: true,
                            revoked,
                        },
                    ),
                ))
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// Idempotent: no session, or one that is unknown, expired or malformed, still ends
    /// in `200` and a cleared cookie, so a logout button always works.
    async fn logout(
        &self,
        request: &Request,
        record: &mut RequestRecord,
    ) -> Result<Response<Body>, ApiError> {
        // A cross-site page must not log the user out.
        self.0.edge.check_origin(request)?;
        let presented = match self.0.edge.presented_token(request) {
            Ok(presented) => presented,
            // Two cookies of our name: clear ours, end neither (either may be planted).
            Err(ApiError::SessionAmbiguous) => None,
            Err(err) => return Err(err),
        };
        if let Some(token) = presented.and_then(|p| SessionToken::parse(p.token())) {
            let revoked = record.dynamodb(self.0.sessions.revoke(&token)).await?;
            record.sessions_revoked = Some(usize::from(revoked));
        }
        let body = api::json_response(StatusCode::OK, &LogoutResponse { success: true });
        Ok(self.clearing_cookie(presented, body))
    }

    /// The clearing `Set-Cookie`, except for native apps, which hold no cookie.
    fn clearing_cookie(
        &self,
        presented: Option<Presented>,
        response: Response<Body>,
    ) -> Response<Body> {
        match presented {
            Some(Presented::Bearer(_)) => response,
            _ => api::with_cookie(response, api::clearing_cookie(&self.0.edge.cookie_name)),
        }
    }

    /// The session token the request presents, or `session_required`.
    fn presented<'r>(&self, request: &'r Request) -> Result<Presented<'r>, ApiError> {
        self.0
            .edge
            .presented_token(request)?
            .ok_or(ApiError::SessionRequired)
    }

    /// The live session of the presented token, and the token, or why there is none.
    async fn live_session(
        &self,
        presented: Presented<'_>,
        record: &mut RequestRecord,
    ) -> Result<(SessionToken, Session), ApiError> {
        let token = SessionToken::parse(presented.token()).ok_or(ApiError::SessionInvalid)?;
        let session = record
            .dynamodb(self.0.sessions.find(&token))
            .await?
            .ok_or(ApiError::SessionInvalid)?;
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
