//! What can go wrong in the store, in the directory's own terms: the server turns these
//! into SCIM errors and ETags, the admin API into its JSON errors.

use std::sync::Arc;

use splashsync_scim::ScimError;

use crate::model::GroupConflict;

/// Store failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another user has this userName (compared case-insensitively).
    #[error("userName {0:?} already exists (userName is case-insensitive)")]
    UserNameTaken(String),
    /// Another group has this displayName (compared case-insensitively).
    #[error("a group with displayName {0:?} already exists (displayName is case-insensitive)")]
    GroupNameTaken(String),
    /// A dead letter was already replayed or discarded.
    #[error("dead letter {id} is already {state}")]
    AlreadyResolved {
        /// The dead letter.
        id: i64,
        /// `replayed` or `discarded`.
        state: String,
    },
    /// An incident was already resolved or discarded.
    #[error("incident {id} is already {state}")]
    IncidentClosed {
        /// The incident.
        id: i64,
        /// `resolved` or `discarded`.
        state: String,
    },
    /// No such resource (named, e.g. `User "42"` or `dead letter 7`).
    #[error("{0} not found")]
    NotFound(String),
    /// `If-Match` named another version.
    #[error("version mismatch: the resource is at version {current}")]
    PreconditionFailed {
        /// The current version.
        current: i64,
    },
    /// The caller's edit refused the change; its error is passed back untouched.
    #[error("{0}")]
    Rejected(ScimError),
    /// A group member names no user of the directory. No group write returns it any
    /// more (such a member is kept, unresolved); the server still maps it.
    #[error("member {0:?} is not a user of this directory")]
    UnknownMember(String),
    /// A user would join a second group under the `reject` policy (the text says which).
    #[error("{1}")]
    GroupConflict(Box<GroupConflict>, String),
    /// A dead letter cannot be replayed (the text says why and what to do).
    #[error("{0}")]
    Unreplayable(String),
    /// The database chose this request as the loser of a conflict with a concurrent one
    /// (PostgreSQL's deadlock `40P01` or serialization failure `40001`): nothing was
    /// applied, and the same request sent again succeeds once the other one is through.
    #[error("the database refused a write that conflicted with a concurrent one; retry it")]
    Contention,
    /// The database failed; the write was not applied.
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    /// The writer has stopped (shutting down).
    #[error("the store is shutting down")]
    Closed,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_contention(&e) {
            tracing::warn!(error = %e, "write lost a conflict with a concurrent one; the client is told to retry");
            return StoreError::Contention;
        }
        StoreError::Database(Arc::new(e))
    }
}

/// PostgreSQL's SQLSTATEs for "your transaction lost a conflict, retry it".
const CONTENTION_CODES: [&str; 2] = ["40P01", "40001"];

/// Whether `e` is a deadlock or serialization failure the database rolled back.
pub fn is_contention(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| CONTENTION_CODES.contains(&code.as_ref()))
}
