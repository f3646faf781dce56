//! List queries in SQL: the typed SCIM filter, the sort key and the page translated into a
//! WHERE clause with bound parameters and an ORDER BY, for either engine ([`Dialect`]).
//!
//! Each part of a filter translates *exactly* (the SQL selects the rows the in-memory
//! evaluator, `Filter::matches`, selects) or not at all. A filter and sort that translate
//! exactly are answered entirely by the database, one page at a time. Otherwise the SQL
//! is only a superset (untranslated parts read as true), the caller reads those candidate
//! rows, at most the scan limit of them, and evaluates the filter in memory.
//!
//! Exactness rests on two facts the tests check: string comparisons are case-insensitive
//! through the same lower-casing as Rust's `to_lowercase` wherever a literal is ASCII
//! ([`Dialect::fold`]), and byte order is code-point order on both engines. Attribute keys
//! are read in their schema spelling (`name.givenName`): a body stored with another
//! spelling of a key is found by the in-memory evaluator only.

mod attrs;
mod build;
pub(crate) mod indexes;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use splashsync_scim::filter::{AttrPath, Filter};

use crate::error::StoreError;
use crate::model::{Indexed, Query};

/// Which table a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `users`.
    Users,
    /// `groups`.
    Groups,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Groups => "groups",
        }
    }

    /// The lower-cased name column (the unique, case-insensitive key).
    fn name_key(self) -> &'static str {
        match self {
            Self::Users => "user_name_key",
            Self::Groups => "display_name_key",
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A string.
    Text(String),
    /// An integer (LIMIT, OFFSET).
    Int(i64),
}

/// How one engine spells what the translation needs. Fragments use `?` for parameters;
/// [`Dialect::number`] renumbers them where the engine wants `$n`.
pub(crate) trait Dialect {
    /// The JSON string at object keys `keys` of the JSON document `doc`; NULL when
    /// missing or not a string.
    fn json_text(&self, doc: &str, keys: &[&str]) -> String;
    /// Whether the JSON at `keys` of `doc` is the boolean `value` (any boolean: `None`).
    fn json_bool(&self, doc: &str, keys: &[&str], value: Option<bool>) -> String;
    /// The elements of the array at `key` of `resource`: a FROM item, the expression of
    /// one element's document, and the condition keeping object elements of an array.
    fn elements(&self, key: &str) -> Elements;
    /// `expr` lower-cased as Rust does for ASCII results (see the module doc).
    fn fold(&self, expr: &str) -> String;
    /// `expr` compared with a parameter by `op` (`=`, `<`, ...), in byte order.
    fn compare(&self, expr: &str, op: &str) -> String;
    /// `expr` matched against a pattern parameter; `folded`: both sides are lower-cased.
    fn matches(&self, expr: &str, folded: bool) -> String;
    /// The pattern for `co`/`sw`/`ew` of `literal` (escaped).
    fn pattern(&self, literal: &str, folded: bool, prefix: bool, suffix: bool) -> String;
    /// A sort key column in byte order.
    fn sort_key(&self, column: &str) -> String;
    /// The statement with its `?` placeholders as this engine writes them.
    fn number(&self, sql: String) -> String;
}

/// The elements of a multi-valued attribute, as [`Dialect::elements`] spells them.
#[derive(Debug)]
pub(crate) struct Elements {
    pub(crate) from: String,
    pub(crate) doc: String,
    pub(crate) objects: String,
}

/// A WHERE condition: its SQL (`?` placeholders), arguments in order, and whether it
/// selects exactly what the in-memory evaluator selects (else a superset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg>,
    pub(crate) exact: bool,
}

impl Condition {
    /// Selects every row: an untranslated part (a superset of what it selects).
    fn any() -> Self {
        Self {
            sql: "(1=1)".into(),
            args: Vec::new(),
            exact: false,
        }
    }
}

/// The sort key column a sort translates into, if it does.
fn sort_column(table: Table, sort: &(AttrPath, bool)) -> Option<&'static str> {
    let name = match table {
        Table::Users => "userName",
        Table::Groups => "displayName",
    };
    sort.0.is(name, None).then(|| table.name_key())
}

/// Whether `filter` and `sort` translate exactly for `table`: the database can answer
/// the page and the total on its own.
pub fn is_exact(table: Table, filter: Option<&Filter>, sort: Option<&(AttrPath, bool)>) -> bool {
    let filter_exact = filter.is_none_or(|f| build::condition(&sqlite::Sqlite, table, f).exact);
    filter_exact && sort.is_none_or(|s| sort_column(table, s).is_some())
}

/// A statement and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg>,
}

/// The WHERE clause of `query`: its index lookup and its filter (a superset when the
/// filter does not translate exactly).
fn where_clause(d: &dyn Dialect, table: Table, query: &Query) -> Condition {
    let mut parts = Vec::new();
    let mut args = Vec::new();
    let mut exact = true;
    match &query.lookup {
        None => {}
        Some((Indexed::Id, v)) => {
            parts.push("id = ?".to_string());
            args.push(Arg::Text(v.clone()));
        }
        Some((Indexed::ExternalId, v)) => {
            parts.push("external_id = ?".to_string());
            args.push(Arg::Text(v.clone()));
        }
        Some((Indexed::Name, v)) => {
            parts.push(format!("{} = ?", table.name_key()));
            args.push(Arg::Text(v.to_lowercase()));
        }
    }
    if let Some(f) = &query.filter {
        let c = build::condition(d, table, f);
        exact = c.exact;
        parts.push(c.sql);
        args.extend(c.args);
    }
    let sql = if parts.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", parts.join(" AND "))
    };
    Condition { sql, args, exact }
}

/// `SELECT COUNT(*)` of the rows `query` selects (candidates, when not exact).
pub(crate) fn count(d: &dyn Dialect, table: Table, query: &Query) -> Statement {
    let w = where_clause(d, table, query);
    Statement {
        sql: d.number(format!("SELECT COUNT(*) FROM {} {}", table.name(), w.sql)),
        args: w.args,
    }
}

/// The rows of `query`: one sorted page when `query.all` is false (the caller checked
/// [`is_exact`]), else every candidate row in creation order.
pub(crate) fn rows(d: &dyn Dialect, table: Table, columns: &str, query: &Query) -> Statement {
    let w = where_clause(d, table, query);
    let mut args = w.args;
    let order = match query.sort.as_ref().filter(|_| !query.all) {
        Some(s) => match sort_column(table, s) {
            Some(col) if s.1 => format!("{} DESC, row DESC", d.sort_key(col)),
            Some(col) => format!("{}, row", d.sort_key(col)),
            None => "row".into(),
        },
        None => "row".into(),
    };
    let page = if query.all {
        ""
    } else {
        args.push(Arg::Int(i64::try_from(query.limit).unwrap_or(i64::MAX)));
        args.push(Arg::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        "LIMIT ? OFFSET ?"
    };
    let sql = format!(
        "SELECT {columns} FROM {} {} ORDER BY {order} {page}",
        table.name(),
        w.sql
    );
    Statement {
        sql: d.number(sql),
        args,
    }
}

/// `literal` for a `LIKE ... ESCAPE '\'` pattern: `\`, `%` and `_` escaped.
fn like_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A 400 `tooMany` when `query` reads candidates for in-memory evaluation and there are
/// more than its scan limit.
pub(crate) fn check_scan(query: &Query, candidates: u64) -> Result<(), StoreError> {
    if query.all && query.scan_limit > 0 && candidates > query.scan_limit {
        return Err(StoreError::Rejected(too_many(candidates, query.scan_limit)));
    }
    Ok(())
}

/// The 400 `tooMany` error when `candidates` exceed `limit`.
fn too_many(candidates: u64, limit: u64) -> splashsync_scim::ScimError {
    splashsync_scim::ScimError::bad_request(
        splashsync_scim::ScimType::TooMany,
        format!(
            "this filter or sortBy needs {candidates} resources evaluated one by one, more than \
             the scan limit of {limit} (SPLASHSYNC_FILTER_SCAN_LIMIT): filter on an indexed \
             attribute ({}), sort by userName (Users) or displayName (Groups), or narrow the \
             filter with one of those in an `and`",
            attrs::INDEXED.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests;
