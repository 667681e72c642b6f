//! The functions' configuration as the tests give it, and what a bad one must do.

use std::collections::HashMap;
use std::path::Path;

use connect_backend::Config;

use crate::{COOKIE_NAME, FRONTEND_ORIGIN, PROJECT_ID, SESSION_TTL_SECONDS};

pub fn config(table: &str, secret_arn: &str, backend_api: &str) -> Config {
    config_with(table, secret_arn, backend_api, &[])
}

/// The test configuration with some variables set otherwise.
pub fn config_with(
    table: &str,
    secret_arn: &str,
    backend_api: &str,
    overrides: &[(&str, &str)],
) -> Config {
    let mut vars = HashMap::from([
        ("SESSIONS_TABLE", table.to_owned()),
        ("CORBADO_PROJECT_ID", PROJECT_ID.to_owned()),
        ("CORBADO_API_SECRET_ARN", secret_arn.to_owned()),
        ("CORBADO_BACKEND_API", backend_api.to_owned()),
        ("SESSION_TTL_SECONDS", SESSION_TTL_SECONDS.to_string()),
        ("SESSION_COOKIE_NAME", COOKIE_NAME.to_owned()),
        (
            "ALLOWED_ORIGINS",
            format!("{FRONTEND_ORIGIN},http://localhost:3000"),
        ),
    ]);
    for (name, value) in overrides {
        vars.insert(name, (*value).to_owned());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration is valid")
}

/// Starts a function binary with a bad configuration and asserts that it
/// stops at once, naming the variable, without a panic.
pub fn assert_refuses_bad_configuration(binary: &Path) {
    assert_refuses(
        binary,
        &[
            ("SESSIONS_TABLE", None),
            ("CORBADO_PROJECT_ID", None),
            ("CORBADO_API_SECRET_ARN", None),
            ("CORBADO_PROJECT_ID", Some("project-1")),
            ("CORBADO_BACKEND_API", Some("http://corbado.example.com/v2")),
            ("SESSION_TTL_SECONDS", Some("three hours")),
        ],
    );
}

/// [`assert_refuses_bad_configuration`] for the session function and the authorizer,
/// which read the session variables only.
pub fn assert_refuses_bad_session_configuration(binary: &Path) {
    assert_refuses(
        binary,
        &[
            ("SESSIONS_TABLE", None),
            ("SESSION_TTL_SECONDS", Some("three hours")),
            ("SESSION_COOKIE_NAME", Some("session id")),
            ("ALLOWED_ORIGINS", Some("https://*.example.com")),
        ],
    );
}

/// Each case sets one variable otherwise (`None`: unset) on top of a valid configuration.
fn assert_refuses(binary: &Path, cases: &[(&str, Option<&str>)]) {
    let valid = [
        ("SESSIONS_TABLE", "sessions"),
        ("CORBADO_PROJECT_ID", PROJECT_ID),
        ("CORBADO_API_SECRET_ARN", "corbado-api-secret"),
    ];
    for &(name, value) in cases {
        let mut command = std::process::Command::new(binary);
        command
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "eu-central-1");
        for (k, v) in valid.iter().filter(|(k, _)| *k != name) {
            command.env(k, v);
        }
        if let Some(value) = value {
            command.env(name, value);
        }
        let output = command.output().expect("run the function binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{name}={value:?}: it started");
        assert!(
            stderr.contains(name) && stdout.contains(name),
            "{name}={value:?}: the variable is not named.\nstdout: {stdout}\nstderr: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}={value:?}: {stderr}");
    }
}
