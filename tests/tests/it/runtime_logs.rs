//! What the real function binaries write to stdout and stderr under the Lambda
//! Runtime API (`connect_tools::runtime_api`), read as Lambda reads it with
//! `LogFormat: JSON`: no secret at the most verbose settings, and Lambda's
//! log-level filter keeps the error summaries and the metric records at every
//! `LogLevel` the template offers.

use crate::runtime_support::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connect_tools::runtime_api::FunctionProcess;
use integration_tests::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer};

const CONNECT_TOKEN_SECRET: &str = "ctk1_runtime_logs_connect_token_secret_value";

/// The variables each `LogLevel` of template.yaml gives both functions: template.yaml
/// must set exactly these (keep the two in step). The functions filter their own lines
/// at `LOG_LEVEL`; Lambda's filter (`ApplicationLogLevel`, seen by the function as
/// `AWS_LAMBDA_LOG_LEVEL`) stays at INFO or below, because Lambda files the metric
/// lines, which have no level, as INFO and a stricter filter would drop them.
fn lambda_log_environment(level: &str) -> Vec<(&'static str, String)> {
    let lambda_filter = match level {
        "TRACE" | "DEBUG" => level,
        _ => "INFO",
    };
    vec![
        ("LOG_LEVEL", level.to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", lambda_filter.to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
    ]
}

// --- Lambda's log-level filter --------------------------------------------------------------

/// Lambda's log levels, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "TRACE" => Self::Trace,
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "WARN" => Self::Warn,
            "ERROR" => Self::Error,
            "FATAL" => Self::Fatal,
            _ => return None,
        })
    }
}

/// The level Lambda files a line under (AWS Lambda docs, "Log-level filtering"): the
/// line's `level` when it has a valid one and an RFC 3339 `timestamp`, else INFO.
fn lambda_level(line: &str) -> Level {
    let parsed = serde_json::from_str::<Value>(line).ok().and_then(|line| {
        let level = Level::parse(line.get("level")?.as_str()?)?;
        OffsetDateTime::parse(line.get("timestamp")?.as_str()?, &Rfc3339).ok()?;
        Some(level)
    });
    parsed.unwrap_or(Level::Info)
}

/// The lines Lambda keeps when the function's application log level is `filter`.
fn lambda_keeps(lines: &[String], filter: Level) -> Vec<Value> {
    lines
        .iter()
        .filter(|line| lambda_level(line) >= filter)
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| json!({ "text": line })))
        .collect()
}

fn message(line: &Value) -> &str {
    line["fields"]["message"]
        .as_str()
        .or_else(|| line["message"].as_str())
        .unwrap_or_default()
}

fn is_metric_record(line: &Value) -> bool {
    line["_aws"]["CloudWatchMetrics"].is_array()
}

#[test]
fn the_filter_files_lines_as_lambda_does() {
    let at = |line: &str| lambda_level(line);
    let stamp = "2026-11-25T20:33:14.123456Z";
    assert_eq!(
        at(&json!({"level": "ERROR", "timestamp": stamp}).to_string()),
        Level::Error
    );
    assert_eq!(
        at(&json!({"level": "DEBUG", "timestamp": "2026-11-25T21:33:14+01:00"}).to_string()),
        Level::Debug
    );
    assert_eq!(
        at(&json!({"level": "FATAL", "timestamp": stamp}).to_string()),
        Level::Fatal
    );
    // Without a valid level or RFC 3339 timestamp, a line is INFO.
    for line in [
        json!({"level": "ERROR"}).to_string(),
        json!({"level": "ERROR", "timestamp": "25/Nov/2026:20:33:14 +0000"}).to_string(),
        json!({"level": "ERROR", "timestamp": "2026-02-30T00:00:00Z"}).to_string(),
        json!({"level": "ERROR", "timestamp": 1795638794000u64}).to_string(),
        json!({"level": "LOUD", "timestamp": stamp}).to_string(),
        json!({"_aws": {"CloudWatchMetrics": []}, "Requests": 1}).to_string(),
        "ERROR not JSON".to_owned(),
    ] {
        assert_eq!(at(&line), Level::Info, "{line}");
    }
    let lines = [
        json!({"level": "WARN", "timestamp": stamp}).to_string(),
        json!({"level": "INFO", "timestamp": stamp}).to_string(),
    ];
    assert_eq!(lambda_keeps(&lines, Level::Warn).len(), 1);
    assert_eq!(lambda_keeps(&lines, Level::Info).len(), 2);
}

// --- The functions as Lambda runs them ----------------------------------------------------

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn event(endpoint: Endpoint, body: Value) -> Event {
    Event::json(endpoint, &body)
}

/// [`crate::runtime_support::answer`] for an [`Event`].
async fn answer(process: &FunctionProcess, event: Event) -> Value {
    crate::runtime_support::answer(process, &event.json).await
}

#[tokio::test]
async fn no_secret_reaches_stdout_or_stderr_at_trace() {
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let corbado = corbado_accepting_everything(CONNECT_TOKEN_SECRET).await;
    let presented_cookie = create_session(&emulators, &table, "user-42").await;
    let presented_bearer = create_session(&emulators, &table, "user-42").await;
    let env = function_env(
        &table,
        &secret_arn,
        &corbado.uri(),
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("LOG_LEVEL", "TRACE"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("RUST_LOG", "trace"),
            ("NATIVE_APP_SESSIONS", "true"),
        ],
    );

    // Logins: a browser presenting a cookie and getting a new one, a native app
    // presenting a bearer token and getting the new token in the body.
    let mut verify = start_function(VERIFY_SIGNED_PASSKEY_DATA, env.clone()).await;
    let jwt = signed_passkey_data(login_claims("user-42"));
    let cookie_login = answer(
        &verify,
        event(
            Endpoint::VerifySignedPasskeyData,
            json!({"signedPasskeyData": jwt}),
        )
        .session(&presented_cookie),
    )
    .await;
    assert_eq!(cookie_login["statusCode"], 200, "{cookie_login}");
    let set_cookie = cookie_login["cookies"][0].as_str().expect("a Set-Cookie");
    let (_, cookie_token, _) = parse_set_cookie(set_cookie);
    let body_login = answer(
        &verify,
        event(
            Endpoint::VerifySignedPasskeyData,
            json!({"signedPasskeyData": jwt, "sessionDelivery": "body"}),
        )
        // A native app: no Origin header.
        .without_header("origin")
        .header(
            "authorization",
            &format!("Bearer {}", presented_bearer.expose()),
        ),
    )
    .await;
    assert_eq!(body_login["statusCode"], 200, "{body_login}");
    let body_token = body(&body_login)["sessionToken"]
        .as_str()
        .expect("a session token in the body")
        .to_owned();

    // Connect tokens, by the new cookie and by the new bearer token.
    let mut create = start_function(CREATE_CONNECT_TOKEN, env).await;
    let by_cookie = answer(
        &create,
        event(
            Endpoint::CreateConnectToken,
            json!({"type": "passkey-append"}),
        )
        .cookie(&format!("{COOKIE_NAME}={cookie_token}")),
    )
    .await;
    assert_eq!(body(&by_cookie)["connectToken"], CONNECT_TOKEN_SECRET);
    let by_bearer = answer(
        &create,
        event(
            Endpoint::CreateConnectToken,
            json!({"type": "passkey-list"}),
        )
        .without_header("origin")
        .header("authorization", &format!("Bearer {body_token}")),
    )
    .await;
    assert_eq!(body(&by_bearer)["connectToken"], CONNECT_TOKEN_SECRET);

    verify.stop().await;
    create.stop().await;
    let lines: Vec<String> = [
        verify.stdout(),
        verify.stderr(),
        create.stdout(),
        create.stderr(),
    ]
    .concat();
    let summaries = lines
        .iter()
        .filter(|line| line.contains("request completed"))
        .count();
    assert_eq!(
        summaries,
        4,
        "one summary line per request:\n{}",
        lines.join("\n")
    );

    let secrets = [
        ("the Corbado API secret", API_SECRET.to_owned()),
        (
            "the Basic auth credentials",
            STANDARD.encode(format!("{PROJECT_ID}:{API_SECRET}")),
        ),
        ("the signedPasskeyData", jwt),
        (
            "the presented session cookie",
            presented_cookie.expose().to_owned(),
        ),
        (
            "the presented bearer token",
            presented_bearer.expose().to_owned(),
        ),
        ("the new session cookie", cookie_token),
        ("the new session token in the body", body_token),
        ("the connect token", CONNECT_TOKEN_SECRET.to_owned()),
    ];
    let mut leaks = Vec::new();
    for (name, secret) in &secrets {
        for line in lines.iter().filter(|line| line.contains(secret.as_str())) {
            let shown: String = line.replace(secret.as_str(), &format!("<{name}>"));
            leaks.push(format!(
                "{name}: {}",
                shown.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {} output lines hold a secret:\n{}",
        leaks.len(),
        lines.len(),
        leaks.join("\n")
    );
}

/// The `LogLevel` values template.yaml offers.
fn template_log_levels() -> Vec<String> {
    let path = std::env::var("TEMPLATE_JSON").expect("TEMPLATE_JSON is set by scripts/test.sh");
    let template: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let levels: Vec<String> = template["Parameters"]["LogLevel"]["AllowedValues"]
        .as_array()
        .expect("LogLevel has AllowedValues")
        .iter()
        .map(|v| v.as_str().expect("a level name").to_owned())
        .collect();
    assert!(!levels.is_empty());
    levels
}

/// One successful request and one that fails with a 5xx (Corbado answers 503, retried,
/// then 502) through `function` at `level`; returns every line the process wrote.
async fn success_and_server_error(function: &str, level: &str) -> Vec<String> {
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let corbado = MockServer::start().await;
    for (user, response) in [
        ("user-ok", None),
        ("user-down", Some(error_rsp(503, "service_unavailable"))),
    ] {
        let (route, matcher) = match function {
            CREATE_CONNECT_TOKEN => ("/v2/connectTokens", json!({"data": {"identifier": user}})),
            _ => ("/v2/passkey/verifySignedData", json!({"username": user})),
        };
        let response = response.unwrap_or_else(|| match function {
            CREATE_CONNECT_TOKEN => connect_token_rsp(Some(CONNECT_TOKEN_SECRET)),
            _ => verify_rsp("success"),
        });
        Mock::given(method("POST"))
            .and(path(route))
            .and(body_partial_json(matcher))
            .respond_with(response)
            .mount(&corbado)
            .await;
    }
    let log_env = lambda_log_environment(level);
    let env = function_env(&table, &secret_arn, &corbado.uri(), &borrowed(&log_env));
    let mut process = start_function(function, env).await;
    let mut statuses = Vec::new();
    for user in ["user-ok", "user-down"] {
        let event = match function {
            CREATE_CONNECT_TOKEN => event(
                Endpoint::CreateConnectToken,
                json!({"type": "passkey-list"}),
            )
            .session(&create_session(&emulators, &table, user).await),
            _ => event(
                Endpoint::VerifySignedPasskeyData,
                json!({"signedPasskeyData": signed_passkey_data(login_claims(user))}),
            ),
        };
        statuses.push(answer(&process, event).await["statusCode"].clone());
    }
    assert_eq!(statuses, [200, 502], "{function} at {level}");
    process.stop().await;
    [process.stdout(), process.stderr()].concat()
}

#[tokio::test]
async fn lambdas_log_level_filter_keeps_errors_and_metrics_at_every_level() {
    for level in template_log_levels() {
        let filter = lambda_log_environment(&level)
            .into_iter()
            .find(|(name, _)| *name == "AWS_LAMBDA_LOG_LEVEL")
            .and_then(|(_, value)| Level::parse(&value))
            .expect("Lambda's filter is a Lambda log level");
        for function in [CREATE_CONNECT_TOKEN, VERIFY_SIGNED_PASSKEY_DATA] {
            let lines = success_and_server_error(function, &level).await;
            let kept = lambda_keeps(&lines, filter);
            let context = || {
                format!(
                    "{function} at LogLevel {level} (Lambda's filter {filter:?}); what it wrote:\n{}",
                    lines.join("\n")
                )
            };
            // Lambda files a log line at its own level only with a valid RFC 3339 timestamp.
            for line in &lines {
                let level = serde_json::from_str::<Value>(line).ok().and_then(|l| {
                    l.get("level")
                        .and_then(Value::as_str)
                        .and_then(Level::parse)
                });
                if let Some(level) = level {
                    assert_eq!(lambda_level(line), level, "{line}: {}", context());
                }
            }
            assert!(
                kept.iter()
                    .any(|line| message(line) == "request failed" && line["level"] == "ERROR"),
                "the ERROR summary of the 502 does not survive: {}",
                context()
            );
            let written = lines
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(is_metric_record)
                .count();
            let kept_metrics = kept.iter().filter(|line| is_metric_record(line)).count();
            assert_eq!(
                (written, kept_metrics),
                (2, 2),
                "one metric record per request, each surviving the filter: {}",
                context()
            );
            let info_summaries = kept
                .iter()
                .filter(|line| message(line) == "request completed")
                .count();
            if matches!(level.as_str(), "WARN" | "ERROR" | "FATAL") {
                assert_eq!(info_summaries, 0, "INFO summaries survive: {}", context());
            } else {
                assert_eq!(
                    info_summaries,
                    1,
                    "the INFO summary is missing: {}",
                    context()
                );
            }
        }
    }
}
