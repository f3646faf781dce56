//! The SQLite spelling of list queries: JSON1 functions, `LIKE` on folded strings (SQLite's
//! `LIKE` folds ASCII only, which both folded sides already are) and `GLOB` on case-exact
//! ones, byte-order comparisons (the BINARY collation).

use sqlx::query::Query as SqlQuery;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, SqliteConnection};

use super::{Arg, Dialect, Elements, Statement, Table};
use crate::error::StoreError;
use crate::model::Query;

/// SQLite's [`Dialect`].
#[derive(Debug)]
pub(crate) struct Sqlite;

fn json_path(keys: &[&str]) -> String {
    format!("$.{}", keys.join("."))
}

impl Dialect for Sqlite {
    fn json_text(&self, doc: &str, keys: &[&str]) -> String {
        let p = json_path(keys);
        format!("CASE WHEN json_type({doc}, '{p}') = 'text' THEN json_extract({doc}, '{p}') END")
    }

    fn json_bool(&self, doc: &str, keys: &[&str], value: Option<bool>) -> String {
        let p = json_path(keys);
        match value {
            Some(b) => format!("json_type({doc}, '{p}') = '{b}'"),
            None => format!("json_type({doc}, '{p}') IN ('true', 'false')"),
        }
    }

    fn elements(&self, key: &str) -> Elements {
        Elements {
            from: format!("json_each(resource, '$.{key}') AS e"),
            doc: "e.value".into(),
            objects: format!("json_type(resource, '$.{key}') = 'array' AND e.type = 'object'"),
        }
    }

    fn fold(&self, expr: &str) -> String {
        format!("lower(replace(replace({expr}, '\u{212A}', 'k'), '\u{130}', 'i\u{307}'))")
    }

    fn compare(&self, expr: &str, op: &str) -> String {
        format!("{expr} {op} ?")
    }

    fn matches(&self, expr: &str, folded: bool) -> String {
        if folded {
            format!("{expr} LIKE ? ESCAPE '\\'")
        } else {
            format!("{expr} GLOB ?")
        }
    }

    fn pattern(&self, literal: &str, folded: bool, prefix: bool, suffix: bool) -> String {
        let (escaped, any) = if folded {
            (super::like_escape(literal), "%")
        } else {
            (glob_escape(literal), "*")
        };
        let before = if prefix { any } else { "" };
        let after = if suffix { any } else { "" };
        format!("{before}{escaped}{after}")
    }

    fn sort_key(&self, column: &str) -> String {
        column.to_string()
    }

    fn number(&self, sql: String) -> String {
        sql
    }
}

/// `literal` with GLOB's special characters as one-character classes.
fn glob_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            other => out.push(other),
        }
    }
    out
}

fn bind<'q>(
    mut q: SqlQuery<'q, sqlx::Sqlite, SqliteArguments<'q>>,
    args: &'q [Arg],
) -> SqlQuery<'q, sqlx::Sqlite, SqliteArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

async fn fetch_count(conn: &mut SqliteConnection, s: &Statement) -> Result<u64, StoreError> {
    let row = bind(sqlx::query(&s.sql), &s.args)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
}

/// The rows of `table` `query` selects and their count: one page when `query.all` is
/// false, else every candidate (at most `query.scan_limit`, else a 400 `tooMany`).
pub(crate) async fn page(
    conn: &mut SqliteConnection,
    table: Table,
    columns: &str,
    query: &Query,
) -> Result<(Vec<SqliteRow>, u64), StoreError> {
    let total = fetch_count(conn, &super::count(&Sqlite, table, query)).await?;
    super::check_scan(query, total)?;
    if !query.all && query.limit == 0 {
        return Ok((Vec::new(), total));
    }
    let s = super::rows(&Sqlite, table, columns, query);
    let rows = bind(sqlx::query(&s.sql), &s.args)
        .fetch_all(&mut *conn)
        .await?;
    Ok((rows, total))
}
