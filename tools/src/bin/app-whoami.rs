//! Stands for an application's own route behind the SessionAuthorizer (docs/sessions.md): it
//! answers what API Gateway passed it from the authorizer, `requestContext.authorizer.lambda`.
//! Test-only: template.yaml never deploys it; scripts/sam-local.sh adds it to a copy of the
//! template as `GET /app/whoami`.

use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::{json, Value};

async fn whoami(request: Request) -> Result<Response<Body>, Error> {
    // lambda_http names the `lambda` object `fields`.
    let from_authorizer = |name: &str| match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.fields.get(name))
            .cloned(),
        _ => None,
    };
    // Reached without the authorizer's context, the route is misconfigured: never anonymous.
    let (status, body) = match from_authorizer("userId") {
        Some(user_id) => {
            let display_name = from_authorizer("displayName").unwrap_or(Value::Null);
            (200, json!({"userId": user_id, "displayName": display_name}))
        }
        None => (
            500,
            json!({"error": "no authorizer context", "code": "internal_error"}),
        ),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string().into())?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(whoami)).await
}
