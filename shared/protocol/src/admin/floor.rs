//! `GET /admin/floor`: what the directory knows of one job key, so that a worker whose
//! Redis state was lost (a flush, a failover to a replica that missed the last writes)
//! never applies a job older than one already applied (docs/DESIGN.md, "Redis: what the
//! workers share, and what losing it does").

use serde::{Deserialize, Serialize};

/// The query: a job key and, for user jobs, the Splashtop account the job acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FloorQuery {
    /// The job key (`{tenant}/user/{id}`, `{tenant}/group/{id}`, or a retirement key).
    pub key: String,
    /// The account's email (a user job's route), whose current holder is wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// The answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyFloor {
    /// The key's newest version the directory wrote a job for (applied or not); `None`
    /// when the directory never wrote one. Every job of the key below it is superseded
    /// by that newer job, which is applied, waiting, or dead-lettered for an operator.
    pub version: Option<i64>,
    /// The SCIM id of the user whose userName is the account now, if any: a job of
    /// another user on that account is from an earlier holder.
    pub holder: Option<String>,
}
