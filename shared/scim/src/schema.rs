//! Schema and message URNs, and the schema definitions (RFC 7643 §7) of the
//! resources splashsync serves.
//!
//! Files: `schema.rs` (URNs), `schema/defs.rs` (the typed definitions, their
//! RFC 7643 §7 rendering and lookups), `schema/resource.rs` (which schemas a
//! User or Group has, and resolving an attribute path against them) and the
//! data files in `schema/data/`:
//!
//! - `user.json`, `group.json`, `enterprise_user.json`: RFC 7643 §8.7.1 as
//!   published (every characteristic and description as the RFC gives it,
//!   its `meta` left out: the caller adds `meta` with its own base URL).
//!   Errata to §8.7.1 (among them the verified EIDs 5368, 8471 and 8472:
//!   Group `displayName` required, `groups.$ref` referencing only Groups,
//!   `manager.value` case-exact) are not applied to the data; where
//!   splashsync depends on one of those points (a Group needs a
//!   `displayName`) the receiver enforces it in code.
//! - `splashtop_user.json`: [`SPLASHTOP_USER`], carrying `ssoName`.
//! - `provisioning.json`: [`PROVISIONING`], read-only and `returned: request`.
//! - `common.json`: `schemas`, `id`, `externalId` and `meta` (RFC 7643 §3,
//!   §3.1), which no schema representation lists but every resource has.
//! - `multi_valued_defaults.json`: the default sub-attributes of
//!   multi-valued attributes (RFC 7643 §2.4: `type`, `primary`, `display`,
//!   `value`, `$ref`), accepted where an attribute does not define them (the
//!   RFC's Group `members` has no `display`, yet Okta sends one).
//!
//! The last two are only used for resolution, never rendered.

mod defs;
mod resource;
#[cfg(test)]
mod tests;

pub use defs::{
    all, attribute, schema, AttrType, AttributeDef, Mutability, Returned, SchemaDef, Uniqueness,
};
pub use resource::{Resource, Target};

/// Core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Splashtop's User extension, carrying `ssoName`.
pub const SPLASHTOP_USER: &str = "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User";
/// splashsync's read-only provisioning extension of Users and Groups.
pub const PROVISIONING: &str = "urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning";
/// The schema of schema representations (RFC 7643 §7).
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// ListResponse message.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// PatchOp message.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
