//! `POST /auth/verifySignedPasskeyData`: turns a verified passkey login into a session cookie.

use std::convert::Infallible;

use lambda_http::{run, service_fn, Error, Request};

// Lambda sends one event at a time: a single-threaded runtime spares the
// cross-thread wake-ups of the multi-threaded one (measured: README, "Performance").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    connect_backend::init_logging();
    let app = connect_backend::App::from_env().await?;
    run(service_fn(|request: Request| async {
        Ok::<_, Infallible>(app.verify_signed_passkey_data(request).await)
    }))
    .await
}
