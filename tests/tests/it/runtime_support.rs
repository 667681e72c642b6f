//! What the tests of the real binaries share: the binaries themselves, built once per run,
//! and the environment they run with against the emulators.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use connect_backend::{NewSession, SessionStore, SessionToken};
use connect_tools::runtime_api::FunctionProcess;
use integration_tests::{Emulators, FRONTEND_ORIGIN, PROJECT_ID, SESSION_TTL_SECONDS};

pub const CREATE_CONNECT_TOKEN: &str = "create-connect-token";
pub const VERIFY_SIGNED_PASSKEY_DATA: &str = "verify-signed-passkey-data";

/// The built binary `name` (a function, or a tool such as `connect-session`): from
/// `FUNCTION_BIN_DIR` when set (e.g. release builds), else from this test's own target
/// directory and profile, built there first ([`workspace_binaries`]).
pub fn function_binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("FUNCTION_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_binaries().to_owned(),
    };
    let binary = dir.join(name);
    assert!(binary.is_file(), "{} is missing", binary.display());
    binary
}

/// Where `cargo build --workspace --bins` puts the binaries for this test executable's target
/// directory and profile, after running it once per test process (a no-op when they are up
/// to date). `cargo test` builds the binaries of a package only when it has integration
/// tests, and the functions' tests are all here: without this, a run would start the
/// binaries of an older build, or none.
fn workspace_binaries() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // Test executables live in <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>");
        let target_dir = profile_dir.parent().expect("<target>");
        // The dev and test profiles build into `debug`; every other profile into its name.
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(name) => name,
            None => panic!("{}: no profile directory", exe.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--bins",
                "--profile",
                profile,
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .arg("--manifest-path")
            .arg(&manifest)
            .status()
            .expect("run cargo to build the workspace's binaries");
        assert!(
            status.success(),
            "`cargo build --workspace --bins` failed (its errors are above)"
        );
        profile_dir.to_owned()
    })
}

/// The environment a deployed function gets, pointed at the emulators and at
/// `corbado_url` (the base URL, `/v2` appended), then `overrides` on top.
pub fn function_env(
    table: &str,
    secret_arn: &str,
    corbado_url: &str,
    overrides: &[(&str, &str)],
) -> Vec<(String, String)> {
    let passed_on = |name: &str| std::env::var(name).unwrap_or_default();
    let mut env: Vec<(String, String)> = [
        ("SESSIONS_TABLE", table.to_owned()),
        ("CORBADO_PROJECT_ID", PROJECT_ID.to_owned()),
        ("CORBADO_API_SECRET_ARN", secret_arn.to_owned()),
        ("CORBADO_BACKEND_API", format!("{corbado_url}/v2")),
        ("SESSION_TTL_SECONDS", SESSION_TTL_SECONDS.to_string()),
        ("ALLOWED_ORIGINS", FRONTEND_ORIGIN.to_owned()),
        // Emulators::connect has checked that these point at loopback.
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            passed_on("AWS_ENDPOINT_URL_DYNAMODB"),
        ),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            passed_on("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        ),
        ("AWS_REGION", "eu-central-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (name, value) in overrides {
        env.retain(|(k, _)| k != name);
        env.push(((*name).to_owned(), (*value).to_owned()));
    }
    env
}

/// Starts the function binary `name` and waits until it asks for its first event.
pub async fn start_function(name: &str, env: Vec<(String, String)>) -> FunctionProcess {
    let timeout = connect_tools::runtime_api::TIMEOUT;
    start_function_with_timeout(name, env, timeout).await
}

/// [`start_function`] for a function whose `Timeout` is `timeout`.
pub async fn start_function_with_timeout(
    name: &str,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> FunctionProcess {
    let process = FunctionProcess::start_with_timeout(&function_binary(name), env, timeout)
        .await
        .unwrap_or_else(|err| panic!("start {name}: {err}"));
    match tokio::time::timeout(Duration::from_secs(30), process.wait_ready()).await {
        Ok(Ok(_)) => process,
        Ok(Err(how)) => panic!(
            "{name} ended during init ({how}):\n{}\n{}",
            process.stdout().join("\n"),
            process.stderr().join("\n")
        ),
        Err(_) => panic!("{name} did not ask for an event within 30 s"),
    }
}

/// A session as the application's existing login would create it.
pub async fn create_session(emulators: &Emulators, table: &str, user_id: &str) -> SessionToken {
    SessionStore::new(
        emulators.dynamodb.clone(),
        table,
        Duration::from_secs(SESSION_TTL_SECONDS),
    )
    .create(NewSession {
        user_id: user_id.into(),
        display_name: Some("Jane Doe".into()),
        ..Default::default()
    })
    .await
    .expect("create a session in DynamoDB Local")
    .0
}

/// The event files in `events/<function>/`, as JSON.
pub fn event_files(function: &str) -> Vec<(String, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (name, json)
        })
        .collect()
}

/// The placeholder in the event files' cookies where a real session token goes.
pub const TOKEN_PLACEHOLDER: &str = "REPLACE_WITH_A_TOKEN_FROM_connect-session";

/// A Corbado stand-in that verifies every login and issues `connect_token` for every request.
pub async fn corbado_accepting_everything(connect_token: &str) -> wiremock::MockServer {
    let corbado = wiremock::MockServer::start().await;
    accept_everything(&corbado, connect_token).await;
    corbado
}

/// `corbado` verifies every login and issues `connect_token` for every request from now on.
pub async fn accept_everything(corbado: &wiremock::MockServer, connect_token: &str) {
    use wiremock::matchers::{method, path};
    use wiremock::Mock;
    Mock::given(method("POST"))
        .and(path("/v2/passkey/verifySignedData"))
        .respond_with(integration_tests::verify_rsp("success"))
        .mount(corbado)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/connectTokens"))
        .respond_with(integration_tests::connect_token_rsp(Some(connect_token)))
        .mount(corbado)
        .await;
}

/// Invokes and returns the response API Gateway gets; panics on anything else.
pub async fn answer(process: &FunctionProcess, event: &serde_json::Value) -> serde_json::Value {
    use connect_tools::runtime_api::Outcome;
    let outcome = tokio::time::timeout(Duration::from_secs(30), process.invoke(event))
        .await
        .expect("an answer within 30 s");
    match outcome {
        Outcome::Response(response) => response,
        other => panic!("{other:?}\nstderr:\n{}", process.stderr().join("\n")),
    }
}

/// The JSON body of a response API Gateway gets; null when it has none.
pub fn body(response: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null"))
        .unwrap_or(serde_json::Value::Null)
}
