//! One tenant's SCIM token never reads, lists, filters into or changes the other's users or
//! groups (the same userName in both is two people); each tenant's jobs go to its own
//! queues, carrying its name.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{two_tenants, APAC_TOKEN, EMEA_TOKEN};

pub(crate) fn user(user_name: &str, given: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given, "familyName": "Same"},
        "active": true
    })
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|u| u["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_token_never_reaches_the_others_users() {
    let app = two_tenants(false).await;
    let (s, emea_user) = app
        .call(
            EMEA_TOKEN,
            "POST",
            "/Users",
            Some(user("same@example.com", "Emea")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{emea_user}");
    let (s, apac_user) = app
        .call(
            APAC_TOKEN,
            "POST",
            "/Users",
            Some(user("same@example.com", "Apac")),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the same userName in another tenant is another person: {apac_user}"
    );
    let (emea_id, apac_id) = (
        emea_user["id"].as_str().unwrap(),
        apac_user["id"].as_str().unwrap(),
    );
    assert_ne!(emea_id, apac_id);

    // Reads: its own user by id, never the other's; lists and filters see only its own.
    let (s, own) = app
        .call(EMEA_TOKEN, "GET", &format!("/Users/{emea_id}"), None)
        .await;
    assert_eq!(
        (s, own["name"]["givenName"].as_str()),
        (StatusCode::OK, Some("Emea"))
    );
    let (s, _) = app
        .call(EMEA_TOKEN, "GET", &format!("/Users/{apac_id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.call(EMEA_TOKEN, "GET", "/Users", None).await;
    assert_eq!(ids(&list), [emea_id]);
    let filter = "/Users?filter=userName%20eq%20%22same@example.com%22";
    let (_, found) = app.call(APAC_TOKEN, "GET", filter, None).await;
    assert_eq!(ids(&found), [apac_id]);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "name.givenName eq \"Apac\""});
    let (s, found) = app
        .call(EMEA_TOKEN, "POST", "/Users/.search", Some(search))
        .await;
    assert_eq!(
        (s, found["totalResults"].as_u64()),
        (StatusCode::OK, Some(0))
    );

    // Writes to the other tenant's id find nothing, and change nothing there.
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let path = format!("/Users/{apac_id}");
    assert_eq!(
        app.call(EMEA_TOKEN, "PATCH", &path, Some(off)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(
            EMEA_TOKEN,
            "PUT",
            &path,
            Some(user("same@example.com", "Hijack"))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(EMEA_TOKEN, "DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, still) = app.call(APAC_TOKEN, "GET", &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            still["active"].as_bool(),
            still["name"]["givenName"].as_str()
        ),
        (Some(true), Some("Apac"))
    );
    assert_eq!(still["meta"]["version"], apac_user["meta"]["version"]);

    // No token, or a token of no tenant: 401.
    assert_eq!(
        app.call("nobody-Qm2LrT7vWc8ZpA1sDf4GhJ6kLz9", "GET", "/Users", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Each tenant's jobs travel on its own queues, under its own name.
    assert_eq!(super::job_tenants(&app.topology("emea"), 1).await, ["emea"]);
    assert_eq!(super::job_tenants(&app.topology("apac"), 1).await, ["apac"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_token_never_reaches_the_others_groups() {
    let app = two_tenants(false).await;
    let (_, emea_user) = app
        .call(
            EMEA_TOKEN,
            "POST",
            "/Users",
            Some(user("g@example.com", "Emea")),
        )
        .await;
    let (_, apac_user) = app
        .call(
            APAC_TOKEN,
            "POST",
            "/Users",
            Some(user("g@example.com", "Apac")),
        )
        .await;
    let group = |members: Vec<&str>| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
               "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()})
    };
    let apac_uid = apac_user["id"].as_str().unwrap();
    let (s, apac_group) = app
        .call(APAC_TOKEN, "POST", "/Groups", Some(group(vec![apac_uid])))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{apac_group}");
    let apac_user_path = format!("/Users/{apac_uid}");
    let before = app.call(APAC_TOKEN, "GET", &apac_user_path, None).await.1;
    // The same group name in another tenant is another group. Naming the other tenant's
    // user id as a member names nobody there (an id unknown to this directory, as any).
    let emea_uid = emea_user["id"].as_str().unwrap();
    let (s, emea_group) = app
        .call(
            EMEA_TOKEN,
            "POST",
            "/Groups",
            Some(group(vec![emea_uid, apac_uid])),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{emea_group}");
    let (emea_gid, apac_gid) = (
        emea_group["id"].as_str().unwrap(),
        apac_group["id"].as_str().unwrap(),
    );

    let filter = "/Groups?filter=displayName%20eq%20%22Sales%22";
    assert_eq!(
        ids(&app.call(EMEA_TOKEN, "GET", filter, None).await.1),
        [emea_gid]
    );
    assert_eq!(
        ids(&app.call(APAC_TOKEN, "GET", filter, None).await.1),
        [apac_gid]
    );
    let path = format!("/Groups/{apac_gid}");
    assert_eq!(
        app.call(EMEA_TOKEN, "GET", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations": [{"op": "add", "path": "members", "value": [{"value": emea_uid}]}]});
    assert_eq!(
        app.call(EMEA_TOKEN, "PATCH", &path, Some(add)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(EMEA_TOKEN, "DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, still) = app.call(APAC_TOKEN, "GET", &path, None).await;
    assert_eq!(s, StatusCode::OK);
    // Neither write of the other tenant touched this tenant's user (a membership change
    // bumps the member's version).
    let after = app.call(APAC_TOKEN, "GET", &apac_user_path, None).await.1;
    assert_eq!(after["meta"]["version"], before["meta"]["version"]);
    let members: Vec<_> = still["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    assert_eq!(members, [json!(apac_uid)]);
    app.stop().await;
}
