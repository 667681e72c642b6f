//! The services the functions call: DynamoDB and Secrets Manager through the AWS SDK, and
//! Corbado's Backend API; and the one way they retry.

pub mod aws;
pub mod corbado;
pub mod retry;
pub mod secrets;

pub use aws::aws_sdk_config;
