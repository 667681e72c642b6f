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
pub mod metrics;
pub mod secret;
pub mod session;
pub mod signed_data;

pub use app::{aws_sdk_config, App, Endpoint, InitError};
pub use config::Config;
pub use corbado::{CallPolicy, CorbadoClient};
pub use secret::SecretCache;
pub use session::{NewSession, Session, SessionStore, SessionToken};

/// Logs per Lambda's logging controls: JSON lines when `AWS_LAMBDA_LOG_FORMAT`
/// is `JSON`, text otherwise; the level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else INFO. Each line inside an invocation carries its request id
/// (the runtime's span).
pub fn init_logging() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .and_then(|value| value.parse::<tracing::level_filters::LevelFilter>().ok())
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time();
    // A second call (tests) keeps the first subscriber.
    let _ = if json {
        logs.json().try_init()
    } else {
        logs.try_init()
    };
}
