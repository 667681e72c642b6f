//! `signedPasskeyData`: the JWT a passkey login hands to the frontend.
//!
//! Its payload is decoded here only to learn whom Corbado should verify it for;
//! nothing in it is trusted until Corbado answers `success`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

/// A syntactically valid `signedPasskeyData` and the claims read from it.
pub struct SignedPasskeyData {
    jwt: SecretString,
    claims: UnverifiedClaims,
}

/// Claims read from the JWT payload before Corbado has verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedClaims {
    /// The application's own user id, sent as `identifier` when the passkey was appended.
    pub webauthn_id: String,
    /// Corbado's internal user id (`usr-…`).
    pub sub: Option<String>,
    /// Corbado's credential id (`cre-…`).
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignedDataError {
    #[error("signedPasskeyData is not a JWT (three base64url parts separated by dots)")]
    NotAJwt,
    #[error("the signedPasskeyData payload is not a JSON object")]
    PayloadNotJson,
    #[error("the signedPasskeyData payload has no webauthnId")]
    NoWebauthnId,
}

impl fmt::Debug for SignedPasskeyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedPasskeyData")
            .field("jwt", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

impl SignedPasskeyData {
    pub fn parse(jwt: String) -> Result<Self, SignedDataError> {
        let mut parts = jwt.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignedDataError::NotAJwt);
        };
        if [header, payload, signature]
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(is_base64url_char))
        {
            return Err(SignedDataError::NotAJwt);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SignedDataError::NotAJwt)?;

        let mut payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload).map_err(|_| SignedDataError::PayloadNotJson)?;
        let mut text = |claim: &str| match payload.remove(claim) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let claims = UnverifiedClaims {
            webauthn_id: text("webauthnId").ok_or(SignedDataError::NoWebauthnId)?,
            sub: text("sub"),
            credential: text("credential"),
        };
        Ok(Self {
            jwt: jwt.into(),
            claims,
        })
    }

    pub fn expose(&self) -> &str {
        self.jwt.expose_secret()
    }

    pub fn claims(&self) -> &UnverifiedClaims {
        &self.claims
    }
}

fn is_base64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_webauthn_id_sub_and_credential() {
        let data = SignedPasskeyData::parse(jwt(
            r#"{"iss":"pro-1","sub":"usr-42","webauthnId":"user-7","credential":"cre-9","isCUI":false}"#,
        ))
        .unwrap();
        assert_eq!(
            data.claims(),
            &UnverifiedClaims {
                webauthn_id: "user-7".into(),
                sub: Some("usr-42".into()),
                credential: Some("cre-9".into()),
            }
        );
    }

    #[test]
    fn sub_and_credential_are_optional() {
        let data = SignedPasskeyData::parse(jwt(r#"{"webauthnId":"user-7","sub":5}"#)).unwrap();
        assert_eq!(data.claims().sub, None);
        assert_eq!(data.claims().credential, None);
    }

    #[test]
    fn rejects_what_is_not_a_three_part_base64url_jwt() {
        for bad in [
            "", "abc", "a.b", "a.b.c.d", "a..c", "a.b.", "a.b+/.c", "a.%%%.c", "a.b.c d",
        ] {
            assert_eq!(
                SignedPasskeyData::parse(bad.into()).unwrap_err(),
                SignedDataError::NotAJwt,
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_payloads_without_a_webauthn_id() {
        let cases = [
            ("[1,2]", SignedDataError::PayloadNotJson),
            ("not json", SignedDataError::PayloadNotJson),
            (r#"{"sub":"usr-1"}"#, SignedDataError::NoWebauthnId),
            (r#"{"webauthnId":""}"#, SignedDataError::NoWebauthnId),
            (r#"{"webauthnId":42}"#, SignedDataError::NoWebauthnId),
            (r#"{"webauthnId":null}"#, SignedDataError::NoWebauthnId),
        ];
        for (payload, expected) in cases {
            assert_eq!(
                SignedPasskeyData::parse(jwt(payload)).unwrap_err(),
                expected,
                "{payload}"
            );
        }
    }

    #[test]
    fn debug_prints_claims_but_not_the_jwt() {
        let raw = jwt(r#"{"webauthnId":"user-7"}"#);
        let data = SignedPasskeyData::parse(raw.clone()).unwrap();
        let printed = format!("{data:?}");
        assert!(printed.contains("user-7"));
        assert!(!printed.contains(&raw[..20]));
    }
}
