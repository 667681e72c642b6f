//! Every failure a client can see, and the one place where a failure becomes a status,
//! a JSON body and a machine-readable code.

use lambda_http::http::header::{HeaderValue, ALLOW};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use super::request::{BodyError, MAX_BODY_BYTES};
use crate::session::policy::Refused;
use crate::session::SessionError;
use crate::signed_data::SignedDataError;
use crate::upstream::corbado::{CorbadoError, VerificationResult};
use crate::upstream::secrets::SecretError;

/// Every failure a client can see. `Display` is the detail for our logs;
/// [`ApiError::public_message`] is what the client reads.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The methods the route allows, for the `Allow` header (`"POST"`, `"GET, DELETE"`).
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// A path the function serves no route for.
    #[error("no such route")]
    NotFound,
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("body too large")]
    PayloadTooLarge,
    #[error("malformed JSON")]
    MalformedJson,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unknown connect token type")]
    UnknownTokenType,
    #[error(transparent)]
    InvalidSignedPasskeyData(#[from] SignedDataError),
    #[error("no session cookie")]
    SessionRequired,
    #[error("unknown or expired session")]
    SessionInvalid,
    #[error("more than one session cookie")]
    SessionAmbiguous,
    #[error("sessionDelivery body requested by a browser (Origin header present)")]
    BodyDeliveryFromBrowser,
    #[error("Origin header not among ALLOWED_ORIGINS")]
    OriginNotAllowed,
    #[error("native app sessions requested but NATIVE_APP_SESSIONS is off")]
    NativeSessionsDisabled,
    #[error("verification result {}", .0.as_str())]
    VerificationFailed(VerificationResult),
    #[error(transparent)]
    Corbado(#[from] CorbadoError),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The event has a header lambda_http cannot hold, or is no API Gateway event ([`crate::runtime`]).
    #[error("the event cannot be read as an API Gateway request")]
    MalformedEvent,
    /// The handling code panicked; the process goes on serving ([`crate::runtime`]).
    #[error("the request handler panicked")]
    Panicked,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MalformedJson
            | Self::MalformedEvent
            | Self::InvalidRequest(_)
            | Self::UnknownTokenType
            | Self::InvalidSignedPasskeyData(_)
            | Self::NativeSessionsDisabled
            | Self::BodyDeliveryFromBrowser => StatusCode::BAD_REQUEST,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::SessionRequired
            | Self::SessionInvalid
            | Self::SessionAmbiguous
            | Self::VerificationFailed(_) => StatusCode::UNAUTHORIZED,
            Self::Corbado(CorbadoError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            Self::Corbado(CorbadoError::Secret(_)) | Self::Session(_) | Self::Panicked => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Corbado(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Stable, machine-readable; docs/api.md lists every value.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MalformedJson => "malformed_json",
            Self::MalformedEvent => "malformed_request",
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnknownTokenType => "unknown_token_type",
            Self::InvalidSignedPasskeyData(_) => "invalid_signed_passkey_data",
            Self::SessionRequired => "session_required",
            Self::SessionInvalid => "session_invalid",
            Self::SessionAmbiguous => "session_ambiguous",
            Self::BodyDeliveryFromBrowser => "body_delivery_from_browser",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::NativeSessionsDisabled => "native_sessions_disabled",
            Self::VerificationFailed(result) => result.as_str(),
            Self::Corbado(CorbadoError::Timeout) => "upstream_timeout",
            Self::Corbado(CorbadoError::Secret(_)) | Self::Session(_) | Self::Panicked => {
                "internal_error"
            }
            Self::Corbado(_) => "upstream_error",
        }
    }

    /// Never carries upstream messages, secrets or internal detail.
    pub fn public_message(&self) -> String {
        match self {
            Self::MethodNotAllowed(allow) => format!("this route allows only {allow}"),
            Self::NotFound => "no such route".into(),
            Self::UnsupportedMediaType => {
                "the request body must be JSON: send Content-Type: application/json".into()
            }
            Self::PayloadTooLarge => format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
            Self::MalformedJson => "the request body is not valid JSON".into(),
            Self::MalformedEvent => {
                "the request cannot be read: a header is not valid HTTP, or it is no API Gateway request".into()
            }
            Self::InvalidRequest(detail) => format!("invalid request body: {detail}"),
            Self::UnknownTokenType => {
                "type must be one of passkey-append, passkey-list, passkey-delete".into()
            }
            Self::InvalidSignedPasskeyData(err) => err.to_string(),
            Self::SessionRequired => "no session: log in first".into(),
            Self::SessionInvalid => "the session is unknown or has expired: log in again".into(),
            Self::SessionAmbiguous => {
                "the request carries more than one session cookie: clear this site's cookies and log in again".into()
            }
            Self::BodyDeliveryFromBrowser => {
                "sessionDelivery \"body\" is for native apps: browsers (requests with an Origin header) get the session as an HttpOnly cookie".into()
            }
            Self::OriginNotAllowed => "requests from this origin are not allowed".into(),
            Self::NativeSessionsDisabled => {
                "session tokens for native apps (sessionDelivery \"body\", Authorization: Bearer) are not enabled".into()
            }
            Self::VerificationFailed(result) => {
                format!("passkey verification failed ({})", result.as_str())
            }
            Self::Corbado(CorbadoError::Timeout) => {
                "the passkey service did not answer in time".into()
            }
            Self::Corbado(CorbadoError::Secret(_)) | Self::Session(_) | Self::Panicked => {
                "internal error".into()
            }
            Self::Corbado(_) => "the passkey service failed".into(),
        }
    }

    /// Whether the failure is ours or an upstream's rather than the client's: the
    /// authorizer fails such an invocation (API Gateway answers 500) instead of denying.
    pub fn is_server_side(&self) -> bool {
        self.status().is_server_error()
    }

    /// Corbado failed us (as opposed to refusing the user): the `CorbadoFailures` metric.
    pub fn is_corbado_failure(&self) -> bool {
        matches!(self, Self::Corbado(err) if !matches!(err, CorbadoError::Secret(_)))
    }

    pub fn to_response(&self) -> Response<Body> {
        let mut response = super::response::json_response(
            self.status(),
            &ErrorBody {
                error: &self.public_message(),
                code: self.code(),
            },
        );
        if let Self::MethodNotAllowed(allow) = self {
            // Method names are tokens: always a valid header value.
            if let Ok(allow) = HeaderValue::from_str(allow) {
                response.headers_mut().insert(ALLOW, allow);
            }
        }
        response
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::NativeSessionsDisabled => Self::NativeSessionsDisabled,
            Refused::Ambiguous => Self::SessionAmbiguous,
            Refused::Required => Self::SessionRequired,
            Refused::OriginNotAllowed => Self::OriginNotAllowed,
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::UnsupportedMediaType => Self::UnsupportedMediaType,
            BodyError::TooLarge => Self::PayloadTooLarge,
            BodyError::Malformed => Self::MalformedJson,
            BodyError::NotAnObject => Self::InvalidRequest("the body must be a JSON object".into()),
            BodyError::Invalid(detail) => Self::InvalidRequest(detail),
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(err: SecretError) -> Self {
        Self::Corbado(CorbadoError::Secret(err))
    }
}
