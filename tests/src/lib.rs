//! Test harness: real API Gateway HTTP API events in, the Lambda response JSON out,
//! against DynamoDB Local and moto (started by `scripts/test.sh`) and a wiremock stand-in
//! for Corbado's Backend API. One module a job:
//! - [`emulators`]: DynamoDB Local and moto, and the clients of the code under test;
//! - [`app`]: [`TestApp`], every function of the stack on one fresh table;
//! - [`events`]: events in, answers out;
//! - [`corbado`]: what the Corbado stand-in answers;
//! - [`config`]: the test configuration;
//! - [`aws_calls`]: every AWS call recorded, for the role check;
//! - [`fault_proxy`]: lost, cut and delayed replies;
//! - [`logs`]: log output captured in memory.

use std::time::Duration;

use connect_backend::upstream::corbado::CallPolicy;
use connect_backend::upstream::retry::RetryPolicy;

pub mod app;
pub mod aws_calls;
pub mod config;
pub mod corbado;
pub mod emulators;
pub mod events;
pub mod fault_proxy;
pub mod logs;

pub use app::{FaultProxies, TestApp, TestAppBuilder};
pub use aws_calls::{as_function, CallRecorder};
pub use config::*;
pub use connect_backend::http::Endpoint;
pub use corbado::*;
pub use emulators::*;
pub use events::*;
pub use fault_proxy::{Fault, FaultProxy};
pub use logs::CapturedLogs;

pub const PROJECT_ID: &str = "pro-1234567890";
pub const API_SECRET: &str = "corbado1_test_secret_value_that_must_never_leak";
pub const COOKIE_NAME: &str = "__Host-session";
pub const SESSION_TTL_SECONDS: u64 = 3600;
/// The frontend origin of the events in `events/`.
pub const FRONTEND_ORIGIN: &str = "https://app.example.com";

/// Short enough that the hang and retry tests finish quickly.
pub const TEST_POLICY: CallPolicy = CallPolicy {
    connect_timeout: Duration::from_millis(500),
    attempt_timeout: Duration::from_millis(1500),
    total_budget: Duration::from_secs(3),
    retry: RetryPolicy {
        max_retries: 3,
        base_backoff: Duration::from_millis(20),
    },
};
