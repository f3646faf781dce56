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
    /// The database failed; the write was not applied.
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    /// The writer has stopped (shutting down).
    #[error("the store is shutting down")]
    Closed,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(Arc::new(e))
    }
}
