//! The real `session` and `session-authorizer` binaries under the Lambda Runtime API
//! (`connect_tools::runtime_api`), against DynamoDB Local: every event file of theirs in
//! `events/`, with the configuration they get on Lambda minus the Corbado variables, which
//! they do not need.

use crate::runtime_support::*;
use connect_tools::runtime_api::Outcome;
use integration_tests::*;
use serde_json::{json, Value};

/// The session variables only, pointed at DynamoDB Local.
fn session_env(table: &str) -> Vec<(String, String)> {
    let mut env = function_env(table, "unused", "http://127.0.0.1:9", &[]);
    env.retain(|(name, _)| !name.starts_with("CORBADO_"));
    env
}

/// The event file `name` of `function`, with `token` in place of the placeholder.
fn event_with(function: &str, name: &str, token: &str) -> Value {
    let (_, event) = event_files(function)
        .into_iter()
        .find(|(file, _)| file == name)
        .unwrap_or_else(|| panic!("events/{function}/{name} is missing"));
    serde_json::from_str(&event.to_string().replace(TOKEN_PLACEHOLDER, token)).unwrap()
}

#[tokio::test]
async fn the_session_function_answers_each_of_its_event_files() {
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let mut process = start_function("session", session_env(&table)).await;
    // (file, status, code or the body, cookies)
    let expected: [(&str, u64, Value, &[&str]); 6] = [
        ("no-cookie.json", 401, json!("session_required"), &[]),
        (
            "session.json",
            200,
            json!({"userId": "user-42", "displayName": "Jane Doe"}),
            &[],
        ),
        ("logout.json", 200, json!({"success": true}), &[CLEARED]),
        (
            "logout-without-session.json",
            200,
            json!({"success": true}),
            &[CLEARED],
        ),
        (
            "logout-everywhere-foreign-origin.json",
            403,
            json!("origin_not_allowed"),
            &[],
        ),
        (
            "logout-everywhere.json",
            200,
            // Every session this test opened, the presented one included.
            json!({"success": true, "revoked": 5}),
            &[CLEARED],
        ),
    ];
    let covered: Vec<&str> = expected.iter().map(|(file, ..)| *file).collect();
    for (file, _) in event_files("session") {
        assert!(
            covered.contains(&file.as_str()),
            "events/session/{file} is not checked here"
        );
    }
    for (file, status, expected_body, cookies) in expected {
        // A fresh session per event, beside another of the same user.
        let token = create_session(&emulators, &table, "user-42").await;
        let response = answer(&process, &event_with("session", file, token.expose())).await;
        assert_eq!(response["statusCode"], status, "{file}: {response}");
        let got = body(&response);
        match expected_body {
            Value::String(code) => assert_eq!(got["code"], code.as_str(), "{file}: {got}"),
            Value::Object(fields) => {
                for (name, value) in fields {
                    assert_eq!(&got[&name], &value, "{file}: {got}");
                }
            }
            _ => unreachable!(),
        }
        let set: Vec<&str> = response["cookies"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(set, cookies, "{file}");
    }
    assert!(
        emulators.items(&table).await.is_empty(),
        "logout everywhere left sessions"
    );
    process.stop().await;
    let logged = process.stdout().join("\n");
    let outcomes = ["\"logout\"", "\"logoutEverywhere\"", "\"session\""];
    for endpoint in outcomes {
        assert!(logged.contains(endpoint), "no summary line of {endpoint}");
    }
}

#[tokio::test]
async fn the_authorizer_lets_a_live_session_through_until_it_is_logged_out() {
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let token = create_session(&emulators, &table, "user-42").await;
    let mut authorizer = start_function("session-authorizer", session_env(&table)).await;
    let mut session = start_function("session", session_env(&table)).await;

    let authorized = event_with("session-authorizer", "authorized.json", token.expose());
    assert_eq!(
        answer(&authorizer, &authorized).await,
        json!({"isAuthorized": true, "context": {"userId": "user-42", "displayName": "Jane Doe"}})
    );
    let unknown = event_with("session-authorizer", "unknown-session.json", "");
    assert_eq!(
        answer(&authorizer, &unknown).await,
        json!({"isAuthorized": false})
    );

    let logout = event_with("session", "logout.json", token.expose());
    assert_eq!(answer(&session, &logout).await["statusCode"], 200);
    assert_eq!(
        answer(&authorizer, &authorized).await,
        json!({"isAuthorized": false})
    );
    authorizer.stop().await;
    session.stop().await;
    let metrics: Vec<Value> = authorizer
        .stdout()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    let statuses: Vec<(&str, u64)> = metrics
        .iter()
        .map(|m| {
            (
                m["Endpoint"].as_str().unwrap(),
                m["Status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("authorizer", 200),
            ("authorizer", 403),
            ("authorizer", 403)
        ]
    );
}

#[tokio::test]
async fn the_authorizer_fails_the_invocation_when_the_table_cannot_be_read() {
    let emulators = Emulators::connect().await;
    let token = create_session(&emulators, &emulators.new_table().await, "user-42").await;
    // A table that does not exist: every read fails.
    let authorizer = start_function("session-authorizer", session_env("no-such-table")).await;
    let event = event_with("session-authorizer", "authorized.json", token.expose());
    let outcome = authorizer.invoke(&event).await;
    assert!(
        matches!(outcome, Outcome::Error(_)),
        "API Gateway must answer 500, not deny: {outcome:?}"
    );
    assert!(authorizer.is_alive(), "the process goes on serving");
}

/// Lambda's console lets anyone pick TRACE: even then, no session token reaches the logs
/// of the session function or the authorizer (lambda_runtime would log whole events).
#[tokio::test]
async fn no_session_token_reaches_the_logs_at_trace() {
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let cookie = create_session(&emulators, &table, "user-42").await;
    let bearer = create_session(&emulators, &table, "user-42").await;
    let mut env = session_env(&table);
    for (name, value) in [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("LOG_LEVEL", "TRACE"),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("RUST_LOG", "trace"),
        ("NATIVE_APP_SESSIONS", "true"),
    ] {
        env.push((name.to_owned(), value.to_owned()));
    }
    let mut authorizer = start_function("session-authorizer", env.clone()).await;
    let mut session = start_function("session", env).await;
    let authorized = event_with("session-authorizer", "authorized.json", cookie.expose());
    assert_eq!(answer(&authorizer, &authorized).await["isAuthorized"], true);
    let mut by_bearer = event_with("session", "session.json", "");
    by_bearer.as_object_mut().unwrap().remove("cookies");
    by_bearer["headers"]["authorization"] = json!(format!("Bearer {}", bearer.expose()));
    assert_eq!(answer(&session, &by_bearer).await["statusCode"], 200);
    let everywhere = event_with("session", "logout-everywhere.json", cookie.expose());
    assert_eq!(answer(&session, &everywhere).await["statusCode"], 200);

    authorizer.stop().await;
    session.stop().await;
    let lines = [
        authorizer.stdout(),
        authorizer.stderr(),
        session.stdout(),
        session.stderr(),
    ]
    .concat();
    let summaries = lines.iter().filter(|l| l.contains("request completed"));
    assert_eq!(summaries.count(), 3, "one summary line per request");
    for (name, token) in [("cookie", &cookie), ("bearer", &bearer)] {
        let leaked: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains(token.expose()))
            .collect();
        assert!(
            leaked.is_empty(),
            "the {name} session token is in {} lines",
            leaked.len()
        );
    }
}
