//! The indexes list queries use: expression indexes whose expressions are the very ones
//! the translation writes (a test checks each one), so the planners match them.
//! SQLite migration 9, PostgreSQL migration 5.
//!
//! `emails.value` has none: a multi-valued attribute is read through `json_each` /
//! `jsonb_array_elements` inside the database (no row reaches the receiver), and its
//! usual operator, `co`, could not use a B-tree anyway.

/// SQLite migration 9.
pub(crate) const SQLITE: &str = "
CREATE INDEX IF NOT EXISTS users_given_name ON users(lower(replace(replace(CASE WHEN json_type(resource, '$.name.givenName') = 'text' THEN json_extract(resource, '$.name.givenName') END, '\u{212A}', 'k'), '\u{130}', 'i\u{307}')));
CREATE INDEX IF NOT EXISTS users_family_name ON users(lower(replace(replace(CASE WHEN json_type(resource, '$.name.familyName') = 'text' THEN json_extract(resource, '$.name.familyName') END, '\u{212A}', 'k'), '\u{130}', 'i\u{307}')));
CREATE INDEX IF NOT EXISTS users_display_name ON users(lower(replace(replace(display_name, '\u{212A}', 'k'), '\u{130}', 'i\u{307}')));
CREATE INDEX IF NOT EXISTS users_active ON users(json_type(resource, '$.active'));
CREATE INDEX IF NOT EXISTS users_last_modified ON users(last_modified);
CREATE INDEX IF NOT EXISTS groups_last_modified ON groups(last_modified);
";

/// PostgreSQL migration 5. The "C" collation indexes serve sorting and ranges (the
/// translation compares in byte order); equality uses the existing unique keys.
pub(crate) const POSTGRES: &str = "
CREATE INDEX IF NOT EXISTS users_given_name ON users((lower(replace(replace(CASE WHEN jsonb_typeof(resource #> '{name,givenName}') = 'string' THEN resource #>> '{name,givenName}' END, '\u{212A}', 'k'), '\u{130}', 'i\u{307}') COLLATE \"C\")));
CREATE INDEX IF NOT EXISTS users_family_name ON users((lower(replace(replace(CASE WHEN jsonb_typeof(resource #> '{name,familyName}') = 'string' THEN resource #>> '{name,familyName}' END, '\u{212A}', 'k'), '\u{130}', 'i\u{307}') COLLATE \"C\")));
CREATE INDEX IF NOT EXISTS users_display_name ON users((lower(replace(replace(display_name, '\u{212A}', 'k'), '\u{130}', 'i\u{307}') COLLATE \"C\")));
CREATE INDEX IF NOT EXISTS users_active ON users((resource #> '{active}'));
CREATE INDEX IF NOT EXISTS users_user_name_order ON users(user_name_key COLLATE \"C\");
CREATE INDEX IF NOT EXISTS users_last_modified ON users(last_modified COLLATE \"C\");
CREATE INDEX IF NOT EXISTS groups_display_name_order ON groups(display_name_key COLLATE \"C\");
CREATE INDEX IF NOT EXISTS groups_last_modified ON groups(last_modified COLLATE \"C\");
";

#[cfg(test)]
mod tests {
    use super::super::postgres::Postgres;
    use super::super::sqlite::Sqlite;
    use super::super::Dialect;
    use super::*;

    fn expressions(d: &dyn Dialect) -> Vec<String> {
        vec![
            d.fold(&d.json_text("resource", &["name", "givenName"])),
            d.fold(&d.json_text("resource", &["name", "familyName"])),
            d.fold("display_name"),
        ]
    }

    #[test]
    fn each_index_expression_is_the_one_queries_write() {
        for e in expressions(&Sqlite) {
            assert!(SQLITE.contains(&format!("ON users({e});")), "{e}");
        }
        assert!(Sqlite
            .json_bool("resource", &["active"], Some(true))
            .starts_with("json_type(resource, '$.active') ="));
        for e in expressions(&Postgres) {
            assert!(POSTGRES.contains(&format!("ON users(({e}));")), "{e}");
        }
        assert!(Postgres
            .json_bool("resource", &["active"], Some(true))
            .starts_with("resource #> '{active}' ="));
        assert!(POSTGRES.contains(&format!(
            "ON users({});",
            Postgres.sort_key("user_name_key")
        )));
    }
}
