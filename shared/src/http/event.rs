//! Reading the API Gateway event before lambda_http does. lambda_http (1.3) refuses a
//! whole event for one header name or value that `http` cannot hold, which Lambda turns
//! into a bare 502; it panics on what it cannot put into a URI (`Host`,
//! `X-Forwarded-Proto`, the path and query) and on a body flagged base64 that is not; and
//! it drops the whole `Cookie` header when one cookie holds a byte a header cannot. So the
//! event is read here first: unreadable headers are dropped, parts of the URI that would
//! not parse are left out, a body that is not base64 is refused, and what the handlers
//! need from the event itself (the path, the cookies, the deadline) is kept aside in an
//! [`Invocation`].

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::header::{HeaderValue, COOKIE, HOST};
use lambda_http::http::{HeaderName, Uri};
use lambda_http::request::LambdaRequest;
use lambda_http::{Request, RequestExt};
use reqwest::Url;
use serde_json::Value;

use super::error::ApiError;
use crate::deadline::Deadline;

/// What the runtime ([`super::runtime`]) reads from the API Gateway event itself, as
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
    pub fn of(request: &Request) -> Cow<'_, Self> {
        if let Some(invocation) = request.extensions().get::<Self>() {
            return Cow::Borrowed(invocation);
        }
        let lambda_deadline_ms = request
            .lambda_context_ref()
            .map_or(0, |context| context.deadline);
        Cow::Owned(Self {
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

/// The API Gateway event, made safe for lambda_http to convert, and what the handlers
/// read from the event itself ([`Invocation`]).
pub(crate) fn read_event(
    raw: &str,
    deadline: Deadline,
) -> Result<(LambdaRequest, Invocation), ApiError> {
    let mut request = serde_json::from_str::<LambdaRequest>(raw).or_else(|_| {
        // The slow path, for events lambda_http refuses whole: drop the headers it cannot hold.
        let mut event: Value = serde_json::from_str(raw).map_err(|_| ApiError::MalformedEvent)?;
        if let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) {
            headers.retain(|name, value| {
                HeaderName::from_bytes(name.as_bytes()).is_ok()
                    && value
                        .as_str()
                        .is_some_and(|v| HeaderValue::from_str(v).is_ok())
            });
        }
        serde_json::from_value(event).map_err(|_| ApiError::MalformedEvent)
    })?;
    let LambdaRequest::ApiGatewayV2(event) = &mut request else {
        let invocation = Invocation {
            path: String::new(),
            cookies: Vec::new(),
            deadline,
        };
        return Ok((request, invocation));
    };
    if event.is_base64_encoded
        && event
            .body
            .as_deref()
            .is_some_and(|body| STANDARD.decode(body).is_err())
    {
        return Err(ApiError::MalformedJson);
    }
    let invocation = Invocation {
        path: event
            .raw_path
            .clone()
            .or_else(|| event.request_context.http.path.clone())
            .unwrap_or_default(),
        cookies: match &event.cookies {
            Some(cookies) if !cookies.is_empty() => cookies.clone(),
            _ => event
                .headers
                .get_all(COOKIE)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect(),
        },
        deadline,
    };
    leave_out_what_would_not_parse_as_a_uri(event);
    Ok((request, invocation))
}

/// `Host`, `X-Forwarded-Proto`, the domain name, the stage, the path and the query make
/// the request's URI, which lambda_http builds with `unwrap`. The handlers read the path
/// from [`Invocation`], never from the URI: when it would not build, those parts are left
/// out and the URI's path is `/`.
fn leave_out_what_would_not_parse_as_a_uri(event: &mut ApiGatewayV2httpRequest) {
    if uri_builds(event) {
        return;
    }
    event.headers.remove(HOST);
    event.headers.remove(X_FORWARDED_PROTO);
    event.request_context.domain_name = None;
    event.request_context.stage = None;
    event.raw_path = Some("/".into());
    event.raw_query_string = None;
}

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Whether lambda_http 1.3 can build the URI: the same steps as its `build_request_uri`
/// and `apigw_path_with_stage` (`request.rs`), without the `unwrap`s.
fn uri_builds(event: &ApiGatewayV2httpRequest) -> bool {
    let header = |name| event.headers.get(name).and_then(|v| v.to_str().ok());
    let path = event.raw_path.as_deref().unwrap_or_default();
    let path = match event.request_context.stage.as_deref() {
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    };
    let url = match header(HOST.as_str()).or(event.request_context.domain_name.as_deref()) {
        None => Url::parse(&format!("http://localhost{path}")).map(|url| url.path().to_owned()),
        Some(host) => {
            let scheme = header(X_FORWARDED_PROTO).unwrap_or("https");
            Url::parse(&format!("{scheme}://{host}{path}")).map(String::from)
        }
    };
    let Ok(mut uri) = url else {
        return false;
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    uri.parse::<Uri>().is_ok()
}
