//! The Lambda runtime loop around [`App`]: every event gets a JSON answer, and no
//! request, however malformed, ends the process.
//!
//! lambda_http (1.3) is less forgiving than that. It refuses a whole event for one header
//! name or value that `http` cannot hold, which Lambda turns into a bare 502; and it
//! panics on what it cannot put into a URI (`Host`, `X-Forwarded-Proto`, the path and
//! query) and on a body flagged base64 that is not. A process that panics is torn down
//! with its execution environment, and the next request pays a cold start. So the event
//! is read here first: unreadable headers are dropped, parts of the URI that would not
//! parse are left out (the handlers read the path, the cookies and the deadline from
//! [`Invocation`], never from the URI or the `Cookie` header), a body that is not base64 is
//! refused, and any panic that remains becomes a `500 internal_error` answer while the
//! process goes on serving.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::FutureExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::header::{COOKIE, HOST};
use lambda_http::http::{HeaderName, HeaderValue, Uri};
use lambda_http::lambda_runtime::{self, Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Request, Service};
use reqwest::Url;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::api::{ApiError, Invocation};
use crate::authorizer::{Authorizer, AuthorizerFailed};
use crate::deadline::Deadline;
use crate::edge::{Endpoint, Routes};

/// Serves `endpoint` until Lambda ends the execution environment.
pub async fn serve(app: impl Routes, endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    log_panics_without_payload();
    let app = &app;
    lambda_runtime::run(service_fn(move |event| async move {
        Ok::<_, Infallible>(handle(app, endpoint, event).await)
    }))
    .await
}

/// One invocation, as the runtime loop runs it (the tests call this too): the
/// response JSON that Lambda hands to API Gateway.
pub async fn handle(
    app: &impl Routes,
    endpoint: Endpoint,
    event: LambdaEvent<Box<RawValue>>,
) -> impl serde::Serialize + Send {
    let LambdaEvent { payload, context } = event;
    let request_id = context.request_id.clone();
    let deadline = Deadline::for_invocation(context.deadline);
    let refusal = match read_event(payload.get(), deadline) {
        Ok((payload, invocation)) => {
            let answered = AssertUnwindSafe(async {
                let mut invocation = Some(invocation);
                // lambda_http's own event → request → response conversion, as `lambda_http::run` uses it.
                let mut adapter = Adapter::from(service_fn(|mut request: Request| {
                    if let Some(invocation) = invocation.take() {
                        request.extensions_mut().insert(invocation);
                    }
                    async move { Ok::<_, Infallible>(app.handle(endpoint, request).await) }
                }));
                adapter.call(LambdaEvent::new(payload, context)).await
            })
            .catch_unwind()
            .await;
            match answered {
                Ok(Ok(response)) => return response,
                Ok(Err(never)) => match never {},
                Err(_panic) => ApiError::Panicked,
            }
        }
        Err(refusal) => refusal,
    };
    // The conversion needs an event: an empty one gives it the API Gateway response shape.
    let mut response = Some(app.refuse(endpoint, &request_id, refusal));
    let mut adapter = Adapter::from(service_fn(move |_: Request| {
        let response = response.take().unwrap_or_default();
        async move { Ok::<_, Infallible>(response) }
    }));
    let shape = LambdaEvent::new(
        LambdaRequest::ApiGatewayV2(Default::default()),
        Context::default(),
    );
    match adapter.call(shape).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Serves the authorizer until Lambda ends the execution environment.
pub async fn serve_authorizer(authorizer: Authorizer) -> Result<(), lambda_http::Error> {
    log_panics_without_payload();
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event| async move {
        authorize(authorizer, event)
            .await
            .map_err(lambda_http::Error::from)
    }))
    .await
}

/// One authorizer invocation, as the runtime loop runs it. An event that is no JSON
/// object is denied; a panic fails the invocation (API Gateway answers 500), and the
/// process goes on serving.
pub async fn authorize(
    authorizer: &Authorizer,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, AuthorizerFailed> {
    let LambdaEvent { payload, context } = event;
    let event: Value = serde_json::from_str(payload.get()).unwrap_or_default();
    // Boxed: the authorizer's future is deep enough to exceed the compiler's layout limit.
    let answered = AssertUnwindSafe(Box::pin(authorizer.authorize(&event, &context.request_id)))
        .catch_unwind()
        .await;
    let response = answered.map_err(|_panic| AuthorizerFailed)??;
    Ok(serde_json::to_value(response).unwrap_or_default())
}

/// The API Gateway event, made safe for lambda_http to convert, and what the handlers
/// read from the event itself ([`Invocation`]).
fn read_event(raw: &str, deadline: Deadline) -> Result<(LambdaRequest, Invocation), ApiError> {
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

/// The default hook prints the panic's message, which may quote request data:
/// log where it happened instead, as an ERROR line with the invocation's request id.
fn log_panics_without_payload() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(location, "panic while handling a request");
    }));
}
