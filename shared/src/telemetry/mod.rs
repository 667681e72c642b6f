//! What the functions tell operators: log lines, metrics, and the one summary line and
//! metrics record of each request.

pub mod logging;
pub mod metrics;
mod summary;

pub(crate) use summary::Chain;
pub use summary::{RequestRecord, Telemetry};
