//! `POST /auth/verifySignedPasskeyData`: turns a verified passkey login into a session cookie.

use connect_backend::functions::{PasskeyFunction, VerifySignedPasskeyData};
use lambda_http::Error;

// Lambda sends one event at a time: a single-threaded runtime spares the
// cross-thread wake-ups of the multi-threaded one (measured: docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    connect_backend::telemetry::logging::init();
    let function = VerifySignedPasskeyData::from_env().await?;
    connect_backend::http::serve(function).await
}
