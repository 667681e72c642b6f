//! Server side of Corbado Connect passkey login on AWS Lambda.
//!
//! - [`App`] serves `POST /auth/createConnectToken` and `POST /auth/verifySignedPasskeyData`.
//! - [`SessionStore`] creates, finds and revokes sessions in DynamoDB; an
//!   existing login (password, SSO) uses it to issue sessions that
//!   createConnectToken accepts.
//! - [`CorbadoClient`] talks to Corbado's Backend API v2.

pub mod api;
mod app;
pub mod config;
pub mod corbado;
pub mod secret;
pub mod session;
pub mod signed_data;

pub use app::{aws_sdk_config, App, InitError};
pub use config::Config;
pub use corbado::{CallPolicy, CorbadoClient};
pub use secret::SecretCache;
pub use session::{NewSession, Session, SessionStore, SessionToken};

/// Logs as JSON or text per Lambda's logging controls (`AWS_LAMBDA_LOG_FORMAT`,
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), each line inside the invocation's
/// span with its request id.
pub fn init_logging() {
    lambda_http::tracing::init_default_subscriber();
}
