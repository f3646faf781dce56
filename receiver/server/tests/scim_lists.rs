//! Filters, sorting, projection and discovery over HTTP.

mod common;

use common::{api, assert_scim_error};
use serde_json::{json, Value};

async fn seeded() -> common::Api {
    let api = api().await;
    for (name, given, dept, active) in [
        ("alice@corp.com", "Alice", "Sales", true),
        ("bob@corp.com", "Bob", "R&D", false),
        ("carol@other.org", "Carol", "Sales", true),
        ("dave@corp.com", "Dave", "", true),
    ] {
        let mut body = json!({"userName": name, "name": {"givenName": given, "familyName": "X"}, "displayName": given,
            "emails": [{"value": name, "type": "work", "primary": true}], "active": active});
        if !dept.is_empty() {
            body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
                json!({"department": dept});
        }
        let (s, _, _) = api.post("/scim/v2/Users", &body).await;
        assert_eq!(s, 201);
    }
    api
}

fn names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_string())
        .collect()
}

fn q(filter: &str) -> String {
    let mut out = String::from("/scim/v2/Users?filter=");
    for b in filter.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[tokio::test]
async fn the_whole_filter_grammar_works_over_http() {
    let api = seeded().await;
    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "ALICE@corp.com""#, &["alice@corp.com"]),
        (
            r#"userName ne "alice@corp.com""#,
            &["bob@corp.com", "carol@other.org", "dave@corp.com"],
        ),
        (
            r#"userName co "corp""#,
            &["alice@corp.com", "bob@corp.com", "dave@corp.com"],
        ),
        (r#"userName sw "c""#, &["carol@other.org"]),
        (r#"userName ew ".org""#, &["carol@other.org"]),
        (r#"active eq false"#, &["bob@corp.com"]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr"#,
            &["alice@corp.com", "bob@corp.com", "carol@other.org"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales" and active eq true"#,
            &["alice@corp.com", "carol@other.org"],
        ),
        (
            r#"name.givenName gt "Bob" or userName eq "alice@corp.com""#,
            &["alice@corp.com", "carol@other.org", "dave@corp.com"],
        ),
        (r#"not (userName co "corp")"#, &["carol@other.org"]),
        (
            r#"(userName sw "a" or userName sw "b") and active eq true"#,
            &["alice@corp.com"],
        ),
        (
            r#"emails[type eq "work" and value ew "other.org"]"#,
            &["carol@other.org"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "dave@corp.com""#,
            &["dave@corp.com"],
        ),
        (
            r#"meta.created pr"#,
            &[
                "alice@corp.com",
                "bob@corp.com",
                "carol@other.org",
                "dave@corp.com",
            ],
        ),
        (r#"USERNAME EQ "bob@corp.com""#, &["bob@corp.com"]),
    ];
    for (filter, want) in cases {
        let (s, _, body) = api.get(&q(filter)).await;
        assert_eq!(s, 200, "{filter}: {body}");
        assert_eq!(names(&body), *want, "{filter}");
        assert_eq!(body["totalResults"], want.len());
    }
}

#[tokio::test]
async fn bad_filters_are_invalid_filter() {
    let api = seeded().await;
    for filter in [
        r#"userName eq"#,
        r#"userName xx "a""#,
        r#"(userName eq "a""#,
        r#"userName eq "unterminated"#,
        &"(".repeat(40),
    ] {
        let (s, ct, body) = api.get(&q(filter)).await;
        assert_scim_error(
            s,
            &ct,
            &body,
            axum::http::StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
        );
    }
}

#[tokio::test]
async fn sorting_paging_and_projection() {
    let api = seeded().await;
    let (_, _, b) = api
        .get("/scim/v2/Users?sortBy=name.givenName&sortOrder=descending&startIndex=2&count=2")
        .await;
    assert_eq!(names(&b), vec!["carol@other.org", "bob@corp.com"]);
    assert_eq!(b["totalResults"], 4);
    let (_, _, b) = api
        .get(
            "/scim/v2/Users?filter=userName%20co%20%22corp%22&sortBy=userName&count=1&startIndex=3",
        )
        .await;
    assert_eq!(
        (names(&b), b["totalResults"].clone()),
        (vec!["dave@corp.com".to_string()], json!(3))
    );
    let (_, _, b) = api
        .get("/scim/v2/Users?attributes=userName,name.givenName&count=1")
        .await;
    let r = &b["Resources"][0];
    assert_eq!(r["name"], json!({"givenName": "Alice"}));
    assert!(r.get("emails").is_none() && r.get("id").is_some() && r.get("meta").is_some());
    let (_, _, b) = api
        .get("/scim/v2/Users?excludedAttributes=emails,name&count=1")
        .await;
    let r = &b["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("name").is_none() && r.get("userName").is_some());
    let (s, ct, b) = api
        .get("/scim/v2/Users?sortBy=name.givenName&sortOrder=sideways")
        .await;
    assert_scim_error(
        s,
        &ct,
        &b,
        axum::http::StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    );
}

#[tokio::test]
async fn discovery_describes_what_the_server_does() {
    let api = api().await;
    let (s, _, spc) = api.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(s, 200);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let (_, _, rt) = api.get("/scim/v2/ResourceTypes").await;
    assert_eq!(rt["totalResults"], 2);
    let user = rt["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "User")
        .unwrap()
        .clone();
    assert!(user["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["schema"] == "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User"));
    let (_, _, schemas) = api.get("/scim/v2/Schemas").await;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:Group"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    let (s, _, splashtop) = api
        .get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User")
        .await;
    assert_eq!(s, 200);
    assert_eq!(splashtop["attributes"][0]["name"], "ssoName");
    let (_, _, core) = api
        .get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let user_name = core["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap()
        .clone();
    assert_eq!(
        (
            user_name["mutability"].as_str(),
            user_name["uniqueness"].as_str()
        ),
        (Some("immutable"), Some("server"))
    );
    let (s, _, _) = api.get("/scim/v2/Schemas/urn:nope").await;
    assert_eq!(s, 404);
}

/// Every attribute and sub-attribute, with its path, depth first.
fn attributes(list: &Value, prefix: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for a in list.as_array().into_iter().flatten() {
        let path = format!("{prefix}{}", a["name"].as_str().unwrap());
        out.push((path.clone(), a.clone()));
        out.extend(attributes(&a["subAttributes"], &format!("{path}.")));
    }
    out
}

#[tokio::test]
async fn schemas_carry_the_rfc_descriptions_and_their_meta() {
    let api = api().await;
    let (s, _, list) = api.get("/scim/v2/Schemas").await;
    assert_eq!(s, 200);
    let schemas = list["Resources"].as_array().unwrap();
    let described: Vec<(&str, &str)> = schemas
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["description"].as_str().unwrap(),
            )
        })
        .collect();
    for (urn, description) in [
        ("urn:ietf:params:scim:schemas:core:2.0:User", "User Account"),
        ("urn:ietf:params:scim:schemas:core:2.0:Group", "Group"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "Enterprise User",
        ),
    ] {
        assert!(described.contains(&(urn, description)), "{described:?}");
    }
    assert_eq!(list["totalResults"], 5);
    for schema in schemas {
        let id = schema["id"].as_str().unwrap();
        assert_eq!(
            schema["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
        );
        assert_eq!(schema["meta"]["resourceType"], "Schema");
        assert_eq!(
            schema["meta"]["location"],
            format!("http://scim.test/scim/v2/Schemas/{id}")
        );
        for (path, attr) in attributes(&schema["attributes"], "") {
            assert!(
                attr["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{id}:{path} has no description"
            );
        }
        // Each one alone, at its location.
        let (s, _, one) = api.get(&format!("/scim/v2/Schemas/{id}")).await;
        assert_eq!((s.as_u16(), &one), (200, schema));
    }
    // The provisioning extension is only returned when asked for (RFC 7643 §7).
    let (_, _, provisioning) = api
        .get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning")
        .await;
    for (path, attr) in attributes(&provisioning["attributes"], "") {
        assert_eq!(
            (attr["returned"].as_str(), attr["mutability"].as_str()),
            (Some("request"), Some("readOnly")),
            "{path}"
        );
    }
    // Every extension a resource type names is a schema served.
    let (_, _, types) = api.get("/scim/v2/ResourceTypes").await;
    let ids: Vec<&str> = schemas.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for rt in types["Resources"].as_array().unwrap() {
        assert!(ids.contains(&rt["schema"].as_str().unwrap()), "{rt}");
        for ext in rt["schemaExtensions"].as_array().unwrap() {
            assert!(ids.contains(&ext["schema"].as_str().unwrap()), "{rt}");
        }
    }
}

#[tokio::test]
async fn a_patch_body_of_any_shape_is_answered_without_a_500() {
    let api = seeded().await;
    let (_, _, list) = api.get("/scim/v2/Users?count=1").await;
    let id = list["Resources"][0]["id"].as_str().unwrap().to_string();
    let bodies = [
        json!(null),
        json!([]),
        json!("x"),
        json!({}),
        json!({"Operations": []}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "explode"}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove"}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "emails[", "value": 1}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": [1, 2]}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": {"a": 1}}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "userName"}]}),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
    ];
    for body in bodies {
        let (s, ct, b) = api
            .send("PATCH", &format!("/scim/v2/Users/{id}"), &body)
            .await;
        assert_eq!(s, 400, "{body} → {b}");
        assert_eq!(ct.as_deref(), Some("application/scim+json"));
        assert!(b["scimType"].is_string(), "{body} → {b}");
    }
}
