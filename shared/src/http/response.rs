//! Writing a response: JSON with the headers every answer carries, and the session cookie.

use lambda_http::http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::session::SessionToken;

/// The session cookie: its name, and how long a new one lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    name: String,
    max_age_seconds: u64,
}

impl SessionCookie {
    /// `name` must be a cookie name (the configuration checks it at start-up).
    pub fn new(name: impl Into<String>, max_age_seconds: u64) -> Self {
        Self {
            name: name.into(),
            max_age_seconds,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Set-Cookie` for a new session: script cannot read it, it only travels over HTTPS
    /// and never on cross-site requests.
    pub fn set(&self, token: &SessionToken) -> HeaderValue {
        let mut header = self.header(token.expose(), self.max_age_seconds);
        header.set_sensitive(true);
        header
    }

    /// `Set-Cookie` that makes the browser drop the session cookie: the same name and
    /// attributes, so it replaces that cookie, and `Max-Age=0`.
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age_seconds: u64) -> HeaderValue {
        let cookie = format!(
            "{}={value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age_seconds}",
            self.name
        );
        HeaderValue::from_str(&cookie)
            .expect("cookie names are checked at start-up and tokens are base64url")
    }
}

/// A JSON answer with the headers every answer carries.
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
