//! SCIM 2.0 filter expressions (RFC 7644 §3.4.2.2): typed AST, parser,
//! canonical printer and evaluator against JSON resources.
//!
//! Files: `filter.rs` (types, printing), `filter/parse.rs` (lexer and
//! parser), `filter/eval.rs` (evaluation, [`AttrSchema`]) and
//! `filter/tests.rs`.
//!
//! The Entra ID form `emails[type eq "work"].value eq "x"` is parsed as the
//! equivalent value path `emails[type eq "work" and value eq "x"]` (an
//! element must satisfy both), so it is printed in that form.

use std::fmt;
use std::str::FromStr;

mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use eval::{AttrSchema, DefaultSchema};

/// Longest accepted filter text, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest accepted nesting of parentheses, `not (...)` and value paths.
pub const MAX_DEPTH: usize = 32;

/// Prefix of the core schema URNs, whose attributes live at the top level.
const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// An attribute path: optional schema URN, attribute name, optional sub-attribute.
///
/// A path naming a whole schema (`urn:...:enterprise:2.0:User`, whose last
/// URN segment before the name is a version) has `urn: None` and the full
/// URN as `name`: it addresses the extension object itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix as written (without the trailing `:`), if any.
    pub urn: Option<String>,
    /// Attribute name as written.
    pub name: String,
    /// Sub-attribute name as written, if any.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path to the top-level attribute `name`, without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// This path with its sub-attribute set to `sub`.
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// The extension schema URN holding the attribute; `None` for core schema
    /// URNs and for paths without URN (the attribute is top-level).
    pub fn extension_urn(&self) -> Option<&str> {
        self.urn.as_deref().filter(|u| !is_core_urn(u))
    }

    /// Whether this is the core (top-level) attribute `name` with sub-attribute
    /// `sub`, compared case-insensitively.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.extension_urn().is_none()
            && self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }

    /// Whether this path names a whole schema (its `name` is a URN).
    pub fn is_schema_urn(&self) -> bool {
        self.urn.is_none() && starts_with_ci(&self.name, "urn:")
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for AttrPath {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse::parse_attr_path(s)
    }
}

/// A comparison operator (`eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings only).
    Co,
    /// `sw`: starts with (strings only).
    Sw,
    /// `ew`: ends with (strings only).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// All operators, in declaration order.
    const ALL: [CompareOp; 9] = [
        Self::Eq,
        Self::Ne,
        Self::Co,
        Self::Sw,
        Self::Ew,
        Self::Gt,
        Self::Ge,
        Self::Lt,
        Self::Le,
    ];

    /// The operator's keyword in lower case.
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// The operator for a keyword, case-insensitively.
    fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A literal compared against: JSON string, number, boolean or `null`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A JSON string literal (already unescaped).
    Str(String),
    /// A JSON number.
    Num(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl CompValue {
    /// The literal as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Str(s) => serde_json::Value::String(s.clone()),
            Self::Num(n) => serde_json::Value::Number(n.clone()),
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Null => serde_json::Value::Null,
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
            Self::Num(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
    /// `path[filter]`: some value of the (multi-valued, complex) attribute
    /// matches `filter`, whose paths are relative to that value.
    ValuePath {
        /// The multi-valued attribute (never has a sub-attribute).
        path: AttrPath,
        /// The filter applied to each of its values.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// The first `attr eq "string"` found at the root or among the conjuncts
    /// of the root `and` chain: an index hint (the full filter must still be
    /// evaluated on the candidates).
    pub fn eq_hint(&self) -> Option<(&AttrPath, &str)> {
        self.eq_hints().into_iter().next()
    }

    /// Every `attr eq "string"` at the root or in the root `and` chain, left to right.
    pub fn eq_hints(&self) -> Vec<(&AttrPath, &str)> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(f) = stack.pop() {
            match f {
                Self::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: CompValue::Str(s),
                } => out.push((path, s.as_str())),
                Self::And(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                _ => {}
            }
        }
        out
    }

    /// Calls `f` with every attribute path the filter compares or tests for
    /// presence, and with the path of every value path (whose inner filter's
    /// paths are relative to it, so not visited).
    pub fn visit_paths(&self, f: &mut dyn FnMut(&AttrPath)) {
        match self {
            Self::Compare { path, .. } | Self::Present(path) | Self::ValuePath { path, .. } => {
                f(path)
            }
            Self::And(a, b) | Self::Or(a, b) => {
                a.visit_paths(f);
                b.visit_paths(f);
            }
            Self::Not(inner) => inner.visit_paths(f),
        }
    }

    fn fmt_operand(&self, f: &mut fmt::Formatter<'_>, parens: bool) -> fmt::Result {
        if parens {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Self::Present(path) => write!(f, "{path} pr"),
            // `and`/`or` parse left-associatively and `and` binds tighter,
            // so only these operand positions need parentheses.
            Self::And(a, b) => {
                a.fmt_operand(f, matches!(**a, Self::Or(..)))?;
                f.write_str(" and ")?;
                b.fmt_operand(f, matches!(**b, Self::Or(..) | Self::And(..)))
            }
            Self::Or(a, b) => {
                a.fmt_operand(f, false)?;
                f.write_str(" or ")?;
                b.fmt_operand(f, matches!(**b, Self::Or(..)))
            }
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse::parse_filter(s)
    }
}

/// A filter syntax error, with a message saying where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// Character position (0-based) in the input where the error was found.
    pub position: usize,
    /// Human-readable description, including the position.
    pub message: String,
}

/// Parses a SCIM filter (`filter=` query parameter or `[...]` of a path).
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    parse::parse_filter(input)
}

/// Parses a PATCH path (`attr`, `attr.sub`, `urn:...:attr`, `attr[filter]`,
/// `attr[filter].sub`): returns the attribute path (the sub-attribute after
/// `]` is stored in its `sub`) and the value filter, if any.
pub fn parse_path(input: &str) -> Result<(AttrPath, Option<Filter>), FilterError> {
    parse::parse_patch_path(input)
}

fn is_core_urn(urn: &str) -> bool {
    starts_with_ci(urn, CORE_URN_PREFIX)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}
