//! [`SchemaRules`]: the PATCH rules of a resource type, read from its schema
//! definitions.

use super::{DefaultRules, PatchRules};
use crate::filter::{AttrPath, AttrSchema, DefaultSchema};
use crate::schema::{AttrType, Mutability, Resource, Target};

/// The [`PatchRules`] of a User or Group as its schemas define it:
///
/// - a path naming nothing the schemas define (core, common, the resource's
///   extensions, RFC 7643 §2.4 default sub-attributes) is `invalidPath`;
/// - `readOnly` attributes (`id`, `meta`, a User's `groups`,
///   `manager.displayName`, the provisioning extension) are `mutability`
///   errors, except an unchanged value in a path-less value (Okta);
/// - booleans are the attributes of type `boolean`;
/// - references ([`crate::schema::AttributeDef::is_reference`]) accept bare ids;
/// - `immutable` attributes, plus those named with [`Self::with_immutable`];
/// - filters are case-exact where [`DefaultSchema`] or the schema says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRules {
    resource: Resource,
    immutable: Vec<String>,
}

impl SchemaRules {
    /// The rules of `resource`.
    pub fn new(resource: Resource) -> Self {
        Self {
            resource,
            immutable: Vec::new(),
        }
    }

    /// These rules, with the core attribute `name` immutable as well (the
    /// receiver's `userName`: it is the Splashtop account).
    pub fn with_immutable(mut self, name: impl Into<String>) -> Self {
        self.immutable.push(name.into());
        self
    }

    /// The resource type.
    pub fn resource(&self) -> Resource {
        self.resource
    }

    fn resolve(&self, path: &AttrPath) -> Option<Target> {
        self.resource.resolve(path)
    }
}

impl PatchRules for SchemaRules {
    fn knows(&self, path: &AttrPath) -> bool {
        self.resolve(path).is_some()
    }

    fn is_boolean(&self, path: &AttrPath) -> bool {
        // Keys inside values are not paths: one the schemas do not define
        // (pruned later) gets the default heuristic.
        match self.resolve(path).and_then(|t| t.def()) {
            Some(def) => def.type_ == AttrType::Boolean,
            None => DefaultRules.is_boolean(path),
        }
    }

    fn is_read_only(&self, path: &AttrPath) -> bool {
        self.resolve(path).is_some_and(|t| t.is_read_only())
    }

    fn is_immutable(&self, path: &AttrPath) -> bool {
        let declared = matches!(
            self.resolve(path),
            Some(Target::Attribute { attr, sub: None, .. }) if attr.mutability == Mutability::Immutable
        );
        declared || self.immutable.iter().any(|name| path.is(name, None))
    }

    fn is_reference(&self, path: &AttrPath) -> bool {
        matches!(
            self.resolve(path),
            Some(Target::Attribute { attr, sub: None, .. }) if attr.is_reference()
        )
    }

    fn case_exact(&self, path: &AttrPath) -> bool {
        DefaultSchema.case_exact(path)
            || self
                .resolve(path)
                .and_then(|t| t.def())
                .is_some_and(|d| d.is_case_exact())
    }
}
