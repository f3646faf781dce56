//! Which attributes translate into SQL, and into what: a column, a JSON string, a JSON
//! boolean, or the elements of a multi-valued attribute.

use splashsync_scim::filter::AttrPath;

use super::{Dialect, Table};

/// The attributes a filter on them is answered by SQL (for the `tooMany` detail).
pub(super) const INDEXED: &[&str] = &[
    "userName",
    "externalId",
    "id",
    "emails.value",
    "emails[type eq ...]",
    "name.givenName",
    "name.familyName",
    "displayName",
    "active",
    "meta.lastModified",
    "meta.created",
];

/// A translatable attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Attr {
    /// A string expression (NULL when missing); `case`: how it compares.
    Text { expr: String, case: Case },
    /// A boolean JSON attribute at `keys` of `doc`.
    Bool {
        doc: String,
        keys: Vec<&'static str>,
    },
    /// The string sub-attribute `sub` of each element of the multi-valued `array`.
    Multi {
        array: &'static str,
        sub: &'static str,
    },
}

/// How a string attribute compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    /// Case-exact (RFC 7643 `caseExact: true`).
    Exact,
    /// Case-insensitive; the column already holds Rust's `to_lowercase` of the value.
    Lowered,
    /// Case-insensitive; folded in SQL (exact only for ASCII literals).
    Folded,
}

fn text(expr: impl Into<String>, case: Case) -> Option<Attr> {
    Some(Attr::Text {
        expr: expr.into(),
        case,
    })
}

/// The attribute `path` names at the top level of a `table` row.
pub(super) fn root(d: &dyn Dialect, table: Table, path: &AttrPath) -> Option<Attr> {
    if path.is("id", None) {
        return text("id", Case::Exact);
    }
    if path.is("externalId", None) {
        return text("external_id", Case::Exact);
    }
    if path.is("meta", Some("lastModified")) {
        return text("last_modified", Case::Exact);
    }
    if path.is("meta", Some("created")) {
        return text("created", Case::Exact);
    }
    match table {
        Table::Groups if path.is("displayName", None) => text("display_name_key", Case::Lowered),
        Table::Groups => None,
        Table::Users => user(d, path),
    }
}

fn user(d: &dyn Dialect, path: &AttrPath) -> Option<Attr> {
    if path.is("userName", None) {
        return text("user_name_key", Case::Lowered);
    }
    if path.is("displayName", None) {
        return text("display_name", Case::Folded);
    }
    for sub in ["givenName", "familyName"] {
        if path.is("name", Some(sub)) {
            return text(d.json_text("resource", &["name", sub]), Case::Folded);
        }
    }
    if path.is("active", None) {
        return Some(Attr::Bool {
            doc: "resource".into(),
            keys: vec!["active"],
        });
    }
    if path.is("emails", Some("value")) {
        return Some(Attr::Multi {
            array: "emails",
            sub: "value",
        });
    }
    None
}

/// The multi-valued attribute a value path (`emails[...]`) filters, if it translates.
pub(super) fn array(table: Table, path: &AttrPath) -> Option<&'static str> {
    (table == Table::Users && path.sub.is_none() && path.is("emails", None)).then_some("emails")
}

/// The attribute `path` names inside an element document `doc` of a value path.
pub(super) fn element(d: &dyn Dialect, doc: &str, path: &AttrPath) -> Option<Attr> {
    if path.urn.is_some() || path.sub.is_some() {
        return None;
    }
    for sub in ["value", "type", "display"] {
        if path.name.eq_ignore_ascii_case(sub) {
            return text(d.json_text(doc, &[sub]), Case::Folded);
        }
    }
    path.name
        .eq_ignore_ascii_case("primary")
        .then(|| Attr::Bool {
            doc: doc.to_string(),
            keys: vec!["primary"],
        })
}
