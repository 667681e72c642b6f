//! `connect-session list` and `revoke-user`, the operator's view of a user's sessions, run
//! as the built binary against DynamoDB Local.

use std::process::{Command, Output};

use crate::runtime_support::function_binary;
use connect_backend::NewSession;
use integration_tests::*;

fn connect_session(table: &str, args: &[&str]) -> Output {
    let output = Command::new(function_binary("connect-session"))
        .arg("--table")
        .arg(table)
        .args(args)
        .output()
        .expect("run connect-session");
    assert!(
        output.status.success(),
        "connect-session {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn an_operator_lists_a_users_sessions_without_tokens_and_ends_them_all() {
    let app = TestApp::start().await;
    let first = app.login("user-42", None).await;
    let store = connect_backend::SessionStore::new(
        app.emulators.dynamodb.clone(),
        &app.table,
        std::time::Duration::from_secs(SESSION_TTL_SECONDS),
    );
    let (second, _) = store
        .create(NewSession {
            user_id: "user-42".into(),
            credential_id: Some("cre-13566630052040460774".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let someone_else = app.login("user-7", None).await;

    let listed = connect_session(&app.table, &["list", "--user-id", "user-42"]);
    let stdout = String::from_utf8(listed.stdout).unwrap();
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows[0], "key\tcreatedAt\texpiresAt\tcredentialId");
    assert_eq!(rows.len(), 3, "{stdout}");
    for token in [&first, &second] {
        assert!(!stdout.contains(token.expose()), "a token in the listing");
        let prefix = &session_key(token.expose())[..12];
        assert!(stdout.contains(prefix), "{prefix} not listed:\n{stdout}");
    }
    assert!(stdout.contains("cre-13566630052040460774"));
    assert!(String::from_utf8_lossy(&listed.stderr).contains("2 live sessions of user-42"));

    let revoked = connect_session(&app.table, &["revoke-user", "--user-id", "user-42"]);
    assert!(String::from_utf8_lossy(&revoked.stderr).contains("revoked 2 live sessions of user-42"));
    app.assert_only_session(&session_key(someone_else.expose()))
        .await;
    let listed = connect_session(&app.table, &["list", "--user-id", "user-42"]);
    assert_eq!(String::from_utf8(listed.stdout).unwrap().lines().count(), 1);
}
