//! Server side of Corbado Connect passkey login on AWS Lambda, and the sessions the rest
//! of the application uses.
//!
//! - [`functions`]: one module per Lambda function, each its routes and its handler.
//! - [`http`]: the runtime loop, reading API Gateway's event, routes as data, requests,
//!   responses and the errors clients see.
//! - [`session`]: the session token, model, rules, store and table. Your own Rust code in
//!   the same stack issues and ends sessions with [`session::SessionStore`].
//! - [`upstream`]: DynamoDB and Secrets Manager through the AWS SDK, Corbado's Backend API
//!   v2, and the one way they retry.
//! - [`telemetry`]: log lines, metrics, and the summary line of each request.
//! - [`config`], [`deadline`], [`signed_data`]: what a function reads at start-up, the one
//!   deadline of each request, and the `signedPasskeyData` a passkey login hands over.

pub mod config;
pub mod deadline;
pub mod functions;
pub mod http;
pub mod session;
pub mod signed_data;
pub mod telemetry;
pub mod upstream;

pub use config::Config;
pub use session::{NewSession, Session, SessionStore, SessionToken};
