//! The Lambda runtime loop around [`App`]: no request, however malformed, ends the process.
//!
//! lambda_http turns the API Gateway event into an `http::Request` with `unwrap`s on
//! the `Host` and `X-Forwarded-Proto` headers (1.3.2, `request.rs`). A process that
//! panics is torn down with its execution environment, and the next request pays a
//! cold start. So the client-controlled headers it parses are dropped when they would
//! not parse, and any panic that remains becomes a `500 internal_error` answer while
//! the process goes on serving.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use lambda_http::http::header::HOST;
use lambda_http::http::uri::Authority;
use lambda_http::http::HeaderName;
use lambda_http::lambda_runtime::{self, Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Request, Service};

use crate::api::ApiError;
use crate::app::{App, Endpoint};

/// Serves `endpoint` until Lambda ends the execution environment.
pub async fn serve(app: App, endpoint: Endpoint) -> Result<(), lambda_http::Error> {
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
    app: &App,
    endpoint: Endpoint,
    mut event: LambdaEvent<LambdaRequest>,
) -> impl serde::Serialize + Send {
    drop_unparsable_forwarding_headers(&mut event.payload);
    let request_id = event.context.request_id.clone();
    let answered = AssertUnwindSafe(async {
        // Adapter is lambda_http's own event → request → response conversion, as `lambda_http::run` uses it.
        let mut adapter = Adapter::from(service_fn(|request: Request| async move {
            Ok::<_, Infallible>(app.handle(endpoint, request).await)
        }));
        adapter.call(event).await
    })
    .catch_unwind()
    .await;
    match answered {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_panic) => {
            app.record_panic(endpoint, &request_id);
            // An empty API Gateway event only gives the conversion the response's shape.
            let shape = LambdaEvent::new(
                LambdaRequest::ApiGatewayV2(Default::default()),
                Context::default(),
            );
            let mut adapter = Adapter::from(service_fn(|_: Request| async {
                Ok::<_, Infallible>(ApiError::Panicked.to_response())
            }));
            match adapter.call(shape).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}

/// `Host` and `X-Forwarded-Proto` come from the client; lambda_http panics on values it
/// cannot put into a URI. We never read the URI, so such values are simply left out.
fn drop_unparsable_forwarding_headers(event: &mut LambdaRequest) {
    let LambdaRequest::ApiGatewayV2(event) = event else {
        return;
    };
    let headers = &mut event.headers;
    let proto = HeaderName::from_static("x-forwarded-proto");
    if headers
        .get(&proto)
        .is_some_and(|v| v != "https" && v != "http")
    {
        headers.remove(&proto);
    }
    let host_parses = |value: &lambda_http::http::HeaderValue| {
        value
            .to_str()
            .is_ok_and(|v| v.parse::<Authority>().is_ok() && !v.contains(['@', '/']))
    };
    if headers.get(HOST).is_some_and(|v| !host_parses(v)) {
        headers.remove(HOST);
    }
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
