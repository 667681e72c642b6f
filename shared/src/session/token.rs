//! The session token: the bearer secret a client holds, and the key it is stored under.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;
/// Length of the unpadded base64url encoding of [`TOKEN_BYTES`].
const TOKEN_CHARS: usize = 43;
/// How many hex digits of the key name a session in logs and listings.
const REFERENCE_DIGITS: usize = 16;

/// The bearer secret of a session, and its table key. Only the key is ever stored or
/// logged (by its [`SessionToken::reference`]).
pub struct SessionToken {
    secret: SecretString,
    /// Computed once, when the token is made or read: every use of a token needs it.
    key: String,
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The operating system's random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomUnavailable(#[source] pub getrandom::Error);

impl SessionToken {
    /// 32 bytes from the OS CSPRNG, base64url without padding.
    pub fn generate() -> Result<Self, RandomUnavailable> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(RandomUnavailable)?;
        Ok(Self::new(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A value that cannot be a token we issued is rejected without a table read.
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == TOKEN_CHARS
            && URL_SAFE_NO_PAD
                .decode(value)
                .is_ok_and(|b| b.len() == TOKEN_BYTES);
        well_formed.then(|| Self::new(value.to_owned()))
    }

    fn new(token: String) -> Self {
        let key = hex(&Sha256::digest(token.as_bytes()));
        Self {
            secret: token.into(),
            key,
        }
    }

    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The table key: the lower-case hex SHA-256 of the token's text, so a dump of the
    /// table grants no session.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What logs name the session by: the key's first 16 hex digits, which open nothing
    /// and tell sessions apart (`connect-session list` shows the same).
    pub fn reference(&self) -> &str {
        session_reference(&self.key)
    }
}

/// The first 16 hex digits of a session key: [`SessionToken::reference`].
pub fn session_reference(key: &str) -> &str {
    key.get(..REFERENCE_DIGITS).unwrap_or(key)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_43_url_safe_characters_and_unique() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.expose(), b.expose());
        let read = SessionToken::parse(a.expose()).unwrap();
        assert_eq!(read.key(), a.key());
    }

    #[test]
    fn the_key_is_the_hex_sha256_of_the_token() {
        let token = SessionToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        // Computed independently: `printf %s AAA…A | sha256sum` (43 × A).
        assert_eq!(
            token.key(),
            "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"
        );
        assert_eq!(token.reference(), "0f007385b6f9d4b7");
        assert!(!token.key().contains(token.expose()));
    }

    #[test]
    fn values_that_cannot_be_our_tokens_are_rejected() {
        for bad in [
            "",
            "short",
            &"A".repeat(42),
            &"A".repeat(44),
            &format!("{}+", "A".repeat(42)),
        ] {
            assert!(SessionToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_prints_nothing_of_the_token() {
        let token = SessionToken::generate().unwrap();
        assert_eq!(format!("{token:?}"), "SessionToken(<redacted>)");
    }
}
