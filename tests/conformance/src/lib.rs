//! Third-party SCIM conformance suites run against a real splashsync receiver, with every
//! assertion the receiver fails classified: the suite's own opinion (a deviation from
//! RFC 7643/7644) or a defect of ours still open. `docs/conformance.md` explains each one.
//!
//! # Layout
//! - [`receiver`]: starts a receiver in-process (port 0, its own SQLite file and AMQP
//!   prefix) and deletes its queues and exchanges afterwards, also when a test panics.
//! - [`collection`]: prepares a Postman collection for a run: drops folders, gives every
//!   request a readable label.
//! - [`newman`]: finds newman 6 and runs a prepared collection into a JSON report.
//! - [`outcome`]: reads a newman report into one outcome per assertion and compares the
//!   failures with the expected ones.
//! - [`expected`]: the classified failures of Microsoft's collection.

pub mod collection;
pub mod expected;
pub mod newman;
pub mod outcome;
pub mod receiver;

use std::path::PathBuf;

/// `tests/conformance/microsoft`: Microsoft's collection, its licence and its source.
pub fn microsoft_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("microsoft")
}

/// `docs/conformance.md`, the human account of what the suites say about splashsync.
pub fn conformance_doc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/conformance.md")
}
