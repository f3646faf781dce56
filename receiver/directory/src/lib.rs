//! splashsync's directory: the users, groups and memberships the SCIM side answers from,
//! the outbox of provisioning jobs written in the same transaction as each change
//! (docs/DESIGN.md, invariant 1), and the audit log operators read (docs/DESIGN.md,
//! invariant 7).
//!
//! The store only persists: it returns [`error::StoreError`]s in its own terms, and the
//! server maps them to SCIM errors and ETags.
//!
//! # Layout
//! - [`model`]: the records and the parameters of reads and writes.
//! - [`error`]: what can go wrong, in the directory's terms.
//! - [`limits`]: how much one request may ask of the single writer.
//! - [`policy`]: the one-group-per-user rule, as pure functions.
//! - [`plan`]: what a write means for Splashtop (desired states, jobs), as pure functions.
//! - [`provisioning`]: a key's provisioning state, resolved by one pure function.
//! - [`store`]: the [`store::Directory`] trait the SCIM side uses.
//! - `rows`: what both engines decode from a row (records, links, members, states).
//! - [`sqlite`]: the SQLite implementation (WAL, one writer with group commit, migrations).
//! - [`postgres`]: the PostgreSQL implementation, for several receivers on one database.
//! - [`query`]: list filters, sorts and pages translated into SQL for either engine.
//! - [`engine`]: opens the store a database URL names.
//! - [`reconcile`]: drift reconciliation: the directory's view, the pure comparison, the
//!   fixes through the outbox and the runs' reports.
//! - [`audit`]: outcome events, dead letters and provisioning states ([`audit::AuditStore`]).
//! - [`workers`]: the workers' last heartbeats ([`workers::WorkerStore`]).

pub mod audit;
pub mod engine;
pub mod error;
pub mod limits;
pub mod model;
pub mod plan;
pub mod policy;
pub mod postgres;
pub mod provisioning;
pub mod query;
pub mod reconcile;
pub(crate) mod rows;
pub mod sqlite;
pub mod store;
pub mod workers;

pub use error::StoreError;
pub use limits::{MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS};
pub use model::{GroupPolicy, WriteCtx};
pub use store::Directory;
