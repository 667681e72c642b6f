//! Stands for an application's own route behind the SessionAuthorizer (docs/sessions.md): it
//! answers what API Gateway passed it from the authorizer, `requestContext.authorizer.lambda`.
//! Test-only: template.yaml never deploys it; scripts/sam-local.sh adds it to a copy of the
//! template as `GET /app/whoami`.

use connect_backend::functions::AuthorizedUser;
use lambda_http::{service_fn, Body, Error, Request, Response};
use serde_json::json;

async fn whoami(request: Request) -> Result<Response<Body>, Error> {
    // Reached without the authorizer's context, the route is misconfigured: never anonymous.
    let (status, body) = match AuthorizedUser::of(&request) {
        Some(user) => (
            200,
            json!({"userId": user.user_id, "displayName": user.display_name}),
        ),
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
