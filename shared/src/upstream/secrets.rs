//! The Corbado API secret: fetched from Secrets Manager, cached per execution environment.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

/// How long a fetched secret is used before it is read again, so a rotation
/// reaches every warm execution environment without a redeploy.
pub const SECRET_REFRESH_INTERVAL: Duration = Duration::from_secs(600);

/// The API secret. Its `Debug` prints nothing of the value.
#[derive(Clone)]
pub struct ApiSecret(SecretString);

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiSecret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager could not be reached or refused the read.
    #[error("reading the API secret from Secrets Manager failed")]
    Fetch(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the API secret in Secrets Manager is unusable: {0}")]
    Malformed(&'static str),
}

impl ApiSecret {
    /// Accepts the secret itself or a JSON object `{"apiSecret": "..."}`.
    pub fn parse(secret_string: &str) -> Result<Self, SecretError> {
        let trimmed = secret_string.trim();
        let value = if trimmed.starts_with('{') {
            #[derive(serde::Deserialize)]
            struct Wrapped {
                #[serde(rename = "apiSecret")]
                api_secret: String,
            }
            serde_json::from_str::<Wrapped>(trimmed)
                .map_err(|_| {
                    SecretError::Malformed("a JSON SecretString needs a string field `apiSecret`")
                })?
                .api_secret
        } else {
            trimmed.to_owned()
        };
        if value.is_empty() {
            return Err(SecretError::Malformed("the secret is empty"));
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(SecretError::Malformed(
                "the secret contains control characters",
            ));
        }
        Ok(Self(SecretString::from(value)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// One per execution environment: reads the secret on first use and after
/// [`SECRET_REFRESH_INTERVAL`], or when Corbado rejects the one it holds.
pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    refresh_interval: Duration,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    secret: Arc<ApiSecret>,
    fetched_at: Instant,
}

impl SecretCache {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            refresh_interval: SECRET_REFRESH_INTERVAL,
            cached: Mutex::new(None),
        }
    }

    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The cached secret, read again once it is older than the refresh interval.
    /// If that read fails, the older secret is still served: it is most likely still valid.
    pub async fn current(&self) -> Result<Arc<ApiSecret>, SecretError> {
        let mut cached = self.cached.lock().await;
        match cached.as_ref() {
            Some(c) if c.fetched_at.elapsed() < self.refresh_interval => Ok(c.secret.clone()),
            Some(c) => match self.fetch().await {
                Ok(secret) => Ok(store(&mut cached, secret)),
                Err(err) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&err), "refreshing the API secret failed; keeping the cached one");
                    Ok(c.secret.clone())
                }
            },
            None => Ok(store(&mut cached, self.fetch().await?)),
        }
    }

    /// Reads the secret again because `rejected` was refused by Corbado. If
    /// another request already replaced it, that newer secret is returned.
    pub async fn refresh(&self, rejected: &Arc<ApiSecret>) -> Result<Arc<ApiSecret>, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if !Arc::ptr_eq(&c.secret, rejected) {
                return Ok(c.secret.clone());
            }
        }
        Ok(store(&mut cached, self.fetch().await?))
    }

    async fn fetch(&self) -> Result<ApiSecret, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| SecretError::Fetch(Box::new(e)))?;
        let secret_string = output
            .secret_string()
            .ok_or(SecretError::Malformed("the secret has no SecretString"))?;
        ApiSecret::parse(secret_string)
    }
}

fn store(cached: &mut Option<Cached>, secret: ApiSecret) -> Arc<ApiSecret> {
    let secret = Arc::new(secret);
    *cached = Some(Cached {
        secret: secret.clone(),
        fetched_at: Instant::now(),
    });
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_plain_secret_or_a_json_object() {
        assert_eq!(
            ApiSecret::parse("corbado1_abc\n").unwrap().expose(),
            "corbado1_abc"
        );
        assert_eq!(
            ApiSecret::parse(r#"{"apiSecret": "corbado1_xyz", "other": 1}"#)
                .unwrap()
                .expose(),
            "corbado1_xyz"
        );
    }

    #[test]
    fn rejects_unusable_secret_strings_without_echoing_them() {
        for bad in [
            "",
            "  ",
            r#"{"secret": "corbado1_leak"}"#,
            r#"{"apiSecret": ""}"#,
            "corbado1_\u{7}leak",
        ] {
            let err = ApiSecret::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("leak"), "{err}");
        }
    }

    #[test]
    fn debug_prints_nothing_of_the_secret() {
        let secret = ApiSecret::parse("corbado1_topsecret").unwrap();
        assert_eq!(format!("{secret:?}"), "ApiSecret(<redacted>)");
    }
}
