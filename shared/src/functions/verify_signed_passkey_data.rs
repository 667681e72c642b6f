//! `POST /auth/verifySignedPasskeyData`: after a passkey login, Corbado verifies the
//! `signedPasskeyData`, and the user gets a fresh session of ours.

use std::time::Duration;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};

use crate::http::{
    request, response, ApiError, Call, Endpoint, Handler, Incoming, OriginCheck, Requires, Route,
    Sessions,
};
use crate::session::{NewSession, SessionToken};
use crate::signed_data::SignedPasskeyData;
use crate::upstream::corbado::{CorbadoClient, VerificationResult};

/// What a login keeps back from Corbado's call for writing the session after it: a
/// transaction up to the SDK's operation timeout, then the read-back of an ambiguous write.
const SESSION_WRITE_RESERVE: Duration = Duration::from_millis(4500);

pub struct VerifySignedPasskeyData {
    pub(crate) corbado: CorbadoClient,
}

/// Body of `POST /auth/verifySignedPasskeyData`.
#[derive(Debug, Deserialize)]
pub struct VerifySignedPasskeyDataBody {
    #[serde(rename = "signedPasskeyData")]
    pub signed_passkey_data: String,
    /// `"cookie"` (default) or `"body"` (native apps).
    #[serde(rename = "sessionDelivery", default)]
    pub session_delivery: Option<String>,
}

/// How the new session is handed over.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SessionDelivery {
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

/// A login request, read.
pub struct Login {
    data: SignedPasskeyData,
    delivery: SessionDelivery,
    /// The session the request presented, which the new one replaces.
    previous: Option<SessionToken>,
}

#[derive(Serialize)]
struct VerifySignedPasskeyDataResponse<'a> {
    success: bool,
    #[serde(rename = "sessionToken", skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    #[serde(rename = "expiresIn", skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
}

impl Handler for VerifySignedPasskeyData {
    type Input = Login;

    // Origin always: a cross-site page must not log the browser into an account of its choosing.
    const ROUTES: &'static [Route] = &[Route {
        method: Method::POST,
        path: "/auth/verifySignedPasskeyData",
        endpoint: Endpoint::VerifySignedPasskeyData,
        requires: Requires::Public,
        origin: OriginCheck::Always,
    }];

    fn read(&self, incoming: &Incoming<'_>, sessions: &Sessions) -> Result<Login, ApiError> {
        let body: VerifySignedPasskeyDataBody = request::json_body(incoming.request)?;
        let delivery = SessionDelivery::parse(body.session_delivery.as_deref())?;
        if delivery == SessionDelivery::Body {
            if !sessions.rules.native_app_sessions {
                return Err(ApiError::NativeSessionsDisabled);
            }
            // A token in the body is readable by every script on the page: never for browsers.
            if incoming.presented.origin.is_some() {
                return Err(ApiError::BodyDeliveryFromBrowser);
            }
        }
        let previous = sessions
            .rules
            .login_credential(&incoming.presented)?
            .and_then(|credential| SessionToken::parse(credential.token()));
        let data = SignedPasskeyData::parse(body.signed_passkey_data)?;
        Ok(Login {
            data,
            delivery,
            previous,
        })
    }

    async fn handle(&self, call: Call<'_, Login>) -> Result<Response<Body>, ApiError> {
        let Call {
            input: login,
            sessions,
            record,
            ..
        } = call;
        // Corbado consumes the data: leave the session write the time it needs after.
        let deadline = record.deadline().leaving(SESSION_WRITE_RESERVE);
        let result = record
            .corbado(self.corbado.verify_signed_data(&login.data, deadline))
            .await?;
        if result != VerificationResult::Success {
            return Err(ApiError::VerificationFailed(result));
        }

        // Always a fresh session (no fixation); the one the client held ends with it, in
        // one transaction.
        record.presented_session_revoked = login.previous.is_some();
        let claims = login.data.claims();
        let new = NewSession {
            user_id: claims.webauthn_id.clone(),
            display_name: None,
            corbado_user_id: claims.sub.clone(),
            credential_id: claims.credential.clone(),
        };
        let deadline = record.deadline();
        let replacing = sessions
            .store
            .create_replacing(new, login.previous.as_ref(), deadline);
        let (token, session) = record.dynamodb(replacing).await?;
        record.user_id = Some(session.user_id);
        record.session_ref = Some(token.reference().to_owned());
        record.corbado_user_id = session.corbado_user_id;
        record.credential_id = session.credential_id;
        Ok(match login.delivery {
            SessionDelivery::Cookie => response::with_cookie(
                response::json_response(
                    StatusCode::OK,
                    &VerifySignedPasskeyDataResponse {
                        success: true,
                        session_token: None,
                        expires_in: None,
                    },
                ),
                sessions.cookie.set(&token),
            ),
            SessionDelivery::Body => response::json_response(
                StatusCode::OK,
                &VerifySignedPasskeyDataResponse {
                    success: true,
                    session_token: Some(token.expose()),
                    expires_in: Some(sessions.store.ttl().as_secs()),
                },
            ),
        })
    }
}
