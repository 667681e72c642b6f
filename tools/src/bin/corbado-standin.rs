//! A stand-in for Corbado's Backend API v2 on loopback, so the local stack
//! runs the whole flow offline. It verifies no signature: never deploy it.
//!
//! - `POST /v2/connectTokens` checks Basic auth and the body's shape, answers a `connectToken`.
//! - `POST /v2/passkey/verifySignedData` answers `success` when the JWT's
//!   `webauthnId` equals `username`, `user_mismatch` when it does not, and
//!   `invalid_signature` when the JWT's signature part is `invalid`.
//!
//! Errors come back as Corbado's `errorRsp`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Parser;
use connect_backend::signed_data::SignedPasskeyData;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Corbado Backend API v2 stand-in for local development (verifies nothing)")]
struct Cli {
    #[arg(long, default_value_t = 4010)]
    port: u16,
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
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
        .with_state(state);
    let addr = SocketAddr::from(([127, 0, 0, 1], cli.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "\n  *** CORBADO STAND-IN on http://{addr}/v2 ***\n  \
         This is NOT Corbado. It checks no signature and accepts any signedPasskeyData\n  \
         whose webauthnId matches the username. For local development only; never deploy it.\n"
    );
    axum::serve(listener, app).await
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
