//! The API Gateway Lambda authorizer for the application's own routes: a live session
//! cookie lets the request through, with the user's id in the authorizer context.

use connect_backend::functions::Authorizer;
use lambda_http::Error;

// One event at a time, as the other functions (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    connect_backend::telemetry::logging::init();
    let authorizer = Authorizer::from_env().await?;
    connect_backend::http::serve_authorizer(authorizer).await
}
