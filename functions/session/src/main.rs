//! `GET /auth/session`, `DELETE /auth/session` (logout) and `DELETE /auth/sessions`
//! (logout everywhere): the session routes of the whole application.

use connect_backend::{Endpoint, SessionParts, SessionRoutes};
use lambda_http::Error;

// One event at a time, as the other functions (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    connect_backend::logging::init();
    let routes = SessionRoutes::from(SessionParts::from_env().await?);
    // The routes are told apart per request; unreadable events count under `session`.
    connect_backend::runtime::serve(routes, Endpoint::Session).await
}
