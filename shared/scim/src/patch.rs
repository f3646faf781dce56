//! SCIM 2.0 PATCH (RFC 7644 §3.5.2): request parsing and atomic application
//! to a JSON resource, including the Okta and Entra ID quirks.
//!
//! Files: `patch.rs` (types, parsing, rules), `patch/apply.rs` (`add` and
//! `replace`), `patch/remove.rs` (`remove`), `patch/target.rs` (known paths,
//! mutability guards, containers), `patch/values.rs` (value helpers), `patch/rules.rs`
//! ([`SchemaRules`]: the rules read from the schema definitions) and
//! `patch/tests.rs`, `patch/schema_tests.rs`.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, AttrSchema, DefaultSchema, Filter};

mod apply;
mod remove;
mod rules;
#[cfg(test)]
mod schema_tests;
mod target;
#[cfg(test)]
mod tests;
mod values;

pub use apply::apply;
pub use rules::SchemaRules;

/// The message schema URN a PATCH body must list in `schemas`.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// A parsed PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, in order.
    pub operations: Vec<PatchOp>,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` means the resource itself (add/replace only).
    pub path: Option<PatchPath>,
    /// The value; required for add and replace, optional for remove.
    pub value: Option<Value>,
}

/// The kind of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Replace => "replace",
        })
    }
}

/// A PATCH target: `attr`, `attr.sub`, `urn:...:attr`, `attr[filter]` or
/// `attr[filter].sub` (the sub-attribute after `]` is in `attr.sub`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (and sub-attribute) targeted.
    pub attr: AttrPath,
    /// The value filter selecting values of a multi-valued attribute.
    pub filter: Option<Filter>,
}

impl PatchPath {
    /// Parses a PATCH path.
    pub fn parse(input: &str) -> Result<Self, PatchError> {
        let (attr, filter) = filter::parse_path(input).map_err(|e| {
            let detail = format!("invalid path '{input}': {e}");
            // Errors past the '[' are in the value filter.
            match input.chars().position(|c| c == '[') {
                Some(open) if e.position > open => PatchError::InvalidFilter(detail),
                _ => PatchError::InvalidPath(detail),
            }
        })?;
        Ok(Self { attr, filter })
    }
}

impl FromStr for PatchPath {
    type Err = PatchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(filter) = &self.filter else {
            return write!(f, "{}", self.attr);
        };
        if let Some(urn) = &self.attr.urn {
            write!(f, "{urn}:")?;
        }
        write!(f, "{}[{filter}]", self.attr.name)?;
        if let Some(sub) = &self.attr.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Why a PATCH was rejected: [`PatchError::scim_type`] gives the SCIM
/// `scimType` and `Display` the human-readable `detail` (all are HTTP 400,
/// RFC 7644 §3.12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not a valid PatchOp message (`invalidSyntax`).
    #[error("{0}")]
    InvalidSyntax(String),
    /// A path is malformed or unusable (`invalidPath`).
    #[error("{0}")]
    InvalidPath(String),
    /// A path or filter selected nothing where something was required (`noTarget`).
    #[error("{0}")]
    NoTarget(String),
    /// A value is unusable, or too many operations (`invalidValue`).
    #[error("{0}")]
    InvalidValue(String),
    /// The operation would modify a read-only or immutable attribute (`mutability`).
    #[error("{0}")]
    Mutability(String),
    /// A value filter is invalid (`invalidFilter`).
    #[error("{0}")]
    InvalidFilter(String),
}

impl PatchError {
    /// The SCIM `scimType` for this error.
    pub fn scim_type(&self) -> &'static str {
        match self {
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::InvalidValue(_) => "invalidValue",
            Self::Mutability(_) => "mutability",
            Self::InvalidFilter(_) => "invalidFilter",
        }
    }

    /// The human-readable detail (same as `Display`).
    pub fn detail(&self) -> &str {
        match self {
            Self::InvalidSyntax(d)
            | Self::InvalidPath(d)
            | Self::NoTarget(d)
            | Self::InvalidValue(d)
            | Self::Mutability(d)
            | Self::InvalidFilter(d) => d,
        }
    }

    /// The same error with its detail rewritten by `f`.
    fn map_detail(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Self::InvalidSyntax(d) => Self::InvalidSyntax(f(d)),
            Self::InvalidPath(d) => Self::InvalidPath(f(d)),
            Self::NoTarget(d) => Self::NoTarget(f(d)),
            Self::InvalidValue(d) => Self::InvalidValue(f(d)),
            Self::Mutability(d) => Self::Mutability(f(d)),
            Self::InvalidFilter(d) => Self::InvalidFilter(f(d)),
        }
    }
}

/// Schema rules PATCH needs; every method has a default (see [`DefaultRules`]).
pub trait PatchRules {
    /// Whether `path` names an attribute (or a schema) of the resource. Any
    /// other target is `invalidPath` (RFC 7644 §3.5.2: "Each operation against
    /// an attribute MUST be compatible with the attribute's mutability and
    /// schema ... An operation that is not compatible with an attribute's
    /// mutability or schema SHALL return the appropriate HTTP response status
    /// code and a JSON detail error response as defined in Section 3.12").
    /// Asked for every operation's path, every key of a path-less value (with
    /// its extension's URN when inside an extension object) and every
    /// attribute a value filter names (as `attr.sub`). Default: every path.
    fn knows(&self, path: &AttrPath) -> bool {
        let _ = path;
        true
    }

    /// Whether the attribute is boolean, so that `"True"`/`"false"` strings
    /// are stored as JSON booleans. Default: `active` and any `*.primary`.
    fn is_boolean(&self, path: &AttrPath) -> bool {
        path.is("active", None)
            || path
                .sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("primary"))
    }

    /// Whether the attribute is read-only (any change is a `mutability`
    /// error). Default: core `id` and `meta` (with any sub-attribute).
    fn is_read_only(&self, path: &AttrPath) -> bool {
        path.extension_urn().is_none()
            && (path.name.eq_ignore_ascii_case("id") || path.name.eq_ignore_ascii_case("meta"))
    }

    /// Whether the attribute is immutable: once it has a value, an operation
    /// changing it (compared case-sensitively) is a `mutability` error.
    /// Called with the top-level attribute path. Default: none.
    fn is_immutable(&self, path: &AttrPath) -> bool {
        let _ = path;
        false
    }

    /// Whether `path` (a top-level attribute) references resources by id, so
    /// that a bare string `"id"` given where one of its values is expected
    /// is read as `{"value": "id"}` (`"members": ["id"]`, Entra's
    /// `"value": "id"` for the enterprise `manager`). Default: `members`,
    /// `groups` and `manager`.
    fn is_reference(&self, path: &AttrPath) -> bool {
        path.sub.is_none()
            && ["members", "groups", "manager"]
                .iter()
                .any(|n| path.name.eq_ignore_ascii_case(n))
    }

    /// Whether string matching in value filters (`members[value eq ".."]`)
    /// is case-exact. Default: [`DefaultSchema`].
    fn case_exact(&self, path: &AttrPath) -> bool {
        DefaultSchema.case_exact(path)
    }
}

/// The default [`PatchRules`] (RFC 7643 User/Group defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultRules;

impl PatchRules for DefaultRules {}

/// Parses a PATCH request body (`schemas` must list [`PATCH_OP_URN`];
/// `Operations` must hold 1 to [`MAX_OPERATIONS`] operations).
pub fn parse_patch(body: &Value) -> Result<PatchRequest, PatchError> {
    let obj = body
        .as_object()
        .ok_or_else(|| PatchError::InvalidSyntax("the PATCH body must be a JSON object".into()))?;
    let lists_patch_op = match get_ci(obj, "schemas") {
        Some(Value::Array(schemas)) => schemas.iter().any(is_patch_op_urn),
        Some(single) => is_patch_op_urn(single),
        None => false,
    };
    if !lists_patch_op {
        return Err(PatchError::InvalidSyntax(format!(
            "'schemas' must contain \"{PATCH_OP_URN}\""
        )));
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(PatchError::InvalidSyntax(
                "'Operations' must be a non-empty array".into(),
            ))
        }
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::InvalidValue(format!(
            "too many operations: {} (at most {MAX_OPERATIONS} per request)",
            ops.len()
        )));
    }
    let operations = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            parse_op(op).map_err(|e| e.map_detail(|d| format!("operation {}: {d}", i + 1)))
        })
        .collect::<Result<_, _>>()?;
    Ok(PatchRequest { operations })
}

fn is_patch_op_urn(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP_URN))
}

fn parse_op(v: &Value) -> Result<PatchOp, PatchError> {
    let obj = v
        .as_object()
        .ok_or_else(|| PatchError::InvalidSyntax("an operation must be a JSON object".into()))?;
    let op = match get_ci(obj, "op").and_then(Value::as_str).map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        _ => {
            return Err(PatchError::InvalidSyntax(
                "'op' must be \"add\", \"remove\" or \"replace\"".into(),
            ))
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s.trim())?),
        Some(_) => return Err(PatchError::InvalidPath("'path' must be a string".into())),
    };
    let value = get_ci(obj, "value").cloned();
    match (op, &path, &value) {
        (OpKind::Remove, None, _) => Err(PatchError::NoTarget("'remove' requires a 'path'".into())),
        (OpKind::Add | OpKind::Replace, _, None) => Err(PatchError::InvalidSyntax(format!(
            "'{op}' requires a 'value'"
        ))),
        _ => Ok(PatchOp { op, path, value }),
    }
}

/// Case-insensitive lookup of `key` in a JSON object (exact spelling first).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}
