//! `POST /auth/createConnectToken`: a connect token for the logged-in user.

use connect_backend::functions::{CreateConnectToken, PasskeyFunction};
use lambda_http::Error;

// Lambda sends one event at a time: a single-threaded runtime spares the
// cross-thread wake-ups of the multi-threaded one (measured: docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    connect_backend::telemetry::logging::init();
    let function = CreateConnectToken::from_env().await?;
    connect_backend::http::serve(function).await
}
