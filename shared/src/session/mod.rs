//! Sessions: opaque random tokens handed to the client, stored in DynamoDB by their
//! SHA-256 only. No HTTP and no Corbado here: the functions and your own Rust code use
//! the same model, rules and store.
//!
//! - [`token`]: the token and its table key;
//! - [`model`]: what a session holds;
//! - [`policy`]: the rules (which credential a request presents, whether a session is live);
//! - [`store`]: the sessions table as a repository;
//! - [`schema`]: the table's attributes, index and item format.

pub mod model;
pub mod policy;
pub mod schema;
pub mod store;
pub mod token;

use std::time::{SystemTime, UNIX_EPOCH};

pub use model::{NewSession, Session, UserSession};
pub use schema::{attr, create_table, user_index};
pub use store::{SessionError, SessionStore, StoreError, StoreErrorKind};
pub use token::{session_reference, RandomUnavailable, SessionToken};

/// The time as the session rules read it: whole seconds since the epoch.
pub fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
