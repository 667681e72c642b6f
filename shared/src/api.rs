//! The HTTP edge: reading requests and writing responses, and the one place
//! where failures become a status, a JSON body and a log line.

use lambda_http::http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::corbado::{CorbadoError, VerificationResult};
use crate::deadline::Deadline;
use crate::secret::SecretError;
use crate::session::{SessionError, SessionToken};
use crate::signed_data::SignedDataError;

/// Both endpoints take a few hundred bytes; anything much larger is not a client of ours.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Body of `POST /auth/createConnectToken`.
#[derive(Debug, Deserialize)]
pub struct CreateConnectTokenBody {
    #[serde(rename = "type")]
    pub token_type: String,
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

/// Every failure a client can see. `Display` is the detail for our logs;
/// [`ApiError::public_message`] is what the client reads.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The methods the route allows, for the `Allow` header (`"POST"`, `"GET, DELETE"`).
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
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

    /// Corbado failed us (as opposed to refusing the user): the `CorbadoFailures` metric.
    pub fn is_corbado_failure(&self) -> bool {
        matches!(self, Self::Corbado(err) if !matches!(err, CorbadoError::Secret(_)))
    }

    pub fn to_response(&self) -> Response<Body> {
        let mut response = json_response(
            self.status(),
            &ErrorBody {
                error: &self.public_message(),
                code: self.code(),
            },
        );
        if let Self::MethodNotAllowed(allow) = self {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

impl From<AmbiguousCookie> for ApiError {
    fn from(_: AmbiguousCookie) -> Self {
        Self::SessionAmbiguous
    }
}

impl From<SecretError> for ApiError {
    fn from(err: SecretError) -> Self {
        Self::Corbado(CorbadoError::Secret(err))
    }
}

/// Checks method, content type and size, then parses the JSON body.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError::MethodNotAllowed("POST"));
    }
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    // serde would also fill a struct from a JSON array; our bodies are objects only.
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !is_object {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::InvalidRequest("the body must be a JSON object".into()),
                Err(_) => ApiError::MalformedJson,
            },
        );
    }
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::InvalidRequest(err.to_string()),
        _ => ApiError::MalformedJson,
    })
}

/// What the runtime ([`crate::runtime`]) reads from the API Gateway event itself, as
/// API Gateway sent it, before lambda_http converts the event into a request:
/// - the cookies: lambda_http joins `cookies` into one `Cookie` header and drops it whole
///   when one cookie holds a byte a header cannot, which would hide ours behind another
///   site cookie's (and the authorizer reads the event's cookies itself);
/// - the path, which the runtime may have to leave out of the request's URI;
/// - the deadline every phase of the request draws from.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// `rawPath`, else `requestContext.http.path`.
    pub path: String,
    /// The event's `cookies` entries, else its `Cookie` header values.
    pub cookies: Vec<String>,
    pub deadline: Deadline,
}

impl Invocation {
    /// What the runtime put into `request`, else what the request itself says (a request
    /// built without the runtime, as by the fuzz targets).
    pub fn of(request: &Request) -> std::borrow::Cow<'_, Self> {
        if let Some(invocation) = request.extensions().get::<Self>() {
            return std::borrow::Cow::Borrowed(invocation);
        }
        let lambda_deadline_ms = request
            .lambda_context_ref()
            .map_or(0, |context| context.deadline);
        std::borrow::Cow::Owned(Self {
            path: request.uri().path().to_owned(),
            cookies: request
                .headers()
                .get_all(COOKIE)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect(),
            deadline: Deadline::for_invocation(lambda_deadline_ms),
        })
    }
}

/// Why a request's cookies name no single session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than one cookie of the session's name")]
pub struct AmbiguousCookie;

/// The value of the cookie called `name` among the request's cookies, read as bytes:
/// other cookies on the site may hold any bytes (`pref=José`, a control character), and
/// what they hold must not hide ours. Two cookies of that name are refused: a sibling
/// subdomain can plant one, and guessing which is ours could log the user into someone
/// else's session.
pub fn cookie(request: &Request, name: &str) -> Result<Option<String>, AmbiguousCookie> {
    let invocation = Invocation::of(request);
    find_cookie(invocation.cookies.iter().map(|c| c.as_bytes()), name)
        .map(|found| found.map(str::to_owned))
}

/// [`cookie`] over cookie entries or `Cookie` header values as bytes, wherever they
/// come from (the authorizer reads them from its own event).
pub fn find_cookie<'h>(
    headers: impl IntoIterator<Item = &'h [u8]>,
    name: &str,
) -> Result<Option<&'h str>, AmbiguousCookie> {
    let mut found = None;
    let pairs = headers
        .into_iter()
        .flat_map(|header| header.split(|&b| b == b';'))
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
        });
    for (cookie_name, value) in pairs {
        if cookie_name != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(AmbiguousCookie);
        }
        // A value that is not text cannot be a token of ours: it reads as an unknown session.
        let value = std::str::from_utf8(value).unwrap_or_default();
        found = Some(value.trim_matches('"'));
    }
    Ok(found)
}

/// The token of an `Authorization: Bearer …` header; other schemes are not ours and are ignored.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `Set-Cookie` for a new session: script cannot read it, it only travels
/// over HTTPS and never on cross-site requests.
pub fn session_cookie(name: &str, token: &SessionToken, max_age_seconds: u64) -> HeaderValue {
    let mut header = cookie_header(name, token.expose(), max_age_seconds);
    header.set_sensitive(true);
    header
}

/// `Set-Cookie` that makes the browser drop the session cookie: the same name and
/// attributes, so it replaces that cookie, and `Max-Age=0`.
pub fn clearing_cookie(name: &str) -> HeaderValue {
    cookie_header(name, "", 0)
}

fn cookie_header(name: &str, value: &str, max_age_seconds: u64) -> HeaderValue {
    let cookie = format!(
        "{name}={value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age_seconds}"
    );
    HeaderValue::from_str(&cookie)
        .expect("cookie names are checked at start-up and tokens are base64url")
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serialising our own plain structs cannot fail; "{}" is a safe fallback all the same.
    let json = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut response = Response::new(Body::Text(json));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // API Gateway adds neither: no sniffing a JSON answer into something else, and no
    // plain-HTTP request to this host for two years (HTTP APIs serve HTTPS only anyway).
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000"),
    );
    response
}

pub fn with_cookie(mut response: Response<Body>, cookie: HeaderValue) -> Response<Body> {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}
