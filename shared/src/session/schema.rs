//! The sessions table: its attributes, its user index, how a session is written to an
//! item and read from one, and the table itself for local stacks and tests. The SAM
//! template declares the same (`tests/tests/it/deployment_template.rs` compares them).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::model::{Session, UserSession};
use super::store::{SessionError, StoreError};

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

/// The item of `session` stored under `key`. Empty optional strings are left out.
pub(crate) fn session_item(key: &str, session: &Session) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (attr::KEY.to_owned(), AttributeValue::S(key.to_owned())),
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
    item
}

pub(crate) fn session_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<Session, SessionError> {
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

pub(crate) fn user_session_from_item(
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

pub(crate) fn item_string(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn item_number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
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
    let build = |e| SessionError::from(StoreError::build("CreateTable", e));
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
        .map_err(|e| StoreError::from_sdk("CreateTable", e))?;
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
        .map_err(|e| StoreError::from_sdk("UpdateTimeToLive", e))?;
    Ok(())
}
