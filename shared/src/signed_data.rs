//! `signedPasskeyData`: the JWT a passkey login hands to the frontend.
//!
//! Its payload is decoded here only to learn whom Corbado should verify it for;
//! nothing in it is trusted until Corbado answers `success`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Visitor};
use serde::Deserialize;

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

        // Only a JSON object is a JWT payload (serde would also fill the struct from an array).
        if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(SignedDataError::PayloadNotJson);
        }
        let payload: Payload =
            serde_json::from_slice(&payload).map_err(|_| SignedDataError::PayloadNotJson)?;
        let claims = UnverifiedClaims {
            webauthn_id: payload.webauthn_id.0.ok_or(SignedDataError::NoWebauthnId)?,
            sub: payload.sub.0,
            credential: payload.credential.0,
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

/// The claims we read; every other claim is skipped without being kept.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "webauthnId", default)]
    webauthn_id: Text,
    #[serde(default)]
    sub: Text,
    #[serde(default)]
    credential: Text,
}

/// A claim that counts only as a non-empty string; any other JSON value reads as absent.
#[derive(Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text((!v.is_empty()).then(|| v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text((!v.is_empty()).then_some(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Text(None))
            }
        }

        deserializer.deserialize_any(TextVisitor)
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
