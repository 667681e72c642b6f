//! Sessions: opaque random tokens handed to the client, stored in DynamoDB by their SHA-256 only.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::deadline::Deadline;

/// Attribute names of the sessions table. The SAM template's key schema and
/// TTL attribute must use the same names.
pub mod attr {
    /// Partition key (S): hex SHA-256 of the session token.
    pub const KEY: &str = "sessionKey";
    pub const USER_ID: &str = "userId";
    pub const DISPLAY_NAME: &str = "displayName";
    /// Epoch seconds (N).
    pub const CREATED_AT: &str = "createdAt";
    /// Epoch seconds (N); the table's TTL attribute.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// Corbado's own user id (`usr-…`), kept for audit.
    pub const CORBADO_USER_ID: &str = "corbadoUserId";
    /// Corbado credential id (`cre-…`) of the passkey that opened the session.
    pub const CREDENTIAL_ID: &str = "credentialId";
}

/// The global secondary index on [`attr::USER_ID`]: a user's sessions, for "log out
/// everywhere" and the CLI. It projects the key and what a listing shows, nothing more
/// (the SAM template declares the same).
pub mod user_index {
    pub const NAME: &str = "userId-index";
    pub const PROJECTED: [&str; 3] = [
        super::attr::CREATED_AT,
        super::attr::EXPIRES_AT,
        super::attr::CREDENTIAL_ID,
    ];
}

/// How many deletes of one "log out everywhere" are in flight at once.
const REVOKE_CONCURRENCY: usize = 10;
/// Rounds of retries for deletes that failed; each waits a full-jitter backoff.
const REVOKE_RETRIES: u32 = 3;
const REVOKE_BACKOFF: Duration = Duration::from_millis(50);

/// Condition of every session write: never overwrite an item.
const KEY_UNUSED: &str = "attribute_not_exists(#key)";

/// Why DynamoDB cancels a transaction that a later attempt may well commit.
const TRANSIENT_CANCELLATIONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];
const TRANSACTION_RETRIES: u32 = 3;
/// Retry n waits up to this times 2^n (full jitter).
const TRANSACTION_BACKOFF: Duration = Duration::from_millis(25);
/// No retry starts later than this after the first attempt; with the SDK's 3 s operation
/// timeout a login stays well inside the function's own timeout.
const TRANSACTION_BUDGET: Duration = Duration::from_secs(2);

/// What a session write leaves for reading the key back when the write's outcome is
/// unknown: one attempt of the SDK's (`aws_sdk_config`).
const READ_BACK_RESERVE: Duration = Duration::from_millis(1500);
/// How long [`SessionStore::create`] may take, for callers without a request deadline.
const CREATE_BUDGET: Duration = Duration::from_secs(5);

const TOKEN_BYTES: usize = 32;
/// Length of the unpadded base64url encoding of [`TOKEN_BYTES`].
const TOKEN_CHARS: usize = 43;

/// The bearer secret of a session. Only its hash is ever stored or logged.
pub struct SessionToken(SecretString);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("DynamoDB request failed: {0}")]
    Store(String),
    #[error("a session item is malformed: {0}")]
    Corrupt(&'static str),
    #[error("a session with this key exists already")]
    Collision,
    #[error("the sessions table did not answer before the request's deadline")]
    DeadlinePassed(#[from] crate::deadline::DeadlinePassed),
    #[error(
        "ended {revoked} sessions, but {remaining} are still alive after retries: {last_error}"
    )]
    PartlyRevoked {
        revoked: usize,
        remaining: usize,
        last_error: String,
    },
}

impl SessionToken {
    /// 32 bytes from the OS CSPRNG, base64url without padding.
    pub fn generate() -> Result<Self, SessionError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(SessionError::Random)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes).into()))
    }

    /// A value that cannot be a token we issued is rejected without a table read.
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == TOKEN_CHARS
            && URL_SAFE_NO_PAD
                .decode(value)
                .is_ok_and(|b| b.len() == TOKEN_BYTES);
        well_formed.then(|| Self(value.to_owned().into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The table key: hex SHA-256 of the token, so a dump of the table grants no session.
    pub fn key(&self) -> String {
        Sha256::digest(self.expose().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// What logs name the session by: the key's first 16 hex digits, which open nothing
    /// and tell sessions apart (`connect-session list` shows the same).
    pub fn reference(&self) -> String {
        session_reference(&self.key()).to_owned()
    }
}

/// The first 16 hex digits of a session key: [`SessionToken::reference`].
pub fn session_reference(key: &str) -> &str {
    key.get(..16).unwrap_or(key)
}

/// What the caller knows about the user when a session is opened.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// The application's own user id (for passkey logins: the JWT's `webauthnId`).
    pub user_id: String,
    pub display_name: Option<String>,
    pub corbado_user_id: Option<String>,
    pub credential_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub display_name: Option<String>,
    pub created_at: u64,
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
    /// sessions apart in a listing.
    pub key: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub credential_id: Option<String>,
}

/// The sessions table. Cheap to clone; one per execution environment.
#[derive(Clone)]
pub struct SessionStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl: Duration,
}

impl SessionStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            ttl,
        }
    }

    pub fn from_config(
        client: aws_sdk_dynamodb::Client,
        config: &crate::config::SessionConfig,
    ) -> Self {
        Self::new(client, &config.sessions_table, config.session_ttl)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Writes a new session under a fresh token. The write is conditional on
    /// the key being unused, so no existing item is ever overwritten.
    pub async fn create(&self, new: NewSession) -> Result<(SessionToken, Session), SessionError> {
        self.create_replacing(new, None, Deadline::after(CREATE_BUDGET))
            .await
    }

    /// [`SessionStore::create`], and when `previous` is given, deletes that
    /// session in the same transaction: either both happen or neither, so a
    /// failed login never leaves the client without the session it had. Ends by
    /// `deadline`, the read-back of an ambiguous write included.
    pub async fn create_replacing(
        &self,
        new: NewSession,
        previous: Option<&SessionToken>,
        deadline: Deadline,
    ) -> Result<(SessionToken, Session), SessionError> {
        let token = SessionToken::generate()?;
        let created_at = now_epoch_seconds();
        let session = Session {
            user_id: new.user_id,
            display_name: new.display_name,
            created_at,
            expires_at: created_at + self.ttl.as_secs(),
            corbado_user_id: new.corbado_user_id,
            credential_id: new.credential_id,
        };
        let mut item = HashMap::from([
            (attr::KEY.to_owned(), AttributeValue::S(token.key())),
            (
                attr::USER_ID.to_owned(),
                AttributeValue::S(session.user_id.clone()),
            ),
            (
                attr::CREATED_AT.to_owned(),
                AttributeValue::N(session.created_at.to_string()),
            ),
            (
                attr::EXPIRES_AT.to_owned(),
                AttributeValue::N(session.expires_at.to_string()),
            ),
        ]);
        for (name, value) in [
            (attr::DISPLAY_NAME, &session.display_name),
            (attr::CORBADO_USER_ID, &session.corbado_user_id),
            (attr::CREDENTIAL_ID, &session.credential_id),
        ] {
            if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
                item.insert(name.to_owned(), AttributeValue::S(value.clone()));
            }
        }
        let written = deadline
            .leaving(READ_BACK_RESERVE)
            .run(self.write(item, previous))
            .await
            .unwrap_or_else(|passed| Err(passed.into()));
        match written {
            Ok(()) => Ok((token, session)),
            // A write whose reply was lost is retried by the SDK, and the retry then fails
            // its condition on the item the first attempt wrote; a timeout may also hide a
            // write that landed. The key hashes a token made for this call, so finding it
            // holding this session means the write committed (and, in a transaction, the
            // delete with it): the login stands.
            Err(err) => match deadline.run(self.holds(&token, &session)).await {
                Ok(Ok(true)) => {
                    tracing::warn!(error = %err, "session write reported failure but had committed");
                    Ok((token, session))
                }
                Ok(Ok(false) | Err(_)) | Err(_) => Err(err),
            },
        }
    }

    /// The conditional put, alone or with the delete of `previous` in one transaction.
    async fn write(
        &self,
        item: HashMap<String, AttributeValue>,
        previous: Option<&SessionToken>,
    ) -> Result<(), SessionError> {
        let Some(previous) = previous else {
            return self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(KEY_UNUSED)
                .expression_attribute_names("#key", attr::KEY)
                .send()
                .await
                .map(drop)
                .map_err(|e| match e {
                    SdkError::ServiceError(ref se)
                        if matches!(se.err(), PutItemError::ConditionalCheckFailedException(_)) =>
                    {
                        SessionError::Collision
                    }
                    other => store_error(other),
                });
        };
        let build = |e: aws_sdk_dynamodb::error::BuildError| SessionError::Store(e.to_string());
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(KEY_UNUSED)
            .expression_attribute_names("#key", attr::KEY)
            .build()
            .map_err(build)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(previous.key()))
            .build()
            .map_err(build)?;
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build());
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let error = match transaction.clone().send().await {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let reasons: Vec<&str> = match &error {
                SdkError::ServiceError(se) => match se.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => c
                        .cancellation_reasons()
                        .iter()
                        .filter_map(|r| r.code())
                        .collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            if reasons.first() == Some(&"ConditionalCheckFailed") {
                return Err(SessionError::Collision);
            }
            // A cancelled transaction wrote nothing, and the SDK does not retry these.
            let transient = reasons.iter().any(|r| TRANSIENT_CANCELLATIONS.contains(r));
            let pause = crate::backoff(TRANSACTION_BACKOFF, retries);
            if !transient
                || retries == TRANSACTION_RETRIES
                || started.elapsed() + pause > TRANSACTION_BUDGET
            {
                return Err(store_error(error));
            }
            retries += 1;
            tracing::warn!(retry = retries, reasons = ?reasons, "session transaction cancelled; retrying");
            tokio::time::sleep(pause).await;
        }
    }

    /// Whether the table holds `session` under `token`.
    async fn holds(&self, token: &SessionToken, session: &Session) -> Result<bool, SessionError> {
        let key = |s: &Session| (s.user_id.clone(), s.created_at, s.expires_at);
        Ok(self
            .stored(token)
            .await?
            .is_some_and(|stored| key(&stored) == key(session)))
    }

    /// The session stored under `token`, expired or not (a consistent read).
    async fn stored(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(token.key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.as_ref().map(session_from_item).transpose()
    }

    /// The live session for `token`. Expiry is checked here on every read:
    /// DynamoDB's TTL deletes expired items late, sometimes days late.
    pub async fn find(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
        let now = now_epoch_seconds();
        Ok(self.stored(token).await?.filter(|s| s.expires_at > now))
    }

    /// Deletes the session; returns the user id of the session it ended, if one existed.
    pub async fn revoke(&self, token: &SessionToken) -> Result<Option<String>, SessionError> {
        self.delete_key(&token.key()).await
    }

    /// The user's live sessions, oldest first, as the index holds them. The index is
    /// eventually consistent: a session opened in the last second may be missing.
    pub async fn find_for_user(&self, user_id: &str) -> Result<Vec<UserSession>, SessionError> {
        let now = now_epoch_seconds();
        let mut sessions: Vec<UserSession> = self
            .query_user(user_id)
            .await?
            .iter()
            .map(user_session_from_item)
            .collect::<Result<_, _>>()?;
        sessions.retain(|s| s.expires_at > now);
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    /// Ends every session of the user (expired ones too, which TTL has not removed yet)
    /// and returns how many were live. The deletes run a few at a time; those that fail
    /// are retried, and if any session is still there after that, the error says how
    /// many, so no caller reports success while sessions remain.
    ///
    /// One `DeleteItem` per session rather than `BatchWriteItem`: IAM cannot limit
    /// `BatchWriteItem` to deletes, and the function that logs users out must not be able
    /// to write sessions.
    pub async fn revoke_all_for_user(&self, user_id: &str) -> Result<usize, SessionError> {
        use futures_util::stream::{self, StreamExt};

        let now = now_epoch_seconds();
        let mut pending: Vec<(String, bool)> = Vec::new();
        for item in self.query_user(user_id).await? {
            let session = user_session_from_item(&item)?;
            pending.push((session.key, session.expires_at > now));
        }
        let mut revoked = 0;
        let mut retry = 0;
        loop {
            let outcomes: Vec<_> = stream::iter(pending)
                .map(|(key, live)| async move {
                    let deleted = self.delete_key(&key).await;
                    (key, live, deleted)
                })
                .buffer_unordered(REVOKE_CONCURRENCY)
                .collect()
                .await;
            let mut last_error = None;
            pending = Vec::new();
            for (key, live, deleted) in outcomes {
                match deleted {
                    Ok(existed) => revoked += usize::from(existed.is_some() && live),
                    Err(err) => {
                        last_error = Some(err);
                        pending.push((key, live));
                    }
                }
            }
            let Some(last_error) = last_error else {
                return Ok(revoked);
            };
            if retry == REVOKE_RETRIES {
                return Err(SessionError::PartlyRevoked {
                    revoked,
                    remaining: pending.len(),
                    last_error: last_error.to_string(),
                });
            }
            tokio::time::sleep(crate::backoff(REVOKE_BACKOFF, retry)).await;
            retry += 1;
        }
    }

    /// Every item of the user in the index, page by page.
    async fn query_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, SessionError> {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(user_index::NAME)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", attr::USER_ID)
            .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(store_error)
    }

    /// Deletes the session stored under `key`; returns its user id, if one existed.
    async fn delete_key(&self, key: &str) -> Result<Option<String>, SessionError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(key.to_owned()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output
            .attributes
            .filter(|a| !a.is_empty())
            .map(|a| item_string(&a, attr::USER_ID).unwrap_or_default()))
    }
}

/// Creates a sessions table with the schema [`SessionStore`] expects: the
/// deployment template declares the same, this is for local stacks and tests.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), SessionError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let build = |e: aws_sdk_dynamodb::error::BuildError| SessionError::Store(e.to_string());
    // Both keys, the table's and the index's, are strings and partition keys.
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build)
    };
    let partition_key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .map_err(build)
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(attr::KEY)?)
        .attribute_definitions(string_attribute(attr::USER_ID)?)
        .key_schema(partition_key(attr::KEY)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(user_index::NAME)
                .key_schema(partition_key(attr::USER_ID)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            user_index::PROJECTED.map(String::from).to_vec(),
                        ))
                        .build(),
                )
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(store_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(attr::EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(store_error)?;
    Ok(())
}

fn store_error<E, R>(err: SdkError<E, R>) -> SessionError
where
    E: std::error::Error + 'static,
    R: fmt::Debug,
{
    SessionError::Store(DisplayErrorContext(&err).to_string())
}

fn session_from_item(item: &HashMap<String, AttributeValue>) -> Result<Session, SessionError> {
    let string = |name| item_string(item, name);
    let number = |name| item_number(item, name);
    Ok(Session {
        user_id: string(attr::USER_ID).ok_or(SessionError::Corrupt("no userId"))?,
        display_name: string(attr::DISPLAY_NAME),
        created_at: number(attr::CREATED_AT).ok_or(SessionError::Corrupt("no createdAt"))?,
        expires_at: number(attr::EXPIRES_AT).ok_or(SessionError::Corrupt("no expiresAt"))?,
        corbado_user_id: string(attr::CORBADO_USER_ID),
        credential_id: string(attr::CREDENTIAL_ID),
    })
}

fn user_session_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<UserSession, SessionError> {
    let string = |name| item_string(item, name);
    let number = |name| item_number(item, name);
    Ok(UserSession {
        key: string(attr::KEY).ok_or(SessionError::Corrupt("no sessionKey"))?,
        created_at: number(attr::CREATED_AT).ok_or(SessionError::Corrupt("no createdAt"))?,
        expires_at: number(attr::EXPIRES_AT).ok_or(SessionError::Corrupt("no expiresAt"))?,
        credential_id: string(attr::CREDENTIAL_ID),
    })
}

fn item_string(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn item_number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
}

pub fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
        assert!(SessionToken::parse(a.expose()).is_some());
    }

    #[test]
    fn the_key_is_the_hex_sha256_of_the_token() {
        let token = SessionToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        // Computed independently: `printf %s AAA…A | sha256sum` (43 × A).
        assert_eq!(
            token.key(),
            "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"
        );
        assert_eq!(token.key().len(), 64);
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
