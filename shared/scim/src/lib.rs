//! SCIM 2.0 (RFC 7643 / RFC 7644) wire types and protocol code, apart from storage.
//!
//! # Layout
//! - [`error`]: the RFC 7644 §3.12 error body and its HTTP response.
//! - [`list`]: the ListResponse envelope and paging parameters.
//! - [`schema`]: schema and message URNs, and the schema definitions (RFC 7643 §7: the
//!   RFC's User, Group and Enterprise User, splashsync's Splashtop and Provisioning
//!   extensions) with path resolution against a resource type.
//! - [`filter`]: the filter grammar of RFC 7644 §3.4.2.2 as a typed AST, its printer and evaluator.
//! - [`validate`]: POST and PUT bodies checked against the schemas (types, harmless
//!   repairs, read-only and unknown attributes ignored).
//! - [`password`]: the User password stripped from bodies and PATCH requests in every form.
//! - [`patch`]: PATCH requests (RFC 7644 §3.5.2) parsed and applied atomically, with the
//!   Okta and Entra quirks; `SchemaRules` checks paths and mutability against the schemas.

pub mod error;
pub mod filter;
pub mod list;
pub mod password;
pub mod patch;
pub mod schema;
pub mod validate;

pub use error::{ScimError, ScimType};
pub use list::ListResponse;

/// The SCIM media type; `application/json` is accepted too.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The current time as RFC 3339 with millisecond precision, UTC.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
