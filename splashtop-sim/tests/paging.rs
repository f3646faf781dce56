//! Paging of the user and group listings: `limit`, the opaque `cursor`, and 400 for a bad
//! one, against a spawned simulator.

mod common;

use common::{start, Sim};
use reqwest::StatusCode;
use serde_json::{json, Value};
use splashtop_sim::SimConfig;

/// Every item of a listing, page by page (`limit` per page): the items' `field` values
/// and the number of pages.
async fn walk(sim: &Sim, listing: &str, limit: u32, field: &str) -> (Vec<String>, usize) {
    let mut values = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = sim.team(&format!("/{listing}?limit={limit}"));
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let answer = sim.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {:?}", answer.body);
        pages += 1;
        let items = answer.body[listing].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= limit as usize, "{path}");
        values.extend(
            items
                .iter()
                .map(|item| item[field].as_str().unwrap_or_default().to_owned()),
        );
        match &answer.body["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => break,
            other => panic!("next_cursor is {other}"),
        }
    }
    (values, pages)
}

#[tokio::test]
async fn users_page_in_email_order_with_a_cursor() {
    let sim = start(SimConfig::default()).await;
    for i in (0..23).rev() {
        let email = format!("User{i:02}@example.com");
        assert_eq!(
            sim.invite(&email, json!({})).await.status,
            StatusCode::CREATED
        );
    }
    let (emails, pages) = walk(&sim, "users", 5, "email").await;
    let expected: Vec<String> = (0..23).map(|i| format!("User{i:02}@example.com")).collect();
    assert_eq!((emails, pages), (expected.clone(), 5));
    // Without `limit`, a page holds 100: all 23 at once, and no next page.
    let whole = sim.get(&sim.team("/users")).await;
    assert_eq!(whole.body["users"].as_array().map(Vec::len), Some(23));
    assert_eq!(whole.body["next_cursor"], Value::Null);
    // The email filter still pages (one user at most).
    let one = sim
        .get(&sim.team("/users?email=user07%40example.com&limit=1"))
        .await;
    assert_eq!(one.body["users"][0]["email"], json!(expected[7]));
    assert_eq!(one.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_user_removed_between_pages_shifts_nothing() {
    let sim = start(SimConfig::default()).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let invited = sim.invite(&format!("u{i}@example.com"), json!({})).await;
        ids.push(
            invited.body["user"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let first = sim.get(&sim.team("/users?limit=3")).await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The first page's last user and the next page's first user go away meanwhile.
    for id in [&ids[2], &ids[3]] {
        let gone = sim
            .call(
                reqwest::Method::DELETE,
                &sim.team(&format!("/users/{id}")),
                None,
            )
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
    }
    let second = sim
        .get(&sim.team(&format!("/users?limit=3&cursor={cursor}")))
        .await;
    let emails: Vec<&str> = second.body["users"]
        .as_array()
        .map(|users| users.iter().filter_map(|u| u["email"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(emails, ["u4@example.com", "u5@example.com"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn groups_page_in_name_order_the_default_group_included() {
    let sim = start(SimConfig::default()).await;
    for i in 0..11 {
        let name = format!("Team {i:02}");
        assert_eq!(sim.create_group(&name).await.status, StatusCode::CREATED);
    }
    let (names, pages) = walk(&sim, "groups", 4, "name").await;
    let mut expected = vec!["Default".to_owned()];
    expected.extend((0..11).map(|i| format!("Team {i:02}")));
    assert_eq!((names, pages), (expected, 3));
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400_invalid_request() {
    let sim = start(SimConfig::default()).await;
    for i in 0..3 {
        sim.invite(&format!("u{i}@example.com"), json!({})).await;
    }
    let users_cursor = sim.get(&sim.team("/users?limit=1")).await.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!users_cursor.is_empty());
    let bad = [
        "/users?limit=0".to_owned(),
        "/users?limit=501".to_owned(),
        "/users?limit=many".to_owned(),
        "/users?cursor=not-a-cursor".to_owned(),
        "/users?cursor=".to_owned(),
        format!("/groups?cursor={users_cursor}"),
    ];
    for path in bad {
        let answer = sim.get(&sim.team(&path)).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{path}"
        );
    }
    let max = sim.get(&sim.team("/users?limit=500")).await;
    assert_eq!(max.status, StatusCode::OK);
}
