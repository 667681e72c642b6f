//! Corbado over HTTPS, as in production: the app's own client (reqwest, rustls,
//! rustls-platform-verifier, which on Linux trusts what `SSL_CERT_FILE` names when it is set)
//! against `corbado-standin --tls-dir`, which makes a CA for each run. A stand-in whose CA is
//! trusted serves the login; one whose CA is not, or one reached under a name its certificate
//! does not carry, receives no request at all, so the API secret never leaves the process.
//!
//! One test in a binary of its own: `SSL_CERT_FILE` is process-wide, and the verifier reads
//! it when each app's HTTP client is built.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use connect_backend::functions::{CreateConnectToken, VerifySignedPasskeyData};
use connect_backend::http::Function;
use connect_backend::session::attr;
use connect_backend::telemetry::metrics::MetricsSink;
use integration_tests::*;
use serde_json::{json, Value};

const VERIFY: Endpoint = Endpoint::VerifySignedPasskeyData;
const CREATE: Endpoint = Endpoint::CreateConnectToken;

/// `cargo test` builds the binaries of the package under test only; the stand-in is
/// connect-tools', so it is built here (a no-op when it is up to date).
fn standin_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/Cargo.toml");
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--message-format=json", "--bin"])
        .arg("corbado-standin")
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo to build corbado-standin");
    assert!(
        output.status.success(),
        "`cargo build --bin corbado-standin` failed (its errors are above); \
         build it with `cargo build -p connect-tools --bin corbado-standin`"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["target"]["name"] == "corbado-standin")
        .and_then(|artifact| artifact["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the corbado-standin executable it built")
}

/// `corbado-standin --tls-dir` on one port at each of `hosts`, with its own CA; killed when
/// dropped.
struct StandIn {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl StandIn {
    fn start(binary: &Path, hosts: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("corbado-standin"));
        std::fs::create_dir_all(&dir).expect("create the stand-in's directory");
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--tls-dir"])
            .arg(dir.join("tls"));
        for host in hosts {
            command.args(["--host", host]);
        }
        let log = std::fs::File::create(dir.join("stderr.log")).expect("create the log file");
        let child = command
            .env("CORBADO_PROJECT_ID", PROJECT_ID)
            .env("STANDIN_API_SECRET", API_SECRET)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start corbado-standin");
        let mut standin = Self { child, port, dir };
        // It announces itself once it listens; a probe connection would be logged as a
        // failed handshake and muddle what the test reads there.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !standin.log().contains("*** CORBADO STAND-IN on https://") {
            if let Some(status) = standin.child.try_wait().unwrap() {
                panic!("corbado-standin exited ({status}):\n{}", standin.log());
            }
            assert!(
                Instant::now() < deadline,
                "corbado-standin did not start:\n{}",
                standin.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        standin
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/v2", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// The requests it has received, as it logs them: `POST /v2/connectTokens -> 200`.
    fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|line| line.strip_prefix("corbado-standin: request "))
            .map(str::to_owned)
            .collect()
    }

    /// The handshakes it has logged as refused, waiting a little for the first: the client
    /// may see its own failure before the stand-in logs the alert.
    fn refused_handshakes(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let refused: Vec<String> = self
                .log()
                .lines()
                .filter(|line| line.contains("TLS handshake with") && line.contains("refused"))
                .map(str::to_owned)
                .collect();
            if !refused.is_empty() || Instant::now() > deadline {
                return refused;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The two passkey functions (their HTTP clients built now, trusting what `SSL_CERT_FILE`
/// names) on a fresh table, talking to Corbado at `backend_api`.
struct Passkeys {
    verify: Function<VerifySignedPasskeyData>,
    create: Function<CreateConnectToken>,
    table: String,
}

async fn passkeys(emulators: &Emulators, secret_arn: &str, backend_api: &str) -> Passkeys {
    let table = emulators.new_table().await;
    let config = config_with(&table, secret_arn, backend_api, &[]);
    let sink = || MetricsSink::Memory(Default::default());
    Passkeys {
        verify: emulators.verify(&config).with_metrics_sink(sink()),
        create: emulators
            .create_connect_token(&config)
            .with_metrics_sink(sink()),
        table,
    }
}

fn login_event() -> Event {
    let jwt = signed_passkey_data(login_claims("user-42"));
    Event::json(VERIFY, &json!({ "signedPasskeyData": jwt }))
}

#[tokio::test]
async fn corbado_is_reached_only_over_https_with_a_certificate_valid_for_its_name() {
    let binary = standin_binary();
    // Trusted, and also listening on 127.0.0.2, a name its certificate does not carry.
    let trusted = StandIn::start(&binary, &["127.0.0.1", "127.0.0.2"]);
    let untrusted = StandIn::start(&binary, &["127.0.0.1"]);
    // Before any app exists, and while this test is the only thread that reads the environment.
    std::env::set_var("SSL_CERT_FILE", trusted.ca());
    std::env::remove_var("SSL_CERT_DIR");

    let emulators = Emulators::connect().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;

    // The trusted stand-in, under a name its certificate carries: the whole flow works.
    let trusted_passkeys = passkeys(&emulators, &secret_arn, &trusted.url("127.0.0.1")).await;
    let table = &trusted_passkeys.table;
    let login = invoke(&trusted_passkeys.verify, login_event()).await;
    assert_eq!(login.status, 200, "login over https: {:?}", login.raw);
    assert_eq!(login.body, json!({"success": true}));
    assert_eq!(login.cookies.len(), 1, "{:?}", login.cookies);
    let (name, token, attributes) = parse_set_cookie(&login.cookies[0]);
    assert_eq!(name, COOKIE_NAME);
    assert!(attributes.contains(&"Secure".to_owned()), "{attributes:?}");
    let items = emulators.items(table).await;
    assert_eq!(items.len(), 1, "one session in the table");
    assert_eq!(
        items[0][attr::KEY].as_s().unwrap(),
        &session_key(&token),
        "the table holds the cookie's session"
    );
    assert_eq!(items[0][attr::USER_ID].as_s().unwrap(), "user-42");

    let connect_token = invoke(
        &trusted_passkeys.create,
        Event::json(CREATE, &json!({"type": "passkey-list"})).cookie(&format!("{name}={token}")),
    )
    .await;
    assert_eq!(connect_token.status, 200, "{:?}", connect_token.raw);
    assert!(
        connect_token.body["connectToken"]
            .as_str()
            .is_some_and(|t| t.starts_with("ctk1_standin_")),
        "{:?}",
        connect_token.body
    );
    assert_eq!(
        trusted.requests(),
        [
            "POST /v2/passkey/verifySignedData -> 200",
            "POST /v2/connectTokens -> 200"
        ]
    );

    // A stand-in whose CA is not trusted: the handshake fails, so no request (and no API
    // secret) reaches it, and nothing is written.
    assert_login_refused_at_handshake(
        &emulators,
        &secret_arn,
        &untrusted,
        "127.0.0.1",
        "UnknownCA",
        "the client rejects the certificate as from an unknown CA",
    )
    .await;
    assert_eq!(untrusted.requests(), Vec::<String>::new());

    // The trusted stand-in under a name its certificate does not carry: the name check, not
    // the CA, refuses it.
    assert_login_refused_at_handshake(
        &emulators,
        &secret_arn,
        &trusted,
        "127.0.0.2",
        "BadCertificate",
        "the client rejects the certificate as not valid for 127.0.0.2",
    )
    .await;
    assert_eq!(
        trusted.requests().len(),
        2,
        "no request beyond the first two"
    );
}

/// A login against `stand_in` reached as `host` fails in the TLS handshake: a 502,
/// nothing written, and the stand-in refused the handshake with `alert`.
async fn assert_login_refused_at_handshake(
    emulators: &Emulators,
    secret_arn: &str,
    stand_in: &StandIn,
    host: &str,
    alert: &str,
    why: &str,
) {
    let Passkeys { verify, table, .. } = passkeys(emulators, secret_arn, &stand_in.url(host)).await;
    let login = invoke(&verify, login_event()).await;
    login.assert_error(502, "upstream_error");
    assert!(
        emulators.items(&table).await.is_empty(),
        "a session was written"
    );
    let refused = stand_in.refused_handshakes();
    assert!(
        !refused.is_empty() && refused.iter().all(|line| line.ends_with(alert)),
        "{why}:\n{}",
        stand_in.log()
    );
}
