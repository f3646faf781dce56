//! Typed schema definitions (RFC 7643 §7), parsed once from the data files,
//! their RFC 7643 §7 rendering and case-insensitive lookups.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`: any JSON number.
    Decimal,
    /// `integer`: a JSON number without fraction or exponent.
    Integer,
    /// `dateTime`: an xsd:dateTime string.
    DateTime,
    /// `reference`: a URI string.
    Reference,
    /// `complex`: a JSON object of sub-attributes.
    Complex,
    /// `binary`: a base64 string.
    Binary,
}

/// When an attribute may be changed (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Set by the service provider only; client values are ignored.
    ReadOnly,
    /// Freely changed.
    ReadWrite,
    /// Set once (at creation or when unassigned), then never changed.
    Immutable,
    /// Set by clients, never returned.
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// In every response, whatever `attributes` asks.
    Always,
    /// Never.
    Never,
    /// Unless excluded by `excludedAttributes` (or `attributes` names others).
    Default,
    /// Only when `attributes` names it.
    Request,
}

/// How values are kept unique (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the service provider's tenant.
    Server,
    /// Globally unique.
    Global,
}

/// One attribute (or sub-attribute) definition, as RFC 7643 §7 represents it.
///
/// Characteristics the source leaves out stay `None`, so that
/// [`SchemaDef::to_json`] renders exactly what the RFC gives; the accessors
/// apply the RFC 7643 §2.2 defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeDef {
    /// The attribute's name, as the schema spells it.
    pub name: String,
    /// The data type.
    #[serde(rename = "type")]
    pub type_: AttrType,
    /// For references: the resource types (or `external`, `uri`) referenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_types: Option<Vec<String>>,
    /// Whether values are JSON arrays.
    pub multi_valued: bool,
    /// The human-readable description.
    pub description: String,
    /// Whether the attribute is required.
    pub required: bool,
    /// Whether string comparisons are case-sensitive, if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_exact: Option<bool>,
    /// The suggested values, if listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_values: Option<Vec<String>>,
    /// The sub-attributes of a complex attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_attributes: Option<Vec<AttributeDef>>,
    /// When it may change.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// How values are kept unique, if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uniqueness: Option<Uniqueness>,
}

impl AttributeDef {
    /// Whether string comparisons are case-sensitive (default `false`).
    pub fn is_case_exact(&self) -> bool {
        self.case_exact.unwrap_or(false)
    }

    /// The uniqueness (default `none`).
    pub fn uniqueness(&self) -> Uniqueness {
        self.uniqueness.unwrap_or(Uniqueness::None)
    }

    /// Whether clients may not set it (`readOnly`).
    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }

    /// Whether values reference a resource by its id: a complex attribute
    /// with `value` and `$ref` sub-attributes (Group `members`, User
    /// `groups`, the enterprise `manager`). A bare string `"id"` given for
    /// one of its values reads as `{"value": "id"}`.
    pub fn is_reference(&self) -> bool {
        self.type_ == AttrType::Complex
            && self.sub_attribute("value").is_some()
            && self.sub_attribute("$ref").is_some()
    }

    /// The sub-attribute `name` the definition lists, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        find(self.sub_attributes.as_deref().unwrap_or_default(), name)
    }

    /// The sub-attribute `name` a value of this complex attribute may hold:
    /// one the definition lists, or for a multi-valued attribute an RFC 7643
    /// §2.4 default (`type`, `primary`, `display`, `value`, `$ref`).
    pub fn resolve_sub(&self, name: &str) -> Option<&AttributeDef> {
        if self.type_ != AttrType::Complex {
            return None;
        }
        self.sub_attribute(name).or_else(|| {
            self.multi_valued
                .then(|| multi_valued_defaults().attribute(name))
                .flatten()
        })
    }
}

/// One schema (RFC 7643 §7): its URN, name, description and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: String,
    /// The schema's name.
    pub name: String,
    /// The human-readable description.
    pub description: String,
    /// The top-level attributes.
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The attribute `name` (a sub-attribute with `name.sub`), case-insensitively.
    pub fn attribute(&self, path: &str) -> Option<&AttributeDef> {
        let (name, sub) = match path.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (path, None),
        };
        let attr = find(&self.attributes, name)?;
        match sub {
            Some(sub) => attr.sub_attribute(sub),
            None => Some(attr),
        }
    }

    /// The RFC 7643 §7 representation, with `schemas` and without `meta`
    /// (the caller adds `meta`: its `location` depends on the base URL).
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("schemas".into(), Value::from(vec![super::SCHEMA]));
        }
        value
    }
}

fn find<'a>(attrs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The schemas served under `/Schemas`, in this order.
static SCHEMAS: LazyLock<Vec<SchemaDef>> = LazyLock::new(|| {
    [
        include_str!("data/user.json"),
        include_str!("data/group.json"),
        include_str!("data/enterprise_user.json"),
        include_str!("data/splashtop_user.json"),
        include_str!("data/provisioning.json"),
    ]
    .into_iter()
    .map(parse)
    .collect()
});

static COMMON: LazyLock<SchemaDef> = LazyLock::new(|| parse(include_str!("data/common.json")));

static MULTI_VALUED_DEFAULTS: LazyLock<SchemaDef> =
    LazyLock::new(|| parse(include_str!("data/multi_valued_defaults.json")));

/// The data files are part of the build, and a unit test parses each: a
/// failure here is a bug in this crate, never a reaction to input.
fn parse(text: &str) -> SchemaDef {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("a schema data file is invalid: {e}"))
}

/// Every schema served: core User, core Group, Enterprise User, Splashtop
/// User and Provisioning, in that order.
pub fn all() -> &'static [SchemaDef] {
    &SCHEMAS
}

/// The schema with URN `urn`, case-insensitively.
pub fn schema(urn: &str) -> Option<&'static SchemaDef> {
    SCHEMAS
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn.trim()))
}

/// The attribute at `path` (`name` or `name.sub`) of schema `urn`,
/// case-insensitively. Only the schema's own attributes: the common ones
/// (`id`, `meta`, ...) are resolved by [`super::Resource::resolve`].
pub fn attribute(urn: &str, path: &str) -> Option<&'static AttributeDef> {
    schema(urn)?.attribute(path)
}

/// `schemas`, `id`, `externalId` and `meta` (RFC 7643 §3, §3.1).
pub(super) fn common() -> &'static SchemaDef {
    &COMMON
}

/// The RFC 7643 §2.4 default sub-attributes of multi-valued attributes.
fn multi_valued_defaults() -> &'static SchemaDef {
    &MULTI_VALUED_DEFAULTS
}
