//! The Lambda runtime loop around a [`Function`]: every event gets a JSON answer, and no
//! request, however malformed, ends the process. The event is read first
//! ([`super::event`]); any panic that remains becomes a `500 internal_error` answer while
//! the process goes on serving: a process that panics is torn down with its execution
//! environment, and the next request pays a cold start.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use lambda_http::lambda_runtime::{self, Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Request, Service};
use serde_json::value::RawValue;

use super::error::ApiError;
use super::event::read_event;
use super::routes::{Function, Handler};
use crate::deadline::Deadline;
use crate::functions::session_authorizer::{
    Authorizer, AuthorizerEvent, AuthorizerFailed, AuthorizerResponse,
};

/// Serves `function` until Lambda ends the execution environment.
pub async fn serve<H: Handler>(function: Function<H>) -> Result<(), lambda_http::Error> {
    log_panics_without_payload();
    let function = &function;
    lambda_runtime::run(service_fn(move |event| async move {
        Ok::<_, Infallible>(handle(function, event).await)
    }))
    .await
}

/// One invocation, as the runtime loop runs it (the tests call this too): the
/// response JSON that Lambda hands to API Gateway.
pub async fn handle<H: Handler>(
    function: &Function<H>,
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
                    async move { Ok::<_, Infallible>(function.handle(request).await) }
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
    let mut response = Some(function.refuse(&request_id, refusal));
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
) -> Result<AuthorizerResponse, AuthorizerFailed> {
    let LambdaEvent { payload, context } = event;
    let event = AuthorizerEvent::read(payload.get());
    // Boxed: the authorizer's future is deep enough to exceed the compiler's layout limit.
    let answered = AssertUnwindSafe(Box::pin(authorizer.authorize(&event, &context.request_id)))
        .catch_unwind()
        .await;
    answered.map_err(|_panic| AuthorizerFailed)?
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
