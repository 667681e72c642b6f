//! Server side of Corbado Connect passkey login on AWS Lambda.
//!
//! - [`App`] serves `POST /auth/createConnectToken` and `POST /auth/verifySignedPasskeyData`.
//! - [`SessionRoutes`] serves `GET /auth/session`, `DELETE /auth/session` (logout) and
//!   `DELETE /auth/sessions` (logout everywhere).
//! - [`Authorizer`] is the API Gateway Lambda authorizer for the application's own routes.
//! - [`SessionStore`] creates, finds and revokes sessions in DynamoDB; an
//!   existing login (password, SSO) uses it to issue sessions that
//!   createConnectToken accepts.
//! - [`CorbadoClient`] talks to Corbado's Backend API v2.

pub mod api;
mod app;
pub mod authorizer;
pub mod config;
pub mod corbado;
pub mod deadline;
mod edge;
pub mod logging;
pub mod metrics;
pub mod runtime;
pub mod secret;
pub mod session;
mod session_routes;
pub mod signed_data;

pub use app::{aws_sdk_config, App, InitError};
pub use authorizer::Authorizer;
pub use config::Config;
pub use corbado::{CallPolicy, CorbadoClient};
pub use edge::{Endpoint, Routes, SessionParts};
pub use secret::SecretCache;
pub use session::{NewSession, Session, SessionStore, SessionToken};
pub use session_routes::SessionRoutes;

/// The pause before retry `retry` (0-based): a random duration up to `base * 2^retry`
/// (full jitter). Without randomness from the OS it is the full amount: still bounded,
/// merely less spread.
pub(crate) fn backoff(base: std::time::Duration, retry: u32) -> std::time::Duration {
    let ceiling = base.saturating_mul(1 << retry.min(16));
    let mut random = [0u8; 4];
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}
