//! What a session is: who it is for, and its times.

/// What the caller knows about the user when a session is opened.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// The application's own user id (for passkey logins: the JWT's `webauthnId`).
    pub user_id: String,
    pub display_name: Option<String>,
    pub corbado_user_id: Option<String>,
    pub credential_id: Option<String>,
}

/// A stored session. Whether it is still live is the policy's to say
/// ([`super::policy::is_live`]): DynamoDB's TTL removes expired items late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub display_name: Option<String>,
    /// Epoch seconds.
    pub created_at: u64,
    /// Epoch seconds; the table's TTL attribute.
    pub expires_at: u64,
    pub corbado_user_id: Option<String>,
    pub credential_id: Option<String>,
}

impl Session {
    /// The name Corbado shows for the user's passkeys: the display name, or the user id when none is known.
    pub fn display_name_or_user_id(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.user_id)
    }
}

/// One of a user's sessions as the user index shows it: never its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// The table key: the token's SHA-256, which opens nothing. Its first characters tell
    /// sessions apart in a listing ([`super::session_reference`]).
    pub key: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub credential_id: Option<String>,
}
