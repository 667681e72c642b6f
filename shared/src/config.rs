//! Function configuration, read once per execution environment from the environment.

use std::time::Duration;

use reqwest::Url;

use crate::telemetry::metrics;

pub const DEFAULT_BACKEND_API: &str = "https://backendapi.cloud.corbado.io/v2";
pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 10_800;
/// `__Host-` makes browsers insist on `Secure`, `Path=/` and no `Domain`, so a
/// sibling subdomain cannot plant or shadow the session cookie.
pub const DEFAULT_SESSION_COOKIE_NAME: &str = "__Host-session";
const MAX_SESSION_TTL_SECONDS: u64 = 365 * 24 * 3600;

/// The environment variables the functions read. The deployment template must set every required one.
pub mod vars {
    pub const SESSIONS_TABLE: &str = "SESSIONS_TABLE";
    pub const CORBADO_PROJECT_ID: &str = "CORBADO_PROJECT_ID";
    pub const CORBADO_API_SECRET_ARN: &str = "CORBADO_API_SECRET_ARN";
    pub const CORBADO_BACKEND_API: &str = "CORBADO_BACKEND_API";
    pub const SESSION_TTL_SECONDS: &str = "SESSION_TTL_SECONDS";
    pub const SESSION_COOKIE_NAME: &str = "SESSION_COOKIE_NAME";
    pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
    pub const NATIVE_APP_SESSIONS: &str = "NATIVE_APP_SESSIONS";
    pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

    pub const REQUIRED: [&str; 3] = [SESSIONS_TABLE, CORBADO_PROJECT_ID, CORBADO_API_SECRET_ARN];
    pub const OPTIONAL: [&str; 6] = [
        CORBADO_BACKEND_API,
        SESSION_TTL_SECONDS,
        SESSION_COOKIE_NAME,
        ALLOWED_ORIGINS,
        NATIVE_APP_SESSIONS,
        METRICS_NAMESPACE,
    ];
}

/// What the passkey functions read: Corbado's side and the sessions'.
#[derive(Debug, Clone)]
pub struct Config {
    pub project_id: ProjectId,
    pub api_secret_id: String,
    pub backend_api: Url,
    pub sessions: SessionConfig,
}

/// What every function that reads or ends sessions needs; the session routes and the
/// authorizer read only this, so they need no Corbado variable.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub sessions_table: String,
    pub session_ttl: Duration,
    pub session_cookie_name: String,
    /// Browser origins (`https://app.example.com`) whose requests may carry our
    /// session cookie or log in. Empty: every request with an `Origin` header is refused.
    pub allowed_origins: Vec<String>,
    /// Whether native apps may receive the session token in the body and send it as a bearer token.
    pub native_app_sessions: bool,
    /// CloudWatch namespace of the request metrics ([`crate::telemetry::metrics`]).
    pub metrics_namespace: String,
}

/// A Corbado project id (`pro-` followed by letters and digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectId(String);

impl ProjectId {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.strip_prefix("pro-") {
            Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Ok(Self(value.to_owned()))
            }
            _ => Err("must look like `pro-1234567890` (a Corbado project id)".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };

        let sessions = SessionConfig::from_lookup(&lookup)?;
        let project_id = ProjectId::parse(required(vars::CORBADO_PROJECT_ID)?.trim())
            .map_err(|reason| invalid(vars::CORBADO_PROJECT_ID, reason))?;
        let api_secret_id = required(vars::CORBADO_API_SECRET_ARN)?;
        let backend_api = parse_backend_api(
            get(vars::CORBADO_BACKEND_API)
                .as_deref()
                .unwrap_or(DEFAULT_BACKEND_API),
        )
        .map_err(|reason| invalid(vars::CORBADO_BACKEND_API, reason))?;
        Ok(Self {
            project_id,
            api_secret_id,
            backend_api,
            sessions,
        })
    }
}

impl SessionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };

        let sessions_table =
            get(vars::SESSIONS_TABLE).ok_or(ConfigError::Missing(vars::SESSIONS_TABLE))?;
        let session_ttl = match get(vars::SESSION_TTL_SECONDS) {
            None => DEFAULT_SESSION_TTL_SECONDS,
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|secs| (1..=MAX_SESSION_TTL_SECONDS).contains(secs))
                .ok_or_else(|| {
                    invalid(
                        vars::SESSION_TTL_SECONDS,
                        format!("must be whole seconds from 1 to {MAX_SESSION_TTL_SECONDS}"),
                    )
                })?,
        };
        let session_cookie_name =
            get(vars::SESSION_COOKIE_NAME).unwrap_or_else(|| DEFAULT_SESSION_COOKIE_NAME.into());
        if !is_cookie_token(&session_cookie_name) {
            return Err(invalid(
                vars::SESSION_COOKIE_NAME,
                "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)".into(),
            ));
        }

        let allowed_origins = match get(vars::ALLOWED_ORIGINS) {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(parse_origin)
                .collect::<Result<_, _>>()
                .map_err(|reason| invalid(vars::ALLOWED_ORIGINS, reason))?,
        };
        let native_app_sessions = match get(vars::NATIVE_APP_SESSIONS).as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(invalid(
                    vars::NATIVE_APP_SESSIONS,
                    "must be true or false".into(),
                ))
            }
        };

        let metrics_namespace =
            get(vars::METRICS_NAMESPACE).unwrap_or_else(|| metrics::DEFAULT_NAMESPACE.into());
        if !metrics::is_valid_namespace(&metrics_namespace) {
            return Err(invalid(
                vars::METRICS_NAMESPACE,
                "must be a CloudWatch namespace: up to 255 letters, digits and .-_/#: (not AWS/…)"
                    .into(),
            ));
        }

        Ok(Self {
            sessions_table,
            session_ttl: Duration::from_secs(session_ttl),
            session_cookie_name,
            allowed_origins,
            native_app_sessions,
            metrics_namespace,
        })
    }
}

/// The API secret travels in every request, so plain HTTP is allowed only to loopback stand-ins.
fn parse_backend_api(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be an https:// URL (http:// only to a loopback address)".into()),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url)
}

/// An origin as browsers send it: scheme, host and port only, never a wildcard.
fn parse_origin(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw)
        .map_err(|_| format!("{raw:?} is not an origin such as https://app.example.com"))?;
    let origin = url.origin().ascii_serialization();
    let exact = origin == raw.trim_end_matches('/') && !raw.contains('*');
    if !matches!(url.scheme(), "https" | "http") || !exact {
        return Err(format!(
            "{raw:?} is not an origin such as https://app.example.com (scheme and host, no path, no wildcard)"
        ));
    }
    Ok(origin)
}

/// RFC 6265 cookie-name: an RFC 7230 token.
fn is_cookie_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env: HashMap<String, String> = [
            ("SESSIONS_TABLE", "sessions"),
            ("CORBADO_PROJECT_ID", "pro-1234567890"),
            ("CORBADO_API_SECRET_ARN", "corbado-api-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in vars {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_optional_variables_are_unset() {
        let c = config(&[]).unwrap();
        assert_eq!(c.sessions.sessions_table, "sessions");
        assert_eq!(c.project_id.as_str(), "pro-1234567890");
        assert_eq!(c.backend_api.as_str(), DEFAULT_BACKEND_API);
        assert_eq!(c.sessions.session_ttl, Duration::from_secs(10_800));
        assert_eq!(c.sessions.session_cookie_name, "__Host-session");
        assert!(c.sessions.allowed_origins.is_empty());
        assert!(!c.sessions.native_app_sessions);
        assert_eq!(c.sessions.metrics_namespace, "CorbadoConnect");
    }

    #[test]
    fn allowed_origins_are_a_comma_separated_list_of_exact_origins() {
        let c = config(&[(
            "ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000,https://admin.example.com/",
        )])
        .unwrap();
        assert_eq!(
            c.sessions.allowed_origins,
            [
                "https://app.example.com",
                "http://localhost:3000",
                "https://admin.example.com"
            ]
        );
        for bad in [
            "*",
            "https://*.example.com",
            "https://app.example.com/login",
            "app.example.com",
            "ftp://x.example",
        ] {
            let err = config(&[("ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "ALLOWED_ORIGINS",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn native_app_sessions_is_an_explicit_boolean() {
        assert!(
            config(&[("NATIVE_APP_SESSIONS", "true")])
                .unwrap()
                .sessions
                .native_app_sessions
        );
        assert!(
            !config(&[("NATIVE_APP_SESSIONS", "false")])
                .unwrap()
                .sessions
                .native_app_sessions
        );
        for bad in ["yes", "1", "TRUE"] {
            assert!(config(&[("NATIVE_APP_SESSIONS", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_required_variable_is_named_when_missing() {
        for name in [
            "SESSIONS_TABLE",
            "CORBADO_PROJECT_ID",
            "CORBADO_API_SECRET_ARN",
        ] {
            let err = config(&[(name, "")]).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name));
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn project_id_must_be_a_corbado_project_id() {
        for bad in ["1234", "pro-", "prj-123", "pro-12:34", "PRO-123"] {
            let err = config(&[("CORBADO_PROJECT_ID", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "CORBADO_PROJECT_ID",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn backend_api_must_be_https_except_on_loopback() {
        assert!(config(&[("CORBADO_BACKEND_API", "http://127.0.0.1:4010")]).is_ok());
        assert!(config(&[("CORBADO_BACKEND_API", "http://localhost:4010/v2")]).is_ok());
        for bad in [
            "http://example.com/v2",
            "ftp://x",
            "not a url",
            "https://x/v2?a=b",
        ] {
            let err = config(&[("CORBADO_BACKEND_API", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "CORBADO_BACKEND_API",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn session_ttl_must_be_positive_whole_seconds() {
        assert_eq!(
            config(&[("SESSION_TTL_SECONDS", "60")])
                .unwrap()
                .sessions
                .session_ttl,
            Duration::from_secs(60)
        );
        for bad in ["0", "-5", "1.5", "soon", "99999999999"] {
            let err = config(&[("SESSION_TTL_SECONDS", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "SESSION_TTL_SECONDS",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn cookie_name_must_be_a_token() {
        assert_eq!(
            config(&[("SESSION_COOKIE_NAME", "sid")])
                .unwrap()
                .sessions
                .session_cookie_name,
            "sid"
        );
        for bad in ["a b", "a;b", "a=b", "séance"] {
            assert!(config(&[("SESSION_COOKIE_NAME", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_namespace_must_be_a_cloudwatch_namespace() {
        let ns = "CorbadoConnect/my-stack";
        assert_eq!(
            config(&[("METRICS_NAMESPACE", ns)])
                .unwrap()
                .sessions
                .metrics_namespace,
            ns
        );
        for bad in ["AWS/Lambda", "a\u{e9}", ":x"] {
            assert_eq!(
                config(&[("METRICS_NAMESPACE", bad)]).unwrap_err(),
                ConfigError::Invalid {
                    name: "METRICS_NAMESPACE",
                    reason: "must be a CloudWatch namespace: up to 255 letters, digits and .-_/#: (not AWS/…)".into()
                },
                "{bad}"
            );
        }
    }
}
