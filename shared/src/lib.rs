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
pub mod logging;
pub mod metrics;
pub mod runtime;
pub mod secret;
pub mod session;
pub mod signed_data;

pub use app::{aws_sdk_config, App, Endpoint, InitError};
pub use config::Config;
pub use corbado::{CallPolicy, CorbadoClient};
pub use secret::SecretCache;
pub use session::{NewSession, Session, SessionStore, SessionToken};

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
