//! The session function's routes, for the whole application rather than for
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

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::http::{
    response, ApiError, Call, Endpoint, Handler, Incoming, LiveSession, OriginCheck, Requires,
    Route, Sessions,
};
use crate::session::{now_epoch_seconds, SessionToken};

/// The session function: who is logged in, logout, logout everywhere.
pub struct SessionRoutes;

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

impl Handler for SessionRoutes {
    type Input = ();

    const ROUTES: &'static [Route] = &[
        Route {
            method: Method::GET,
            path: "/auth/session",
            endpoint: Endpoint::Session,
            requires: Requires::Session,
            origin: OriginCheck::WithCookie,
        },
        // Origin always: a cross-site page must not log the user out.
        Route {
            method: Method::DELETE,
            path: "/auth/session",
            endpoint: Endpoint::Logout,
            requires: Requires::Public,
            origin: OriginCheck::Always,
        },
        // Origin always: a cross-site page must not end the user's sessions.
        Route {
            method: Method::DELETE,
            path: "/auth/sessions",
            endpoint: Endpoint::LogoutEverywhere,
            requires: Requires::Session,
            origin: OriginCheck::Always,
        },
    ];

    fn read(&self, _: &Incoming<'_>, _: &Sessions) -> Result<(), ApiError> {
        Ok(())
    }

    async fn handle(&self, call: Call<'_, ()>) -> Result<Response<Body>, ApiError> {
        match (call.incoming.route.endpoint, call.session) {
            (Endpoint::Session, Some(LiveSession { session, .. })) => Ok(response::json_response(
                StatusCode::OK,
                &SessionResponse {
                    user_id: &session.user_id,
                    display_name: session.display_name.as_deref(),
                    expires_at: session.expires_at,
                },
            )),
            (Endpoint::Logout, _) => logout(&call.incoming, call.sessions, call.record).await,
            (Endpoint::LogoutEverywhere, Some(live)) => {
                logout_everywhere(live, call.sessions, call.record).await
            }
            _ => Err(ApiError::NotFound),
        }
    }
}

/// Ends the session of the cookie and clears the cookie, whatever else the request
/// carries ([`crate::session::policy::CredentialRules::logout`]). Idempotent: no session,
/// or one that is unknown, expired or malformed, still ends in `200`, so a logout button
/// always works.
async fn logout(
    incoming: &Incoming<'_>,
    sessions: &Sessions,
    record: &mut crate::telemetry::RequestRecord,
) -> Result<Response<Body>, ApiError> {
    let logout = sessions.rules.logout(&incoming.presented);
    let tokens = [logout.cookie, logout.bearer]
        .into_iter()
        .flatten()
        .filter_map(SessionToken::parse);
    let mut revoked = 0;
    let mut references = Vec::new();
    for token in tokens {
        references.push(token.reference().to_owned());
        if let Some(user_id) = record.dynamodb(sessions.store.revoke(&token)).await? {
            revoked += 1;
            record.user_id = Some(user_id);
        }
    }
    record.sessions_revoked = Some(revoked);
    record.session_ref = Some(references.join(",")).filter(|r| !r.is_empty());
    let body = response::json_response(StatusCode::OK, &LogoutResponse { success: true });
    Ok(if logout.clear_cookie {
        response::with_cookie(body, sessions.cookie.clear())
    } else {
        body
    })
}

/// Ends every session of the live session's user, and clears a cookie.
async fn logout_everywhere(
    live: LiveSession,
    sessions: &Sessions,
    record: &mut crate::telemetry::RequestRecord,
) -> Result<Response<Body>, ApiError> {
    let deadline = record.deadline();
    let user_id = &live.session.user_id;
    let all = sessions
        .store
        .revoke_all_for_user(user_id, now_epoch_seconds(), deadline);
    let revoked = record.dynamodb(all).await?;
    // The index lags the table: the presented session is ended by its key too.
    let ended_by_key = record.dynamodb(sessions.store.revoke(&live.token)).await?;
    let revoked = revoked + usize::from(ended_by_key.is_some());
    record.sessions_revoked = Some(revoked);
    let body = response::json_response(
        StatusCode::OK,
        &LogoutEverywhereResponse {
            success: true,
            revoked,
        },
    );
    Ok(if live.by_cookie {
        response::with_cookie(body, sessions.cookie.clear())
    } else {
        body
    })
}
