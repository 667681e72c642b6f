//! The AWS SDK as the functions use it.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};

/// The AWS SDK configuration the functions run with: the standard environment
/// (`AWS_REGION`, `AWS_ENDPOINT_URL_*`, credentials) and timeouts that end DynamoDB and
/// Secrets Manager calls in time for the function to answer. Each request also has one
/// deadline ([`crate::deadline`]) that cuts off whatever runs longer.
pub async fn aws_sdk_config() -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_secs(3))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}
