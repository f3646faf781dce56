//! The PostgreSQL spelling of list queries: jsonb operators, `LIKE` (case-sensitive on
//! PostgreSQL) and the "C" collation wherever order or case matters, so that comparisons
//! are in byte order and `lower` folds ASCII only, as on SQLite.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query as SqlQuery;
use sqlx::{PgConnection, Row};

use super::{Arg, Dialect, Elements, Statement, Table};
use crate::error::StoreError;
use crate::model::Query;

/// PostgreSQL's [`Dialect`].
#[derive(Debug)]
pub(crate) struct Postgres;

fn json_path(keys: &[&str]) -> String {
    format!("'{{{}}}'", keys.join(","))
}

impl Dialect for Postgres {
    fn json_text(&self, doc: &str, keys: &[&str]) -> String {
        let p = json_path(keys);
        format!("CASE WHEN jsonb_typeof({doc} #> {p}) = 'string' THEN {doc} #>> {p} END")
    }

    fn json_bool(&self, doc: &str, keys: &[&str], value: Option<bool>) -> String {
        let p = json_path(keys);
        match value {
            Some(b) => format!("{doc} #> {p} = '{b}'::jsonb"),
            None => format!("jsonb_typeof({doc} #> {p}) = 'boolean'"),
        }
    }

    fn elements(&self, key: &str) -> Elements {
        Elements {
            from: format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof(resource -> '{key}') = 'array' \
                 THEN resource -> '{key}' ELSE '[]'::jsonb END) AS e(doc)"
            ),
            doc: "e.doc".into(),
            objects: "jsonb_typeof(e.doc) = 'object'".into(),
        }
    }

    fn fold(&self, expr: &str) -> String {
        format!(
            "lower(replace(replace({expr}, '\u{212A}', 'k'), '\u{130}', 'i\u{307}') COLLATE \"C\")"
        )
    }

    fn compare(&self, expr: &str, op: &str) -> String {
        if op == "=" {
            format!("{expr} = ?")
        } else {
            format!("{expr} COLLATE \"C\" {op} ?")
        }
    }

    fn matches(&self, expr: &str, _folded: bool) -> String {
        format!("{expr} LIKE ? ESCAPE '\\'")
    }

    fn pattern(&self, literal: &str, _folded: bool, prefix: bool, suffix: bool) -> String {
        let before = if prefix { "%" } else { "" };
        let after = if suffix { "%" } else { "" };
        format!("{before}{}{after}", super::like_escape(literal))
    }

    fn sort_key(&self, column: &str) -> String {
        format!("{column} COLLATE \"C\"")
    }

    fn number(&self, sql: String) -> String {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }
}

fn bind<'q>(
    mut q: SqlQuery<'q, sqlx::Postgres, PgArguments>,
    args: &'q [Arg],
) -> SqlQuery<'q, sqlx::Postgres, PgArguments> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

async fn fetch_count(conn: &mut PgConnection, s: &Statement) -> Result<u64, StoreError> {
    let row = bind(sqlx::query(&s.sql), &s.args)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
}

/// The rows of `table` `query` selects and their count: one page when `query.all` is
/// false, else every candidate (at most `query.scan_limit`, else a 400 `tooMany`).
pub(crate) async fn page(
    conn: &mut PgConnection,
    table: Table,
    columns: &str,
    query: &Query,
) -> Result<(Vec<PgRow>, u64), StoreError> {
    let total = fetch_count(conn, &super::count(&Postgres, table, query)).await?;
    super::check_scan(query, total)?;
    if !query.all && query.limit == 0 {
        return Ok((Vec::new(), total));
    }
    let s = super::rows(&Postgres, table, columns, query);
    let rows = bind(sqlx::query(&s.sql), &s.args)
        .fetch_all(&mut *conn)
        .await?;
    Ok((rows, total))
}
