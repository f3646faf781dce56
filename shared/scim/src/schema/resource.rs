//! The schemas of each resource type and the resolution of attribute paths
//! (`name`, `name.sub`, `urn:...:name.sub`, a schema URN) against them.

use crate::filter::AttrPath;

use super::defs::{common, schema, AttributeDef, SchemaDef};
use super::{ENTERPRISE_USER, GROUP, PROVISIONING, SPLASHTOP_USER, USER};

/// A resource type splashsync serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `/Users`: core User, Enterprise User, Splashtop User, Provisioning.
    User,
    /// `/Groups`: core Group, Provisioning.
    Group,
}

/// What an attribute path designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A whole schema: one of the resource's extensions (its JSON object) or
    /// its core schema.
    Schema(&'static SchemaDef),
    /// An attribute, and the sub-attribute when the path names one.
    Attribute {
        /// The schema holding the attribute (the core schema for the common
        /// attributes `schemas`, `id`, `externalId` and `meta`).
        schema: &'static SchemaDef,
        /// The (top-level) attribute.
        attr: &'static AttributeDef,
        /// The sub-attribute, if the path names one.
        sub: Option<&'static AttributeDef>,
    },
}

impl Target {
    /// The innermost definition: the sub-attribute, else the attribute;
    /// `None` for a whole schema.
    pub fn def(&self) -> Option<&'static AttributeDef> {
        match self {
            Self::Schema(_) => None,
            Self::Attribute { attr, sub, .. } => Some(sub.unwrap_or(attr)),
        }
    }

    /// Whether clients can change nothing there: a `readOnly` attribute or
    /// sub-attribute, or a schema whose every attribute is `readOnly` (the
    /// provisioning extension).
    pub fn is_read_only(&self) -> bool {
        match self {
            Self::Schema(s) => s.attributes.iter().all(AttributeDef::is_read_only),
            Self::Attribute { attr, sub, .. } => {
                attr.is_read_only() || sub.is_some_and(AttributeDef::is_read_only)
            }
        }
    }
}

impl Resource {
    /// The core schema's URN.
    pub fn core_urn(self) -> &'static str {
        match self {
            Self::User => USER,
            Self::Group => GROUP,
        }
    }

    /// The extension URNs a resource of this type may carry.
    pub fn extension_urns(self) -> &'static [&'static str] {
        match self {
            Self::User => &[ENTERPRISE_USER, SPLASHTOP_USER, PROVISIONING],
            Self::Group => &[PROVISIONING],
        }
    }

    /// The core schema.
    pub fn core(self) -> &'static SchemaDef {
        // The data files hold both core schemas (a unit test checks it).
        schema(self.core_urn()).unwrap_or_else(|| unreachable!("core schema data is missing"))
    }

    /// The extension `urn` of this resource type, case-insensitively.
    pub fn extension(self, urn: &str) -> Option<&'static SchemaDef> {
        self.extension_urns()
            .iter()
            .find(|u| u.eq_ignore_ascii_case(urn.trim()))
            .and_then(|u| schema(u))
    }

    /// What `path` designates in this resource type, or `None` when it names
    /// nothing its schemas define. Names compare case-insensitively. A
    /// sub-attribute must be one [`AttributeDef::resolve_sub`] finds.
    pub fn resolve(self, path: &AttrPath) -> Option<Target> {
        if path.is_schema_urn() {
            let s = if path.name.eq_ignore_ascii_case(self.core_urn()) {
                self.core()
            } else {
                self.extension(&path.name)?
            };
            return path.sub.is_none().then_some(Target::Schema(s));
        }
        let schema = match &path.urn {
            None => self.core(),
            Some(urn) if urn.eq_ignore_ascii_case(self.core_urn()) => self.core(),
            Some(urn) => self.extension(urn)?,
        };
        let attr = self.attribute_in(schema, &path.name)?;
        let sub = match &path.sub {
            None => None,
            Some(name) => Some(attr.resolve_sub(name)?),
        };
        Some(Target::Attribute { schema, attr, sub })
    }

    /// What a JSON key of a resource body (or of a path-less PATCH value)
    /// designates: `name`, `name.sub`, `urn:...:name` or a schema URN.
    pub fn resolve_key(self, key: &str) -> Option<Target> {
        let key = key.trim();
        if is_plain_name(key) {
            // The usual key of a body (`userName`, `name`): resolved as the parser would,
            // without it (it costs a tenth of a create's CPU when run on every key).
            let schema = self.core();
            let attr = self.attribute_in(schema, key)?;
            return Some(Target::Attribute {
                schema,
                attr,
                sub: None,
            });
        }
        self.resolve(&key.parse().ok()?)
    }

    /// Attribute `name` of `schema`, or a common attribute when `schema` is the core one.
    fn attribute_in(self, schema: &'static SchemaDef, name: &str) -> Option<&'static AttributeDef> {
        schema.attribute(name).or_else(|| {
            std::ptr::eq(schema, self.core())
                .then(|| common().attribute(name))
                .flatten()
        })
    }
}

/// Whether `key` is one attribute name (RFC 7644 §3.10 ATTRNAME: no URN, no
/// sub-attribute), which the path parser would read as exactly that name.
fn is_plain_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$' || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
}
