//! List filters and sorts answered by SQL select exactly what the in-memory evaluator
//! (`Filter::matches`, what the server applied to every row before) selects, on the same
//! data, on the engine `SPLASHSYNC_TEST_ENGINE` names; what SQL cannot answer exactly
//! comes back as a superset, bounded by the scan limit.

mod common;

use common::{cx, store, Store};
use serde_json::{json, Value};
use splashsync_directory::model::{Query, UserRecord};
use splashsync_directory::query::{is_exact, Table};
use splashsync_directory::{GroupPolicy, StoreError};
use splashsync_scim::filter::{self, AttrPath, DefaultSchema};

/// (id, userName, body without userName, lastModified)
fn people() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    vec![
        (
            "u01",
            "Ann@X.com",
            json!({"name": {"givenName": "Ann", "familyName": "Lee"}, "active": true,
            "emails": [{"value": "Ann@X.com", "type": "work", "primary": true}, {"value": "ann999@home.org", "type": "home"}],
            "externalId": "E-1", "displayName": "Ann Lee"}),
            "2026-01-01T00:00:01Z",
        ),
        (
            "u02",
            "bob@x.com",
            json!({"name": {"givenName": "BOB", "familyName": "Stone"}, "active": false,
            "emails": [{"value": "bob@x.com", "type": "Work"}], "externalId": "e-1"}),
            "2026-01-02T00:00:00Z",
        ),
        (
            "u03",
            "élodie@x.com",
            json!({"name": {"givenName": "Élodie", "familyName": "Ünal"}, "active": true,
            "emails": [{"value": "ÉLODIE@x.com", "type": "work"}], "displayName": "Élodie Ünal"}),
            "2026-01-03T00:00:00Z",
        ),
        (
            "u04",
            "\u{212A}ate@x.com",
            json!({"name": {"givenName": "\u{212A}ate", "familyName": "\u{130}nce"},
            "emails": [{"value": "\u{212A}ATE@X.COM"}], "displayName": "\u{212A}ate"}),
            "2026-01-04T00:00:00Z",
        ),
        (
            "u05",
            "percent@x.com",
            json!({"name": {"givenName": "50%_off", "familyName": "a\\b*c?[d]"},
            "emails": [{"value": "50%_off@x.com", "type": "work"}, {"type": "home"}], "active": true}),
            "2026-01-05T00:00:00Z",
        ),
        (
            "u06",
            "empty@x.com",
            json!({"name": {"givenName": "", "familyName": "Lee"}, "emails": [],
            "displayName": ""}),
            "2026-01-06T00:00:00Z",
        ),
        ("u07", "none@x.com", json!({}), "2026-01-07T00:00:00Z"),
        (
            "u08",
            "ZED@x.com",
            json!({"name": {"givenName": "zed"}, "active": false,
            "emails": [{"value": "z999z@x.com", "type": "home", "primary": false}], "externalId": "E-10"}),
            "2025-12-31T23:59:59Z",
        ),
        (
            "u09",
            "under_score@x.com",
            json!({"name": {"familyName": "under_score"}, "active": true,
            "emails": [{"value": "under_score@x.com", "type": "work"}, {"value": "u9@x.com", "type": "work"}]}),
            "2026-01-09T00:00:00Z",
        ),
        (
            "u10",
            "aNN2@x.com",
            json!({"name": {"givenName": "ann", "familyName": "lee"}, "active": true,
            "emails": [{"value": "ANN2@X.COM", "type": "WORK", "primary": true}], "displayName": "ann lee"}),
            "2026-01-10T00:00:00Z",
        ),
    ]
}

async fn seed(s: &Store) {
    for (id, name, body, modified) in people() {
        let mut resource = body;
        resource["userName"] = json!(name);
        let record = UserRecord {
            resource,
            last_modified: modified.into(),
            ..common::user(id, name)
        };
        s.directory
            .create_user(cx(GroupPolicy::Reject), record)
            .await
            .unwrap();
    }
}

/// The resource as the server evaluates filters on it: the body, `id` and `meta`.
fn rendered(u: &UserRecord) -> Value {
    let mut v = u.resource.clone();
    v["id"] = json!(u.id);
    v["meta"] =
        json!({"resourceType": "User", "created": u.created, "lastModified": u.last_modified});
    v
}

async fn everyone(s: &Store) -> Vec<UserRecord> {
    let all = Query {
        all: true,
        ..Query::default()
    };
    s.directory.list_users(all).await.unwrap().0
}

async fn ids(s: &Store, query: Query) -> (Vec<String>, u64) {
    let (users, total) = s.directory.list_users(query).await.unwrap();
    (users.into_iter().map(|u| u.id).collect(), total)
}

const FILTERS: &[&str] = &[
    r#"userName eq "ANN@x.com""#,
    r#"userName eq "ÉLODIE@X.COM""#,
    r#"userName co "@X.C""#,
    r#"userName sw "a""#,
    r#"userName ew "X.COM""#,
    r#"userName gt "m""#,
    r#"userName le "bob@x.com""#,
    r#"userName ne "bob@x.com""#,
    r#"userName sw "kate""#,
    r#"name.givenName eq "ann""#,
    r#"name.givenName eq "kate""#,
    r#"name.givenName co "a""#,
    r#"name.givenName sw "50%""#,
    r#"name.givenName co "%""#,
    r#"name.givenName co "_""#,
    r#"name.givenName co "0%_o""#,
    r#"name.givenName pr"#,
    r#"not (name.givenName pr)"#,
    r#"name.givenName ne "ann""#,
    r#"name.givenName gt "b""#,
    r#"name.givenName lt "z""#,
    r#"name.givenName ew """#,
    r#"name.familyName eq "LEE""#,
    r#"name.familyName sw "i""#,
    r#"name.familyName co "\\b*c?[d]""#,
    r#"name.familyName co "_""#,
    r#"displayName co "lee""#,
    r#"displayName pr"#,
    r#"not (displayName eq "ann lee")"#,
    r#"externalId eq "E-1""#,
    r#"externalId sw "E-1""#,
    r#"externalId co "-""#,
    r#"externalId ne "E-1""#,
    r#"externalId gt "E-1""#,
    r#"id eq "u03""#,
    r#"active eq true"#,
    r#"active eq false"#,
    r#"active ne true"#,
    r#"active eq "True""#,
    r#"active pr"#,
    r#"not (active eq true)"#,
    r#"emails.value co "999""#,
    r#"emails.value eq "ann@x.com""#,
    r#"emails.value ew "@X.COM""#,
    r#"emails.value ne "bob@x.com""#,
    r#"emails.value ne "under_score@x.com""#,
    r#"emails.value pr"#,
    r#"not (emails.value pr)"#,
    r#"emails.value co "%_""#,
    r#"emails[type eq "work"]"#,
    r#"emails[type eq "work" and value co "ann"]"#,
    r#"emails[type eq "work"].value eq "ann2@x.com""#,
    r#"emails[primary eq true]"#,
    r#"emails[not (primary eq true)]"#,
    r#"emails[value pr]"#,
    r#"emails[not (value pr)]"#,
    r#"meta.lastModified gt "2026-01-05""#,
    r#"meta.lastModified lt "2026-01-01T00:00:01Z""#,
    r#"meta.created eq "2026-01-01T00:00:00.000Z""#,
    r#"name.givenName eq "ann" or active eq false"#,
    r#"(userName sw "a" or userName sw "b") and not (active eq true)"#,
    r#"not (emails.value co "999" or name.familyName eq "lee")"#,
    r#"emails[type eq "work" and display pr]"#,
    // Not exact in SQL: read as a superset and evaluated in memory.
    r#"name.givenName eq "élodie""#,
    r#"nickName pr"#,
    r#"not (nickName eq "x") and userName sw "a""#,
    r#"emails[foo eq "x"] or name.familyName eq "lee""#,
    r#"name.givenName eq null"#,
    r#"emails[type eq "work" and nickName pr]"#,
];

#[tokio::test]
async fn sql_selects_what_the_evaluator_selects() {
    let s = store().await;
    seed(&s).await;
    let all = everyone(&s).await;
    assert_eq!(all.len(), people().len());
    let mut exact = 0;
    for text in FILTERS {
        let f = filter::parse(text).unwrap();
        let expected: Vec<String> = all
            .iter()
            .filter(|u| f.matches(&rendered(u), &DefaultSchema))
            .map(|u| u.id.clone())
            .collect();
        let is = is_exact(Table::Users, Some(&f), None);
        let query = Query {
            filter: Some(f),
            all: !is,
            limit: 100,
            ..Query::default()
        };
        let (got, total) = ids(&s, query).await;
        if is {
            exact += 1;
            assert_eq!(got, expected, "{text}");
            assert_eq!(total, expected.len() as u64, "{text}");
        } else {
            assert!(
                expected.iter().all(|e| got.contains(e)),
                "{text}: {got:?} lacks some of {expected:?}"
            );
        }
    }
    assert_eq!(
        exact,
        FILTERS.len() - 6,
        "every filter above the superset ones is exact"
    );
}

fn sorted_ids(all: &[UserRecord], descending: bool) -> Vec<String> {
    let mut v: Vec<&UserRecord> = all.iter().collect();
    v.sort_by_cached_key(|u| u.user_name.to_lowercase());
    if descending {
        v.reverse();
    }
    v.into_iter().map(|u| u.id.clone()).collect()
}

#[tokio::test]
async fn sorted_pages_come_from_sql_in_the_evaluator_order() {
    let s = store().await;
    seed(&s).await;
    let all = everyone(&s).await;
    for descending in [false, true] {
        let sort = Some(("USERNAME".parse::<AttrPath>().unwrap(), descending));
        assert!(is_exact(Table::Users, None, sort.as_ref()));
        let expected = sorted_ids(&all, descending);
        let (page, total) = ids(
            &s,
            Query {
                sort: sort.clone(),
                offset: 2,
                limit: 5,
                ..Query::default()
            },
        )
        .await;
        assert_eq!(total, all.len() as u64);
        assert_eq!(page, expected[2..7].to_vec(), "descending: {descending}");
        let f = filter::parse(r#"emails.value ew "x.com""#).unwrap();
        let (filtered, total) = ids(
            &s,
            Query {
                sort,
                filter: Some(f.clone()),
                limit: 100,
                ..Query::default()
            },
        )
        .await;
        let want: Vec<String> = expected
            .into_iter()
            .filter(|id| {
                let u = all.iter().find(|u| &u.id == id).unwrap();
                f.matches(&rendered(u), &DefaultSchema)
            })
            .collect();
        assert!(want.len() > 3, "the filter keeps several: {want:?}");
        assert_eq!((filtered, total), (want.clone(), want.len() as u64));
    }
}

#[tokio::test]
async fn in_memory_candidates_beyond_the_scan_limit_are_too_many() {
    let s = store().await;
    seed(&s).await;
    let f = filter::parse(r#"nickName pr or userName sw "a""#).unwrap();
    assert!(!is_exact(Table::Users, Some(&f), None));
    let query = |scan_limit| Query {
        filter: Some(f.clone()),
        all: true,
        scan_limit,
        ..Query::default()
    };
    let (got, _) = ids(&s, query(people().len() as u64)).await;
    assert_eq!(
        got.len(),
        people().len(),
        "no SQL narrows an untranslated `or`"
    );
    let err = s.directory.list_users(query(4)).await.unwrap_err();
    let StoreError::Rejected(e) = err else {
        panic!("expected a SCIM rejection, got {err:?}");
    };
    let body = e.to_json();
    assert_eq!(body["status"], "400", "{body}");
    assert_eq!(body["scimType"], "tooMany", "{body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("SPLASHSYNC_FILTER_SCAN_LIMIT"));
    // A translated conjunct narrows the candidates below the limit.
    let narrowed = filter::parse(r#"nickName pr and userName sw "a""#).unwrap();
    let (got, total) = ids(
        &s,
        Query {
            filter: Some(narrowed),
            ..query(4)
        },
    )
    .await;
    assert_eq!(
        (got, total),
        (vec!["u01".to_string(), "u10".to_string()], 2)
    );
}

#[tokio::test]
async fn group_names_filter_and_sort_in_sql() {
    let s = store().await;
    for (id, name) in [
        ("g1", "Sales"),
        ("g2", "sales_eu"),
        ("g3", "Support"),
        ("g4", "R&D%"),
    ] {
        s.directory
            .create_group(cx(GroupPolicy::Reject), common::group(id, name), Vec::new())
            .await
            .unwrap();
    }
    let list = |f: &str, descending: bool| Query {
        filter: Some(filter::parse(f).unwrap()),
        sort: Some(("displayName".parse().unwrap(), descending)),
        limit: 10,
        ..Query::default()
    };
    let names = |q: Query| {
        let d = s.directory.clone();
        async move {
            let (groups, _) = d.list_groups(q).await.unwrap();
            groups.into_iter().map(|g| g.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(list(r#"displayName sw "SALES""#, false)).await,
        ["g1", "g2"]
    );
    assert_eq!(names(list(r#"displayName co "_""#, false)).await, ["g2"]);
    assert_eq!(names(list(r#"displayName ew "%""#, false)).await, ["g4"]);
    assert_eq!(
        names(list(r#"displayName pr"#, true)).await,
        ["g3", "g2", "g1", "g4"]
    );
}
