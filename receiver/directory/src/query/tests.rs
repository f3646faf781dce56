//! The translation's pure parts: which filters are exact, escaping, placeholders, and
//! the lower-casing facts exactness rests on. SQL results against the evaluator are
//! compared in `tests/filter_sql.rs` on both engines.

use splashsync_scim::filter::{self, AttrPath};

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::*;

fn exact(table: Table, f: &str) -> bool {
    is_exact(table, Some(&filter::parse(f).unwrap()), None)
}

#[test]
fn only_non_ascii_k_and_dotted_i_lower_case_into_ascii() {
    // SQL folds ASCII only; Rust folds all of Unicode. They agree on an ASCII literal
    // because no other character lower-cases into ASCII (fold() maps these two first).
    let odd: Vec<char> = (0..=u32::from(char::MAX))
        .filter_map(char::from_u32)
        .filter(|c| !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii()))
        .collect();
    assert_eq!(odd, vec!['\u{130}', '\u{212A}']);
    assert_eq!("\u{130}".to_lowercase(), "i\u{307}");
    assert_eq!("\u{212A}".to_lowercase(), "k");
}

#[test]
fn indexed_attributes_translate_exactly_and_others_do_not() {
    for f in [
        r#"userName eq "Ann@X.com""#,
        r#"userName sw "Élodie""#,
        r#"name.givenName eq "Ann" and active eq true"#,
        r#"emails.value co "999" or externalId eq "E1""#,
        r#"emails[type eq "work" and value ew "@x.com"]"#,
        r#"not (displayName pr) and meta.lastModified gt "2026""#,
        r#"emails.value ne "a@x.com""#,
    ] {
        assert!(exact(Table::Users, f), "{f}");
    }
    for f in [
        r#"nickName eq "x""#,
        r#"not (nickName eq "x")"#,
        r#"name.givenName eq "Élodie""#,
        r#"emails[type eq "work" and foo eq "x"]"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#,
        r#"userName eq null"#,
        r#"active gt true"#,
    ] {
        assert!(!exact(Table::Users, f), "{f}");
    }
    assert!(exact(Table::Groups, r#"displayName co "sales""#));
    assert!(!exact(Table::Groups, r#"members[value eq "u1"]"#));
    assert!(!exact(Table::Groups, r#"userName eq "x""#));
}

#[test]
fn only_the_name_sorts_in_sql() {
    let by = |p: &str| Some((p.parse::<AttrPath>().unwrap(), false));
    assert!(is_exact(Table::Users, None, by("userName").as_ref()));
    assert!(is_exact(Table::Groups, None, by("displayName").as_ref()));
    assert!(!is_exact(
        Table::Users,
        None,
        by("name.familyName").as_ref()
    ));
}

#[test]
fn patterns_escape_their_wildcards() {
    assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    assert_eq!(Sqlite.pattern("a*?[b", false, true, false), "*a[*][?][[]b");
    assert_eq!(Sqlite.pattern("5%", true, false, true), r"5\%%");
    assert_eq!(Postgres.pattern("a_b", false, true, true), r"%a\_b%");
}

#[test]
fn postgres_numbers_placeholders_in_order() {
    let q = Query {
        lookup: Some((Indexed::Name, "A".into())),
        filter: Some(filter::parse(r#"name.givenName eq "x" or emails.value co "y""#).unwrap()),
        limit: 10,
        ..Query::default()
    };
    let s = rows(&Postgres, Table::Users, "id", &q);
    for n in 1..=5 {
        assert!(s.sql.contains(&format!("${n}")), "{}", s.sql);
    }
    assert!(!s.sql.contains('?') && !s.sql.contains("$6"), "{}", s.sql);
    assert_eq!(s.args[0], Arg::Text("a".into()));
    assert_eq!(s.args.len(), 5);
}
