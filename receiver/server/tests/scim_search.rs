//! Queries by POST (RFC 7644 §3.4.3) through the binary's router: `/Users/.search` and
//! `/Groups/.search` answer as the same GET does, `/.search` spans both resource types.

mod common;

use axum::http::StatusCode;
use common::{api, assert_scim_error, Api};
use serde_json::{json, Value};

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const PROVISIONING: &str = "urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning";

fn search(params: Value) -> Value {
    let mut body = json!({"schemas": [SEARCH]});
    body.as_object_mut()
        .unwrap()
        .extend(params.as_object().unwrap().clone());
    body
}

/// Users a@corp.com … e@corp.com and x@other.org, then groups G1 (with a's user) and G2.
async fn seeded() -> Api {
    let api = api().await;
    let mut ids = Vec::new();
    for (name, given) in [
        ("c@corp.com", "Cy"),
        ("a@corp.com", "Al"),
        ("e@corp.com", "Ed"),
        ("x@other.org", "Xi"),
        ("b@corp.com", "Bo"),
        ("d@corp.com", "Di"),
    ] {
        let (s, _, b) = api
            .post(
                "/scim/v2/Users",
                &json!({"userName": name, "name": {"givenName": given, "familyName": "F"}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    for (name, members) in [("G1", json!([{"value": ids[1]}])), ("G2", json!([]))] {
        let (s, _, b) = api
            .post(
                "/scim/v2/Groups",
                &json!({"displayName": name, "members": members}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    api
}

fn names(list: &Value, attr: &str) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[attr].as_str().unwrap_or("-").to_string())
        .collect()
}

#[tokio::test]
async fn users_search_filters_sorts_pages_and_projects_as_get_does() {
    let api = seeded().await;
    let (s, _, found) = api
        .post(
            "/scim/v2/Users/.search",
            &search(
                json!({"filter": "userName co \"corp\"", "sortBy": "userName",
                "sortOrder": "descending", "startIndex": 2, "count": 2,
                "attributes": ["userName", "name.givenName"]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 5);
    assert_eq!(
        (found["startIndex"].clone(), found["itemsPerPage"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(names(&found, "userName"), ["d@corp.com", "c@corp.com"]);
    let first = &found["Resources"][0];
    assert_eq!(first["name"], json!({"givenName": "Di"}));
    assert!(first.get("active").is_none(), "{first}");
    assert_eq!(first["meta"]["resourceType"], "User");
    let (_, _, got) = api
        .get("/scim/v2/Users?filter=userName%20co%20%22corp%22&sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName,name.givenName")
        .await;
    assert_eq!(found, got, "the same answer as the GET");
    // Lower case and without a filter: the first page in creation order.
    let (s, _, all) = api
        .post("/scim/v2/users/.search", &search(json!({"count": 3})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["totalResults"], 6);
    assert_eq!(
        names(&all, "userName"),
        ["c@corp.com", "a@corp.com", "e@corp.com"]
    );
}

#[tokio::test]
async fn groups_search_filters_and_leaves_members_out_when_excluded() {
    let api = seeded().await;
    let (s, _, found) = api
        .post(
            "/scim/v2/Groups/.search",
            &search(json!({"filter": "displayName eq \"g1\"", "excludedAttributes": ["members"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(names(&found, "displayName"), ["G1"]);
    assert!(found["Resources"][0].get("members").is_none());
    let (_, _, sorted) = api
        .post(
            "/scim/v2/Groups/.search",
            &search(json!({"sortBy": "displayName", "sortOrder": "descending"})),
        )
        .await;
    assert_eq!(names(&sorted, "displayName"), ["G2", "G1"]);
    assert_eq!(
        sorted["Resources"][1]["members"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn root_search_spans_users_then_groups_and_pages_across_them() {
    let api = seeded().await;
    let (s, _, all) = api.post("/scim/v2/.search", &search(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(all["totalResults"], 8);
    let types: Vec<&str> = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["User", "User", "User", "User", "User", "User", "Group", "Group"]
    );
    assert_eq!(
        all["Resources"][6]["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    // Each page of the combined sequence, across the boundary between the types.
    for (start, count, expected) in [
        (5, 3, vec!["b@corp.com", "d@corp.com", "G1"]),
        (7, 5, vec!["G1", "G2"]),
        (9, 2, vec![]),
    ] {
        let (_, _, page) = api
            .post(
                "/scim/v2/.search",
                &search(json!({"startIndex": start, "count": count})),
            )
            .await;
        let got: Vec<String> = page["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["userName"]
                    .as_str()
                    .or(r["displayName"].as_str())
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(got, expected, "startIndex {start} count {count}");
        assert_eq!(page["totalResults"], 8);
        assert_eq!(page["startIndex"], start);
    }
    let (_, _, counted) = api
        .post("/scim/v2/.search", &search(json!({"count": 0})))
        .await;
    assert_eq!(
        (
            counted["totalResults"].clone(),
            counted["itemsPerPage"].clone()
        ),
        (json!(8), json!(0))
    );
}

#[tokio::test]
async fn root_search_filters_and_sorts_across_types() {
    let api = seeded().await;
    // An attribute one type lacks matches none of that type (RFC 7644 §3.4.2.2).
    let (_, _, users) = api
        .post(
            "/scim/v2/.search",
            &search(json!({"filter": "userName sw \"a\""})),
        )
        .await;
    assert_eq!(names(&users, "userName"), ["a@corp.com"]);
    let (_, _, groups) = api
        .post(
            "/scim/v2/.search",
            &search(
                json!({"filter": "meta.resourceType eq \"Group\"", "attributes": ["displayName"]}),
            ),
        )
        .await;
    assert_eq!(names(&groups, "displayName"), ["G1", "G2"]);
    assert!(groups["Resources"][0].get("members").is_none());
    // Sorted over the combined sequence, then paged: the groups first, then the user.
    let body = |start: u64| {
        search(
            json!({"filter": "displayName pr or name.givenName sw \"D\"",
            "sortBy": "meta.resourceType", "startIndex": start, "count": 2}),
        )
    };
    let (_, _, first) = api.post("/scim/v2/.search", &body(1)).await;
    assert_eq!(first["totalResults"], 3);
    assert_eq!(names(&first, "displayName"), ["G1", "G2"]);
    let (_, _, second) = api.post("/scim/v2/.search", &body(3)).await;
    assert_eq!(names(&second, "userName"), ["d@corp.com"]);
}

#[tokio::test]
async fn search_returns_the_provisioning_extension_only_when_asked() {
    let api = seeded().await;
    let (_, _, plain) = api
        .post("/scim/v2/Users/.search", &search(json!({"count": 1})))
        .await;
    assert!(plain["Resources"][0].get(PROVISIONING).is_none());
    let (_, _, asked) = api
        .post(
            "/scim/v2/.search",
            &search(json!({"attributes": [PROVISIONING, "userName"], "count": 8})),
        )
        .await;
    for r in asked["Resources"].as_array().unwrap() {
        assert_eq!(r[PROVISIONING]["state"], "pending", "{r}");
    }
}

#[tokio::test]
async fn a_bad_search_request_is_a_scim_400() {
    let api = seeded().await;
    for (body, scim_type) in [
        (json!({"filter": "userName eq \"a\""}), "invalidSyntax"),
        (json!([1]), "invalidSyntax"),
        (search(json!({"count": "ten"})), "invalidValue"),
        (search(json!({"count": true})), "invalidValue"),
        (search(json!({"attributes": [5]})), "invalidValue"),
        (
            search(json!({"filter": "userName zz \"a\""})),
            "invalidFilter",
        ),
        (
            search(json!({"sortOrder": "sideways", "sortBy": "userName"})),
            "invalidValue",
        ),
    ] {
        for path in ["/scim/v2/Users/.search", "/scim/v2/.search"] {
            let (s, ct, b) = api.post(path, &body).await;
            assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some(scim_type));
        }
    }
    let (s, ct, b) = api.get("/scim/v2/Users/.search").await;
    assert_scim_error(s, &ct, &b, StatusCode::METHOD_NOT_ALLOWED, None);
}
