//! A stand-in for Corbado's Backend API v2 on loopback, so the local stack
//! runs the whole flow offline. It verifies no signature: never deploy it.
//!
//! - `POST /v2/connectTokens` checks Basic auth and the body's shape, answers a `connectToken`.
//! - `POST /v2/passkey/verifySignedData` answers `success` when the JWT's
//!   `webauthnId` equals `username`, `user_mismatch` when it does not, and
//!   `invalid_signature` when the JWT's signature part is `invalid`.
//!
//! Errors come back as Corbado's `errorRsp`. Each request is logged (method, path,
//! status; never a header or body) on stderr.
//!
//! With `--tls-dir DIR` it serves HTTPS, as Corbado does: at start it makes a CA and a
//! server certificate for `127.0.0.1`, `localhost`, `host.containers.internal` and every
//! `--tls-name`, and writes only the CA's certificate to `DIR/ca.pem` (the keys never leave
//! memory), for clients' `SSL_CERT_FILE`.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::Listener;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Parser;
use connect_backend::signed_data::SignedPasskeyData;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// `eprintln!` writes a line in pieces, one `write` per argument; the stand-in shares its
/// stderr with the functions' JSON logs (scripts/local-stack.sh), where pieces of its
/// lines would split theirs. One `write` per line keeps every line whole.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        let _ = io::stderr().write_all(line.as_bytes());
    }};
}

#[derive(Parser)]
#[command(about = "Corbado Backend API v2 stand-in for local development (verifies nothing)")]
struct Cli {
    #[arg(long, default_value_t = 4010)]
    port: u16,
    /// Address to listen on, at `--port` (repeatable). Loopback only: it verifies nothing.
    #[arg(long = "host", value_name = "IP", default_value = "127.0.0.1", value_parser = loopback_ip)]
    hosts: Vec<IpAddr>,
    /// Serve HTTPS with a CA made for this run; its certificate goes to DIR/ca.pem.
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// A further DNS name or IP address for the server certificate (repeatable).
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls_dir")]
    tls_names: Vec<String>,
    #[arg(long, env = "CORBADO_PROJECT_ID")]
    project_id: String,
    /// The API secret requests must carry (the one the local stack stores in Secrets Manager).
    #[arg(long, env = "STANDIN_API_SECRET")]
    api_secret: String,
}

struct StandIn {
    authorization: String,
    issued: AtomicU64,
}

/// Names every server certificate carries: the local stack's and a container's view of the host.
const TLS_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "host.containers.internal"];

/// A client that connects but never completes its handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn loopback_ip(value: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = value
        .parse()
        .map_err(|_| format!("{value:?} is not an IP address"))?;
    if !ip.is_loopback() {
        return Err(format!("{ip} is not a loopback address"));
    }
    Ok(ip)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let state = Arc::new(StandIn {
        authorization: format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", cli.project_id, cli.api_secret))
        ),
        issued: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v2/connectTokens", post(connect_tokens))
        .route("/v2/passkey/verifySignedData", post(verify_signed_data))
        .fallback(|| async { error_rsp(StatusCode::NOT_FOUND, "not_found") })
        .layer(middleware::from_fn(log_request))
        .with_state(state);
    let tls = match &cli.tls_dir {
        Some(dir) => {
            let names: Vec<String> = TLS_NAMES
                .into_iter()
                .map(String::from)
                .chain(cli.tls_names.iter().cloned())
                .collect();
            Some((tls_acceptor(dir, &names)?, names))
        }
        None => None,
    };
    let mut listeners = Vec::new();
    for host in &cli.hosts {
        listeners.push(TcpListener::bind(SocketAddr::new(*host, cli.port)).await?);
    }

    let scheme = if tls.is_some() { "https" } else { "http" };
    let urls: Vec<String> = listeners
        .iter()
        .map(|l| Ok(format!("{scheme}://{}/v2", l.local_addr()?)))
        .collect::<io::Result<_>>()?;
    say!(
        "\n  *** CORBADO STAND-IN on {} ***\n  \
         This is NOT Corbado. It checks no signature and accepts any signedPasskeyData\n  \
         whose webauthnId matches the username. For local development only; never deploy it.\n",
        urls.join(", ")
    );
    if let (Some((_, names)), Some(dir)) = (&tls, &cli.tls_dir) {
        say!(
            "  Its certificate, for {}, is from a CA made for this run:\n  \
             trust it with SSL_CERT_FILE={}\n",
            names.join(", "),
            dir.join("ca.pem").display()
        );
    }

    let mut servers = JoinSet::new();
    for listener in listeners {
        let app = app.clone();
        match &tls {
            Some((acceptor, _)) => {
                let listener = TlsListener::new(listener, acceptor.clone())?;
                servers.spawn(async move { axum::serve(listener, app).await })
            }
            None => servers.spawn(async move { axum::serve(listener, app).await }),
        };
    }
    // The servers run until one of them fails.
    if let Some(outcome) = servers.join_next().await {
        outcome??;
    }
    Ok(())
}

/// One line per request, so a test can tell whether any arrived. Path only: a query or a
/// header could carry a secret.
async fn log_request(request: Request, next: Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri().path());
    let response = next.run(request).await;
    say!(
        "corbado-standin: request {line} -> {}",
        response.status().as_u16()
    );
    response
}

/// Makes this run's CA and the server certificate it signs for `names`, writes the CA
/// certificate (no key) to `dir/ca.pem`, and returns the TLS server configuration.
fn tls_acceptor(dir: &Path, names: &[String]) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    let mut ca = CertificateParams::new(Vec::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    // A name of its own per run: a client that trusts another run's CA finds no issuer by
    // this name (UnknownCA) rather than one whose signature does not match.
    ca.distinguished_name.push(
        DnType::CommonName,
        format!(
            "Corbado stand-in CA {}-{} (local development only)",
            std::process::id(),
            connect_backend::session::now_epoch_seconds()
        ),
    );
    let ca_key = KeyPair::generate()?;
    let ca_certificate = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut server = CertificateParams::new(names.to_vec())?;
    server
        .distinguished_name
        .push(DnType::CommonName, "Corbado stand-in");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_certificate = server.signed_by(&server_key, &issuer)?;

    // Written whole and then renamed: whoever reads ca.pem never sees half a file.
    std::fs::create_dir_all(dir)?;
    let partial = dir.join("ca.pem.partial");
    std::fs::write(&partial, ca_certificate.pem())?;
    std::fs::rename(&partial, dir.join("ca.pem"))?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![server_certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TCP listener whose connections are handed on once their TLS handshake succeeds.
/// Handshakes run in tasks of their own, so a slow client holds up no other.
struct TlsListener {
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    fn new(mut tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, handshaken) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = Listener::accept(&mut tcp).await;
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        // A port probe (wait_for_port in scripts/lib.sh) does this, and so do
                        // clients that reject the certificate without sending an alert.
                        Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => say!(
                            "corbado-standin: {peer} closed the connection during the TLS handshake"
                        ),
                        Ok(Err(err)) => {
                            say!("corbado-standin: TLS handshake with {peer} refused: {err}")
                        }
                        Err(_) => say!("corbado-standin: TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(Self {
            handshaken,
            local_addr,
        })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(connection) => connection,
            // The accepting task never ends, so neither does the channel.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

async fn connect_tokens(
    State(s): State<Arc<StandIn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Req {
        #[serde(rename = "type")]
        token_type: String,
        data: serde_json::Map<String, Value>,
    }
    let req: Req = match read_request(&s, &headers, &body) {
        Ok(req) => req,
        Err(refused) => return refused.into_response(),
    };
    let keys: Vec<&str> = {
        let mut k: Vec<&str> = req.data.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    };
    let shape_ok = match req.token_type.as_str() {
        "passkey-append" => keys == ["displayName", "identifier"],
        "passkey-list" | "passkey-delete" | "passkey-login" => keys == ["identifier"],
        _ => false,
    };
    let strings = req
        .data
        .values()
        .all(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    if !shape_ok || !strings {
        return error_rsp(StatusCode::BAD_REQUEST, "validation_error");
    }
    let n = s.issued.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "id": format!("ctk-{n}"),
        "tokenType": req.token_type,
        "data": req.data,
        "connectTokenStatus": "initial",
        "secret": format!("ctk1_standin_{n}_{:x}", connect_backend::session::now_epoch_seconds()),
        "expires": connect_backend::session::now_epoch_seconds() + 3600,
    }))
    .into_response()
}

async fn verify_signed_data(
    State(s): State<Arc<StandIn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Req {
        #[serde(rename = "signedPasskeyData")]
        signed_passkey_data: String,
        username: String,
    }
    let req: Req = match read_request(&s, &headers, &body) {
        Ok(req) => req,
        Err(refused) => return refused.into_response(),
    };
    let invalid_signature = req.signed_passkey_data.rsplit('.').next() == Some("invalid");
    let result = match SignedPasskeyData::parse(req.signed_passkey_data) {
        Err(_) => "invalid_signature",
        Ok(_) if invalid_signature => "invalid_signature",
        Ok(data) if data.claims().webauthn_id == req.username => "success",
        Ok(_) => "user_mismatch",
    };
    Json(json!({ "verificationResult": result })).into_response()
}

/// Corbado's checks before any operation: Basic auth, then a JSON body of the operation's shape.
fn read_request<T: DeserializeOwned>(
    s: &StandIn,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Refused> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization != Some(s.authorization.as_str()) {
        return Err(Refused(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    serde_json::from_slice(body).map_err(|_| Refused(StatusCode::BAD_REQUEST, "validation_error"))
}

/// An `errorRsp` still to be written: status and `error.type`.
struct Refused(StatusCode, &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error_rsp(self.0, self.1)
    }
}

fn error_rsp(status: StatusCode, error_type: &str) -> Response {
    let body = json!({
        "httpStatusCode": status.as_u16(),
        "message": status.canonical_reason().unwrap_or("error"),
        "requestData": {"requestID": format!("req-standin-{}", connect_backend::session::now_epoch_seconds())},
        "runtime": 0.0,
        "error": {"type": error_type},
    });
    (status, Json(body)).into_response()
}
