//! Events in, answers out: API Gateway HTTP API (payload 2.0) events built from the files
//! in `events/`, run through the functions' own runtime path, and what API Gateway gets back.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connect_backend::functions::Authorizer;
use connect_backend::http::{runtime, Function, Handler};
use connect_backend::SessionToken;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

use crate::{as_function, unique_name, Endpoint, COOKIE_NAME};

/// The `Set-Cookie` that drops the session cookie.
pub const CLEARED: &str = "__Host-session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0";

/// The event in `events/` that tests of `endpoint` start from.
fn event_file(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::CreateConnectToken => {
            include_str!("../../events/create-connect-token/passkey-list.json")
        }
        Endpoint::VerifySignedPasskeyData => {
            include_str!("../../events/verify-signed-passkey-data/valid.json")
        }
        Endpoint::Session => include_str!("../../events/session/session.json"),
        Endpoint::Logout => include_str!("../../events/session/logout.json"),
        Endpoint::LogoutEverywhere => include_str!("../../events/session/logout-everywhere.json"),
        Endpoint::Authorizer => include_str!("../../events/session-authorizer/authorized.json"),
    }
}

/// An API Gateway HTTP API (payload 2.0) event for one endpoint, starting from the files in `events/`.
#[derive(Clone)]
pub struct Event {
    endpoint: Endpoint,
    pub json: Value,
}

impl Event {
    /// The endpoint whose event file this event started from.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    pub fn new(endpoint: Endpoint, body: &str) -> Self {
        let mut event: Value =
            serde_json::from_str(event_file(endpoint)).expect("event file is JSON");
        let object = event.as_object_mut().unwrap();
        object.remove("cookies");
        object["body"] = json!(body);
        object["headers"]["content-length"] = json!(body.len().to_string());
        Self {
            endpoint,
            json: event,
        }
    }

    /// The event of `endpoint` as its file has it, without cookies: for the routes that
    /// take no body (the session routes, the authorizer).
    pub fn bodyless(endpoint: Endpoint) -> Self {
        let mut event: Value =
            serde_json::from_str(event_file(endpoint)).expect("event file is JSON");
        let object = event.as_object_mut().unwrap();
        object.remove("cookies");
        object.remove("identitySource");
        Self {
            endpoint,
            json: event,
        }
    }

    /// `json` as it is, as an event of `endpoint`'s function.
    pub fn raw(endpoint: Endpoint, json: Value) -> Self {
        Self { endpoint, json }
    }

    pub fn json(endpoint: Endpoint, body: &Value) -> Self {
        Self::new(endpoint, &body.to_string())
    }

    /// API Gateway passes each cookie of the request as one entry of `cookies`.
    pub fn cookie(mut self, cookie: &str) -> Self {
        let object = self.json.as_object_mut().unwrap();
        object
            .entry("cookies")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!(cookie));
        self
    }

    pub fn session(self, token: &SessionToken) -> Self {
        self.cookie(&format!("{COOKIE_NAME}={}", token.expose()))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.json["headers"][name] = json!(value);
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.json["headers"].as_object_mut().unwrap().remove(name);
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.json["requestContext"]["http"]["method"] = json!(method);
        self
    }

    pub fn base64_body(mut self, bytes: &[u8]) -> Self {
        self.json["body"] = json!(STANDARD.encode(bytes));
        self.json["isBase64Encoded"] = json!(true);
        self
    }
}

/// What API Gateway receives back from the function.
#[derive(Debug)]
pub struct Reply {
    /// The Lambda request id the invocation ran with.
    pub request_id: String,
    pub status: u16,
    pub headers: Value,
    pub cookies: Vec<String>,
    pub body: Value,
    pub raw: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The session token a cookie login set, after asserting the login's answer:
    /// 200, `{"success": true}` and exactly one session cookie.
    pub fn session_token(&self) -> String {
        assert_eq!(self.status, 200, "{:?}", self.raw);
        assert_eq!(self.body, json!({"success": true}));
        assert_eq!(self.cookies.len(), 1, "{:?}", self.cookies);
        let (name, token, _) = parse_set_cookie(&self.cookies[0]);
        assert_eq!(name, COOKIE_NAME);
        token
    }

    /// Asserts the shared error shape: `{"error": <message>, "code": <code>}`.
    pub fn assert_error(&self, status: u16, code: &str) {
        self.assert_case_error("", status, code);
    }

    /// [`Reply::assert_error`] for one named case of a table of requests.
    pub fn assert_case_error(&self, case: &str, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "{case}: {:?}",
            self.raw
        );
        let message = self.body["error"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "error message missing in {:?}",
            self.raw
        );
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(2),
            "{:?}",
            self.body
        );
        assert_eq!(self.headers["content-type"], "application/json");
        // The one cookie an error may set: the clearing one, for a dead session cookie.
        let clears_a_dead_cookie = code == "session_invalid" && self.cookies == [CLEARED];
        assert!(
            self.cookies.is_empty() || clears_a_dead_cookie,
            "an error set a cookie: {:?}",
            self.cookies
        );
    }
}

/// Runs the event through the functions' own runtime path
/// ([`connect_backend::http::runtime::handle`]: lambda_http's API Gateway adapter and the
/// panic guard) and returns the response JSON API Gateway would get.
pub async fn invoke<H: Handler>(function: &Function<H>, event: Event) -> Reply {
    let (request_id, raw) = respond(function, event).await;
    let body = raw["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("the response body is JSON"))
        .unwrap_or(Value::Null);
    Reply {
        request_id,
        status: raw["statusCode"].as_u64().unwrap() as u16,
        headers: raw["headers"].clone(),
        cookies: raw["cookies"]
            .as_array()
            .map(|c| c.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
        body,
        raw,
    }
}

/// [`invoke`]'s response JSON, whatever it holds, and the request id the invocation ran with.
pub async fn respond<H: Handler>(function: &Function<H>, event: Event) -> (String, Value) {
    let request = serde_json::value::to_raw_value(&event.json).expect("an event is JSON");
    let mut context = Context::default();
    context.request_id = unique_name("request");
    let request_id = context.request_id.clone();
    let handled = runtime::handle(function, LambdaEvent::new(request, context));
    let response = as_function(event.endpoint, handled).await;
    let raw = serde_json::to_value(response).expect("response serialises");
    (request_id, raw)
}

pub fn session_key(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits `name=value; Attr; Attr=x` into the pair and the attribute list.
pub fn parse_set_cookie(cookie: &str) -> (String, String, Vec<String>) {
    let mut parts = cookie.split("; ");
    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
    (
        name.to_owned(),
        value.to_owned(),
        parts.map(str::to_owned).collect(),
    )
}

/// The event through the authorizer's runtime path: its answer, or `None` when the
/// invocation failed (API Gateway then answers 500).
pub async fn authorize(authorizer: &Authorizer, event: Event) -> Option<Value> {
    let request = serde_json::value::to_raw_value(&event.json).expect("an event is JSON");
    let mut context = Context::default();
    context.request_id = unique_name("request");
    let authorized = runtime::authorize(authorizer, LambdaEvent::new(request, context));
    let answer = as_function(Endpoint::Authorizer, authorized).await.ok()?;
    Some(serde_json::to_value(answer).expect("an authorizer answer is JSON"))
}
