//! `POST /auth/verifySignedPasskeyData`: turns a verified passkey login into a session cookie.

use connect_backend::{App, Endpoint};
use lambda_http::Error;

// Lambda sends one event at a time: a single-threaded runtime spares the
// cross-thread wake-ups of the multi-threaded one (measured: docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    connect_backend::logging::init();
    let app = App::from_env().await?;
    connect_backend::runtime::serve(app, Endpoint::VerifySignedPasskeyData).await
}
