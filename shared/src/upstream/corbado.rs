//! Client for the calls of Corbado's Backend API v2 that this backend makes.

use std::fmt;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::config::ProjectId;
use crate::deadline::Deadline;
use crate::session::Session;
use crate::signed_data::SignedPasskeyData;
use crate::upstream::retry::RetryPolicy;
use crate::upstream::secrets::{ApiSecret, SecretCache, SecretError};

/// How calls to Corbado are bounded. A call ends well within the function's
/// own timeout, so a hang or an outage becomes a clean 504 or 502.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    pub connect_timeout: Duration,
    /// Per attempt; an attempt that times out is not retried.
    pub attempt_timeout: Duration,
    /// The whole call, retries and a secret refresh included, ends within this.
    pub total_budget: Duration,
    /// Retries of a failure that [`Resend`] allows.
    pub retry: RetryPolicy,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(5),
            total_budget: Duration::from_secs(8),
            retry: RetryPolicy {
                max_retries: 3,
                base_backoff: Duration::from_millis(100),
            },
        }
    }
}

/// What the frontend asks a connect token for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectTokenType {
    PasskeyAppend,
    PasskeyList,
    PasskeyDelete,
}

impl ConnectTokenType {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "passkey-append" => Some(Self::PasskeyAppend),
            "passkey-list" => Some(Self::PasskeyList),
            "passkey-delete" => Some(Self::PasskeyDelete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasskeyAppend => "passkey-append",
            Self::PasskeyList => "passkey-list",
            Self::PasskeyDelete => "passkey-delete",
        }
    }
}

/// Body of `POST /connectTokens`: `{"type": …, "data": …}`, where `data`
/// has the shape the spec defines for that type.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "type", content = "data")]
pub enum ConnectTokenRequest<'a> {
    #[serde(rename = "passkey-append")]
    PasskeyAppend {
        #[serde(rename = "displayName")]
        display_name: &'a str,
        identifier: &'a str,
    },
    #[serde(rename = "passkey-list")]
    PasskeyList { identifier: &'a str },
    #[serde(rename = "passkey-delete")]
    PasskeyDelete { identifier: &'a str },
}

impl<'a> ConnectTokenRequest<'a> {
    /// The identifier is the session's user id: the same value later comes
    /// back as `webauthnId` in `signedPasskeyData`.
    pub fn for_session(kind: ConnectTokenType, session: &'a Session) -> Self {
        let identifier = session.user_id.as_str();
        match kind {
            ConnectTokenType::PasskeyAppend => Self::PasskeyAppend {
                display_name: session.display_name_or_user_id(),
                identifier,
            },
            ConnectTokenType::PasskeyList => Self::PasskeyList { identifier },
            ConnectTokenType::PasskeyDelete => Self::PasskeyDelete { identifier },
        }
    }
}

/// `verificationResult` of `POST /passkey/verifySignedData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationResult {
    Success,
    InvalidSignature,
    InvalidChallenge,
    UserMismatch,
    GenericError,
}

impl VerificationResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidSignature => "invalid_signature",
            Self::InvalidChallenge => "invalid_challenge",
            Self::UserMismatch => "user_mismatch",
            Self::GenericError => "generic_error",
        }
    }
}

/// Which failed attempts a call may send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Only what never reached Corbado: a failed connection, or a 429 (the request was
    /// refused unprocessed). For single-use input such as signedPasskeyData, which a
    /// second delivery would find consumed.
    Undelivered,
    /// Also a connection lost mid-exchange and 5xx answers: a duplicate is harmless.
    AnyFailure,
}

#[derive(Debug, thiserror::Error)]
pub enum CorbadoError {
    #[error("Corbado did not answer in time")]
    Timeout,
    /// No connection (refused, DNS, TLS handshake): the request never left.
    #[error("Corbado could not be reached")]
    Unreachable(#[source] reqwest::Error),
    /// The exchange broke after the request may have been sent.
    #[error("the exchange with Corbado failed")]
    Transport(#[source] reqwest::Error),
    #[error("Corbado answered HTTP {status}: {details}")]
    Status { status: u16, details: ErrorDetails },
    #[error("Corbado's answer is unusable: {0}")]
    Unusable(&'static str),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// What an `errorRsp` says about a failure; worth logging, never worth showing to our clients.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorDetails {
    pub request_id: Option<String>,
    pub error_type: Option<String>,
}

impl fmt::Display for ErrorDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error.type={} requestID={}",
            self.error_type.as_deref().unwrap_or("-"),
            self.request_id.as_deref().unwrap_or("-")
        )
    }
}

impl ErrorDetails {
    /// Best effort: whatever of an `errorRsp` the body holds.
    pub fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct ErrorRsp {
            #[serde(rename = "requestData")]
            request_data: Option<RequestData>,
            error: Option<ErrorBody>,
        }
        #[derive(Deserialize)]
        struct RequestData {
            #[serde(rename = "requestID")]
            request_id: Option<String>,
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            #[serde(rename = "type")]
            error_type: Option<String>,
        }
        // Upstream text goes into our logs: keep it short and printable.
        let clean =
            |s: String| -> String { s.chars().filter(|c| !c.is_control()).take(100).collect() };
        match serde_json::from_slice::<ErrorRsp>(body) {
            Ok(rsp) => Self {
                request_id: rsp.request_data.and_then(|d| d.request_id).map(clean),
                error_type: rsp.error.and_then(|e| e.error_type).map(clean),
            },
            Err(_) => Self::default(),
        }
    }
}

pub struct CorbadoClient {
    http: reqwest::Client,
    /// Parsed once here rather than on every call.
    connect_tokens_url: Url,
    verify_signed_data_url: Url,
    project_id: ProjectId,
    secrets: SecretCache,
    policy: CallPolicy,
}

impl CorbadoClient {
    /// One per execution environment: the connection pool lives as long as the client.
    pub fn new(
        base_url: &Url,
        project_id: ProjectId,
        secrets: SecretCache,
        policy: CallPolicy,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.attempt_timeout)
            // The Backend API never redirects; one that did is an error, not a new
            // destination for the API secret. (It also spares a URL parse per call.)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "corbado-connect-lambda/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        let base = base_url.as_str().trim_end_matches('/');
        let endpoint = |path: &str| {
            Url::parse(&format!("{base}{path}")).expect("a valid base URL plus a fixed path")
        };
        Ok(Self {
            http,
            connect_tokens_url: endpoint("/connectTokens"),
            verify_signed_data_url: endpoint("/passkey/verifySignedData"),
            project_id,
            secrets,
            policy,
        })
    }

    /// `POST /connectTokens`; returns the connect token's secret.
    pub async fn create_connect_token(
        &self,
        request: &ConnectTokenRequest<'_>,
        deadline: Deadline,
    ) -> Result<SecretString, CorbadoError> {
        let url = &self.connect_tokens_url;
        decode_connect_token(
            &self
                .post(url, request, Resend::AnyFailure, deadline)
                .await?,
        )
    }

    /// `POST /passkey/verifySignedData` with the JWT's `webauthnId` as `username`.
    pub async fn verify_signed_data(
        &self,
        data: &SignedPasskeyData,
        deadline: Deadline,
    ) -> Result<VerificationResult, CorbadoError> {
        #[derive(Serialize)]
        struct Request<'a> {
            #[serde(rename = "signedPasskeyData")]
            signed_passkey_data: &'a str,
            username: &'a str,
        }
        let request = Request {
            signed_passkey_data: data.expose(),
            username: &data.claims().webauthn_id,
        };
        let url = &self.verify_signed_data_url;
        decode_verification(
            &self
                .post(url, &request, Resend::Undelivered, deadline)
                .await?,
        )
    }

    /// Sends the request and returns the body of a 2xx answer. The whole call,
    /// retries included, ends within the policy's total budget and by `deadline`.
    async fn post<B: Serialize>(
        &self,
        url: &Url,
        body: &B,
        resend: Resend,
        deadline: Deadline,
    ) -> Result<Vec<u8>, CorbadoError> {
        let until = deadline.within(self.policy.total_budget);
        until
            .run(self.post_with_retries(url, body, resend, until))
            .await
            .unwrap_or(Err(CorbadoError::Timeout))
    }

    /// Retries what `resend` allows, with backoff. A 401 means the secret may
    /// have been rotated: it is read again from Secrets Manager and the
    /// request sent once more (Corbado refused it unprocessed).
    async fn post_with_retries<B: Serialize>(
        &self,
        url: &Url,
        body: &B,
        resend: Resend,
        until: Deadline,
    ) -> Result<Vec<u8>, CorbadoError> {
        let mut secret = self.secrets.current().await?;
        let mut secret_refreshed = false;
        let mut attempts = self.policy.retry.attempts(until);
        loop {
            let outcome = self.attempt(url, &secret, body).await;
            let retryable = match (&outcome, resend) {
                (Ok((status, _)), _) if *status == StatusCode::TOO_MANY_REQUESTS => true,
                (Ok((status, _)), Resend::AnyFailure) => status.is_server_error(),
                (Err(CorbadoError::Unreachable(_)), _) => true,
                (Err(CorbadoError::Transport(_)), Resend::AnyFailure) => true,
                _ => false,
            };
            if let Some(pause) = retryable.then(|| attempts.next_pause()).flatten() {
                tracing::warn!(
                    retry = attempts.retries(),
                    pause_ms = pause.as_millis() as u64,
                    outcome = %describe(&outcome),
                    "Corbado call failed; retrying"
                );
                tokio::time::sleep(pause).await;
                continue;
            }
            let (status, bytes) = outcome?;
            if status == StatusCode::UNAUTHORIZED && !secret_refreshed {
                tracing::warn!(
                    details = %ErrorDetails::parse(&bytes),
                    "Corbado rejected the API secret; reading it again from Secrets Manager"
                );
                secret = self.secrets.refresh(&secret).await?;
                secret_refreshed = true;
                continue;
            }
            if !status.is_success() {
                return Err(CorbadoError::Status {
                    status: status.as_u16(),
                    details: ErrorDetails::parse(&bytes),
                });
            }
            return Ok(bytes);
        }
    }

    async fn attempt<B: Serialize>(
        &self,
        url: &Url,
        secret: &ApiSecret,
        body: &B,
    ) -> Result<(StatusCode, Vec<u8>), CorbadoError> {
        let response = self
            .http
            .post(url.clone())
            .basic_auth(self.project_id.as_str(), Some(secret.expose()))
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        Ok((status, read_body(response).await?))
    }
}

/// The secret of a `connectToken` answer.
pub fn decode_connect_token(body: &[u8]) -> Result<SecretString, CorbadoError> {
    #[derive(Deserialize)]
    struct ConnectToken {
        secret: Option<String>,
    }
    serde_json::from_slice::<ConnectToken>(body)
        .map_err(|_| CorbadoError::Unusable("the response body is not the JSON the spec defines"))?
        .secret
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .ok_or(CorbadoError::Unusable("the connect token has no secret"))
}

/// The `verificationResult` of a `passkeyVerifySignedDataRsp` answer.
pub fn decode_verification(body: &[u8]) -> Result<VerificationResult, CorbadoError> {
    #[derive(Deserialize)]
    struct Response {
        #[serde(rename = "verificationResult")]
        verification_result: VerificationResult,
    }
    serde_json::from_slice::<Response>(body)
        .map(|r| r.verification_result)
        .map_err(|_| CorbadoError::Unusable("the response body is not the JSON the spec defines"))
}

fn describe(outcome: &Result<(StatusCode, Vec<u8>), CorbadoError>) -> String {
    match outcome {
        Ok((status, bytes)) => format!("HTTP {status} {}", ErrorDetails::parse(bytes)),
        Err(err) => crate::telemetry::Chain(err).to_string(),
    }
}

/// Corbado's answers are a few hundred bytes; a much larger one is not an answer we can use.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, CorbadoError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(CorbadoError::Unusable("the response body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(err: reqwest::Error) -> CorbadoError {
    let unreachable = err.is_connect();
    if err.is_timeout() && !unreachable {
        return CorbadoError::Timeout;
    }
    // The URL names only Corbado's endpoint, but logs need not repeat it.
    let err = err.without_url();
    if unreachable {
        CorbadoError::Unreachable(err)
    } else {
        CorbadoError::Transport(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(display_name: Option<&str>) -> Session {
        Session {
            user_id: "user-7".into(),
            display_name: display_name.map(Into::into),
            created_at: 1,
            expires_at: 2,
            corbado_user_id: None,
            credential_id: None,
        }
    }

    #[test]
    fn connect_token_requests_have_the_data_shape_of_their_type() {
        let with_name = session(Some("Jane Doe"));
        let cases = [
            (
                ConnectTokenType::PasskeyAppend,
                json!({"type": "passkey-append", "data": {"displayName": "Jane Doe", "identifier": "user-7"}}),
            ),
            (
                ConnectTokenType::PasskeyList,
                json!({"type": "passkey-list", "data": {"identifier": "user-7"}}),
            ),
            (
                ConnectTokenType::PasskeyDelete,
                json!({"type": "passkey-delete", "data": {"identifier": "user-7"}}),
            ),
        ];
        for (kind, expected) in cases {
            let request = ConnectTokenRequest::for_session(kind, &with_name);
            assert_eq!(serde_json::to_value(&request).unwrap(), expected);
        }
    }

    #[test]
    fn append_falls_back_to_the_user_id_as_display_name() {
        let nameless = session(None);
        let request = ConnectTokenRequest::for_session(ConnectTokenType::PasskeyAppend, &nameless);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"type": "passkey-append", "data": {"displayName": "user-7", "identifier": "user-7"}})
        );
    }

    #[test]
    fn only_the_three_connect_token_types_parse() {
        assert_eq!(
            ConnectTokenType::parse("passkey-list"),
            Some(ConnectTokenType::PasskeyList)
        );
        for bad in ["passkey-login", "PASSKEY-LIST", "", " passkey-list"] {
            assert_eq!(ConnectTokenType::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_details_come_from_an_error_rsp() {
        let body = br#"{"httpStatusCode":400,"message":"Bad","requestData":{"requestID":"req-1"},"runtime":0.1,"error":{"type":"validation_error","details":"x"}}"#;
        assert_eq!(
            ErrorDetails::parse(body),
            ErrorDetails {
                request_id: Some("req-1".into()),
                error_type: Some("validation_error".into())
            }
        );
        assert_eq!(ErrorDetails::parse(b"<html>"), ErrorDetails::default());
    }
}
