//! The sessions table as a repository: create, read and end sessions. Whether a stored
//! session is live is [`super::policy`]'s to say.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::model::{NewSession, Session, UserSession};
use super::schema::{attr, session_from_item, session_item, user_index, user_session_from_item};
use super::token::{RandomUnavailable, SessionToken};
use super::{now_epoch_seconds, policy};
use crate::deadline::{Deadline, DeadlinePassed};
use crate::upstream::retry::RetryPolicy;

/// How many deletes of one "log out everywhere" are in flight at once.
const REVOKE_CONCURRENCY: usize = 10;
/// Rounds of retries for the deletes that failed.
const REVOKE_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_backoff: Duration::from_millis(50),
};

/// Condition of every session write: never overwrite an item.
const KEY_UNUSED: &str = "attribute_not_exists(#key)";

/// Why DynamoDB cancels a transaction that a later attempt may well commit. A cancelled
/// transaction wrote nothing, and the SDK does not retry these.
const TRANSIENT_CANCELLATIONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];
const TRANSACTION_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_backoff: Duration::from_millis(25),
};
/// No retry of a transaction starts later than this after the first attempt.
const TRANSACTION_BUDGET: Duration = Duration::from_secs(2);

/// What a session write leaves for reading the key back when the write's outcome is
/// unknown: one attempt of the SDK's ([`crate::upstream::aws_sdk_config`]).
const READ_BACK_RESERVE: Duration = Duration::from_millis(1500);
/// How long [`SessionStore::create`] may take, for callers without a request deadline.
const CREATE_BUDGET: Duration = Duration::from_secs(5);

/// What kind of failure a call to the sessions table met: what an operator does next
/// differs for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// DynamoDB throttled the call (throughput or request limits).
    Throttled,
    /// The role or the credentials do not allow the call.
    Denied,
    /// No answer: no connection, or the call timed out.
    Unreachable,
    /// A transaction conflicted with another write to the same item.
    Conflict,
    /// The table or its index does not exist.
    Missing,
    /// Anything else DynamoDB answered, or a request the SDK could not build.
    Other,
}

/// A failed call to the sessions table, with the SDK's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} failed ({kind:?})")]
pub struct StoreError {
    pub operation: &'static str,
    pub kind: StoreErrorKind,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let kind = match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => StoreErrorKind::Unreachable,
            SdkError::ServiceError(service) => match service.err().code() {
                Some(
                    "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded",
                ) => StoreErrorKind::Throttled,
                Some(
                    "AccessDeniedException"
                    | "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "MissingAuthenticationTokenException"
                    | "ExpiredTokenException",
                ) => StoreErrorKind::Denied,
                Some("ResourceNotFoundException") => StoreErrorKind::Missing,
                Some("TransactionConflictException" | "TransactionCanceledException") => {
                    StoreErrorKind::Conflict
                }
                _ => StoreErrorKind::Other,
            },
            _ => StoreErrorKind::Other,
        };
        Self {
            operation,
            kind,
            source: Box::new(err),
        }
    }

    pub(crate) fn build(operation: &'static str, err: aws_sdk_dynamodb::error::BuildError) -> Self {
        Self {
            operation,
            kind: StoreErrorKind::Other,
            source: Box::new(err),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a session item is malformed: {0}")]
    Corrupt(&'static str),
    #[error("a session with this key exists already")]
    Collision,
    #[error("the sessions table did not answer before the request's deadline")]
    DeadlinePassed(#[from] DeadlinePassed),
    #[error("ended {revoked} sessions, but {remaining} are still alive after retries")]
    PartlyRevoked {
        revoked: usize,
        remaining: usize,
        #[source]
        last_error: Box<SessionError>,
    },
}

impl SessionError {
    /// The kind of store failure behind this error, if one is.
    pub fn store_kind(&self) -> Option<StoreErrorKind> {
        match self {
            Self::Store(err) => Some(err.kind),
            Self::PartlyRevoked { last_error, .. } => last_error.store_kind(),
            _ => None,
        }
    }
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
        let item = session_item(token.key(), &session);
        let write = deadline.leaving(READ_BACK_RESERVE);
        let written = match previous {
            None => write.run(self.put(item)).await,
            Some(previous) => write.run(self.put_replacing(item, previous, write)).await,
        };
        match written.unwrap_or_else(|passed| Err(passed.into())) {
            Ok(()) => Ok((token, session)),
            // A write whose reply was lost is retried by the SDK, and the retry then fails
            // its condition on the item the first attempt wrote; a timeout may also hide a
            // write that landed. The key hashes a token made for this call, so finding it
            // holding this session means the write committed (and, in a transaction, the
            // delete with it): the login stands.
            Err(err) => match deadline.run(self.holds(&token, &session)).await {
                Ok(Ok(true)) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&err), "session write reported failure but had committed");
                    Ok((token, session))
                }
                Ok(Ok(false) | Err(_)) | Err(_) => Err(err),
            },
        }
    }

    /// The conditional put of a new session.
    async fn put(&self, item: HashMap<String, AttributeValue>) -> Result<(), SessionError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(KEY_UNUSED)
            .expression_attribute_names("#key", attr::KEY)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se))
                if matches!(se.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(SessionError::Collision)
            }
            Err(err) => Err(StoreError::from_sdk("PutItem", err).into()),
        }
    }

    /// The conditional put and the delete of `previous`, in one transaction, retried while
    /// DynamoDB cancels it for reasons a later attempt may not meet.
    async fn put_replacing(
        &self,
        item: HashMap<String, AttributeValue>,
        previous: &SessionToken,
        until: Deadline,
    ) -> Result<(), SessionError> {
        let build = |e| StoreError::build("TransactWriteItems", e);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(KEY_UNUSED)
            .expression_attribute_names("#key", attr::KEY)
            .build()
            .map_err(build)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(previous.key().to_owned()))
            .build()
            .map_err(build)?;
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build());
        let outcome = TRANSACTION_RETRY
            .run(
                until.within(TRANSACTION_BUDGET),
                || transaction.clone().send(),
                |err| {
                    let reasons = cancellation_reasons(err);
                    let transient = reasons.iter().any(|r| TRANSIENT_CANCELLATIONS.contains(r));
                    if transient {
                        tracing::warn!(reasons = ?reasons, "session transaction cancelled");
                    }
                    transient
                },
            )
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(err) if cancellation_reasons(&err).first() == Some(&"ConditionalCheckFailed") => {
                Err(SessionError::Collision)
            }
            Err(err) => Err(StoreError::from_sdk("TransactWriteItems", err).into()),
        }
    }

    /// Whether the table holds `session` under `token`.
    async fn holds(&self, token: &SessionToken, session: &Session) -> Result<bool, SessionError> {
        let key = |s: &Session| (s.user_id.clone(), s.created_at, s.expires_at);
        Ok(self
            .get(token)
            .await?
            .is_some_and(|stored| key(&stored) == key(session)))
    }

    /// The session stored under `token`, live or not (a consistent read).
    pub async fn get(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(token.key().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        output.item.as_ref().map(session_from_item).transpose()
    }

    /// The live session for `token`, as [`policy::is_live`] judges it now: DynamoDB's TTL
    /// deletes expired items late, sometimes days late.
    pub async fn find(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
        let now = now_epoch_seconds();
        Ok(self
            .get(token)
            .await?
            .filter(|s| policy::is_live(s.expires_at, now)))
    }

    /// Deletes the session; returns the user id of the session it ended, if one existed.
    pub async fn revoke(&self, token: &SessionToken) -> Result<Option<String>, SessionError> {
        self.delete_key(token.key()).await
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
        sessions.retain(|s| policy::is_live(s.expires_at, now));
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    /// Ends every session of the user (expired ones too, which TTL has not removed yet)
    /// and returns how many were live at `now`. The deletes run a few at a time; those
    /// that fail are retried while a retry can start before `deadline`, and if any session
    /// is still there after that, the error says how many, so no caller reports success
    /// while sessions remain.
    ///
    /// One `DeleteItem` per session rather than `BatchWriteItem`: IAM cannot limit
    /// `BatchWriteItem` to deletes, and the function that logs users out must not be able
    /// to write sessions.
    pub async fn revoke_all_for_user(
        &self,
        user_id: &str,
        now: u64,
        deadline: Deadline,
    ) -> Result<usize, SessionError> {
        use futures_util::stream::{self, StreamExt};

        let mut pending: Vec<(String, bool)> = Vec::new();
        for item in self.query_user(user_id).await? {
            let session = user_session_from_item(&item)?;
            let live = policy::is_live(session.expires_at, now);
            pending.push((session.key, live));
        }
        let mut revoked = 0;
        let mut rounds = REVOKE_RETRY.attempts(deadline);
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
            let Some(pause) = rounds.next_pause() else {
                return Err(SessionError::PartlyRevoked {
                    revoked,
                    remaining: pending.len(),
                    last_error: Box::new(last_error),
                });
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Every item of the user in the index, page by page.
    async fn query_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, SessionError> {
        Ok(self
            .client
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
            .map_err(|e| StoreError::from_sdk("Query", e))?)
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
            .map_err(|e| StoreError::from_sdk("DeleteItem", e))?;
        Ok(output
            .attributes
            .filter(|a| !a.is_empty())
            .map(|a| super::schema::item_string(&a, attr::USER_ID).unwrap_or_default()))
    }
}

/// The reasons DynamoDB gives for cancelling a transaction, one per item.
fn cancellation_reasons<R>(err: &SdkError<TransactWriteItemsError, R>) -> Vec<&str> {
    match err {
        SdkError::ServiceError(se) => match se.err() {
            TransactWriteItemsError::TransactionCanceledException(c) => c
                .cancellation_reasons()
                .iter()
                .filter_map(|r| r.code())
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
