//! What the Corbado stand-in answers, as Corbado's spec says, and what it is sent.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use wiremock::ResponseTemplate;

use crate::PROJECT_ID;

pub fn basic_auth(secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{PROJECT_ID}:{secret}"))
    )
}

/// A JWT shaped like Corbado's signedPasskeyData (the stand-in does the verifying).
pub fn signed_passkey_data(claims: Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"pki-1","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode("not-a-real-signature")
    )
}

pub fn login_claims(webauthn_id: &str) -> Value {
    json!({
        "iss": PROJECT_ID,
        "sub": "usr-676138078732345317",
        "exp": 1795639094,
        "iat": 1795638794,
        "credential": "cre-13566630052040460774",
        "webauthnId": webauthn_id,
        "isCUI": false
    })
}

pub fn verify_rsp(result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "verificationResult": result }))
}

pub fn connect_token_rsp(secret: Option<&str>) -> ResponseTemplate {
    let mut body = json!({
        "id": "ctk-940364795071150919",
        "tokenType": "passkey-append",
        "data": {"identifier": "user-42", "displayName": "Jane Doe"},
        "connectTokenStatus": "initial",
        "expires": 1795642394
    });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Corbado's `errorRsp` (common.yml), with a message that must never reach our clients.
pub fn error_rsp(status: u16, error_type: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(error_rsp_json(status, error_type))
}

/// The body of [`error_rsp`].
pub fn error_rsp_json(status: u16, error_type: &str) -> Value {
    json!({
        "httpStatusCode": status,
        "message": "CORBADO-INTERNAL-MESSAGE",
        "requestData": {"requestID": "req-557650104455887358", "link": "https://app.corbado.com/requests/req-557650104455887358"},
        "runtime": 0.012,
        "error": {"type": error_type, "details": "CORBADO-INTERNAL-DETAILS"}
    })
}
