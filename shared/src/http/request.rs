//! Reading a request: its JSON body and the credentials it presents. These are parsers:
//! they say what they found, and [`super::error::ApiError`] says what the client hears.

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE, ORIGIN};
use lambda_http::Request;
use serde::de::DeserializeOwned;

use super::event::Invocation;
use crate::session::policy::{CookieCount, Presented};

/// Every body this API takes is a few hundred bytes; anything much larger is not a client of ours.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a request body is not the JSON a route takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the content type is not application/json")]
    UnsupportedMediaType,
    #[error("the body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is not valid JSON")]
    Malformed,
    #[error("the body is JSON but no object")]
    NotAnObject,
    #[error("{0}")]
    Invalid(String),
}

/// Checks the content type and size, then parses the JSON object body.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, BodyError> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(BodyError::UnsupportedMediaType);
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    // serde would also fill a struct from a JSON array; our bodies are objects only.
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !is_object {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => BodyError::NotAnObject,
                Err(_) => BodyError::Malformed,
            },
        );
    }
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => BodyError::Invalid(err.to_string()),
        _ => BodyError::Malformed,
    })
}

/// What `request` presents that may name a session: the cookie called `cookie_name`
/// among the event's own cookies ([`Invocation`]), a bearer token, and its `Origin`.
pub fn presented<'r>(
    request: &'r Request,
    invocation: &'r Invocation,
    cookie_name: &str,
) -> Presented<'r> {
    let cookies = invocation.cookies.iter().map(|c| c.as_bytes());
    Presented {
        cookie: find_cookie(cookies, cookie_name),
        bearer: bearer_token(request),
        origin: request.headers().get(ORIGIN).map(|v| v.as_bytes()),
    }
}

/// The cookie called `name` among cookie entries or `Cookie` header values, read as
/// bytes: other cookies on the site may hold any bytes (`pref=José`, a control
/// character), and what they hold must not hide ours. A value that is not text cannot be
/// a token of ours: it reads as one that names no session.
pub fn find_cookie<'h>(entries: impl IntoIterator<Item = &'h [u8]>, name: &str) -> CookieCount<'h> {
    let mut found = CookieCount::None;
    let pairs = entries
        .into_iter()
        .flat_map(|entry| entry.split(|&b| b == b';'))
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
        });
    for (cookie_name, value) in pairs {
        if cookie_name != name.as_bytes() {
            continue;
        }
        if found != CookieCount::None {
            return CookieCount::Several;
        }
        let value = std::str::from_utf8(value).unwrap_or_default();
        found = CookieCount::One(value.trim_matches('"'));
    }
    found
}

/// The token of an `Authorization: Bearer …` header; other schemes are not ours and are ignored.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
