//! The read-only provisioning extension over SCIM, through the binary's router: returned
//! only when `attributes` asks for it (`returned: "request"`), read with the resource on
//! single reads, lists and updates, and ignored when a client writes it back.

mod common;

use serde_json::{json, Value};
use splashsync_directory::audit::sqlite::SqliteAudit;
use splashsync_directory::audit::AuditStore;
use splashsync_directory::Directory;
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::{JobKey, Tenant};
use splashsync_receiver::provisioning::PROVISIONING;

/// Records what a worker would report for `key` at `version`.
async fn outcome(api: &common::Api, key: JobKey, version: i64, status: OutcomeStatus) {
    let audit = SqliteAudit::new(&api.directory);
    let event = OutcomeEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        job_id: uuid::Uuid::new_v4().to_string(),
        tenant: "default".into(),
        kind: key.kind().as_str().into(),
        key,
        version,
        attempt: 1,
        at: "2026-01-01T00:00:00.000Z".into(),
        status,
        detail: "Splashtop answered".into(),
        http_status: Some(503),
        error_code: None,
        reason: None,
        splashtop_id: Some("st-42".into()),
        worker: "w1".into(),
        next_attempt_at: None,
        name: None,
    };
    assert!(audit.record_outcome(event).await.unwrap());
}

/// `?attributes=` naming the extension.
fn asked() -> String {
    format!("attributes={PROVISIONING}")
}

async fn user(api: &common::Api, name: &str) -> String {
    let (s, _, b) = api
        .post(
            &format!("/scim/v2/Users?{}", asked()),
            &json!({"userName": name, "active": true}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b[PROVISIONING]["state"], "pending");
    b["id"].as_str().unwrap().to_string()
}

fn has_schema(resource: &Value) -> bool {
    resource["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == PROVISIONING)
}

#[tokio::test]
async fn reads_say_applied_once_the_worker_applied_the_latest_version() {
    let api = common::api().await;
    let id = user(&api, "ada@example.com").await;
    let key = JobKey::user(&Tenant::default(), &id);
    outcome(&api, key.clone(), 1, OutcomeStatus::Applied).await;
    let (s, _, b) = api.get(&format!("/scim/v2/Users/{id}?{}", asked())).await;
    assert_eq!(s, 200);
    assert!(has_schema(&b));
    assert_eq!(
        b[PROVISIONING],
        json!({"state": "applied", "lastError": null, "splashtopId": "st-42", "version": 1,
               "updated": b[PROVISIONING]["updated"].clone()})
    );
    // A change is pending at its new version, and says so in the PUT's answer already;
    // what is known (the Splashtop id) stays.
    let (s, _, b) = api
        .send(
            "PUT",
            &format!("/scim/v2/Users/{id}?{}", asked()),
            &json!({"userName": "ada@example.com", "active": false}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b[PROVISIONING]["state"], "pending");
    assert_eq!(b[PROVISIONING]["version"], 2);
    assert_eq!(b[PROVISIONING]["splashtopId"], "st-42");
    outcome(&api, key, 2, OutcomeStatus::Retrying).await;
    let (_, _, b) = api.get(&format!("/scim/v2/Users/{id}?{}", asked())).await;
    assert_eq!(b[PROVISIONING]["state"], "retrying");
    assert_eq!(b[PROVISIONING]["lastError"], "HTTP 503: Splashtop answered");
}

#[tokio::test]
async fn every_resource_of_a_page_carries_its_own_state() {
    let api = common::api().await;
    let a = user(&api, "a@example.com").await;
    let b = user(&api, "b@example.com").await;
    outcome(
        &api,
        JobKey::user(&Tenant::default(), &a),
        1,
        OutcomeStatus::Applied,
    )
    .await;
    let (s, _, page) = api
        .get(&format!("/scim/v2/Users?count=10&{}", asked()))
        .await;
    assert_eq!(s, 200);
    let states: Vec<(String, String)> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(has_schema(r), "{r}");
            let state = r[PROVISIONING]["state"].as_str().unwrap().to_string();
            (r["id"].as_str().unwrap().to_string(), state)
        })
        .collect();
    assert_eq!(
        states,
        vec![(a.clone(), "applied".into()), (b, "pending".into())]
    );
    // A filtered list (every row matched in memory, then paged) is annotated too.
    let (_, _, found) = api
        .get(&format!(
            "/scim/v2/Users?filter=userName%20eq%20%22a%40example.com%22&{}",
            asked()
        ))
        .await;
    assert_eq!(found["Resources"][0]["id"], a.as_str());
    assert_eq!(found["Resources"][0][PROVISIONING]["state"], "applied");
}

#[tokio::test]
async fn groups_carry_their_state_on_reads_lists_and_patches() {
    let api = common::api().await;
    let (s, _, g) = api
        .post("/scim/v2/Groups", &json!({"displayName": "Sales"}))
        .await;
    assert_eq!(s, 201);
    assert!(
        g.get(PROVISIONING).is_none(),
        "returned on request only: {g}"
    );
    let id = g["id"].as_str().unwrap();
    outcome(
        &api,
        JobKey::group(&Tenant::default(), id),
        1,
        OutcomeStatus::Applied,
    )
    .await;
    let (_, _, g) = api.get(&format!("/scim/v2/Groups/{id}")).await;
    assert!(g.get(PROVISIONING).is_none(), "{g}");
    let (_, _, g) = api.get(&format!("/scim/v2/Groups/{id}?{}", asked())).await;
    assert_eq!(g[PROVISIONING]["state"], "applied");
    let (_, _, list) = api.get(&format!("/scim/v2/Groups?{}", asked())).await;
    assert_eq!(list["Resources"][0][PROVISIONING]["state"], "applied");
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"displayName": "Revenue"}}]});
    let (s, _, g) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{id}?{}", asked()),
            &rename,
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g[PROVISIONING]["state"], "pending");
    assert_eq!(g[PROVISIONING]["version"], 2);
}

#[tokio::test]
async fn the_extension_is_absent_unless_attributes_names_it() {
    let api = common::api().await;
    let (s, _, created) = api
        .post("/scim/v2/Users", &json!({"userName": "p@example.com"}))
        .await;
    assert_eq!(s, 201);
    assert!(created.get(PROVISIONING).is_none(), "{created}");
    assert!(!has_schema(&created), "{created}");
    let id = created["id"].as_str().unwrap();
    for query in [
        "",
        "?attributes=userName",
        "?excludedAttributes=emails",
        "?attributes=userName,urn:ietf:params:scim:schemas:extension:splashsync:2.0:ProvisioningX",
    ] {
        let (_, _, b) = api.get(&format!("/scim/v2/Users/{id}{query}")).await;
        assert!(b.get(PROVISIONING).is_none(), "{query}: {b}");
        assert!(!has_schema(&b), "{query}: {b}");
        let sep = if query.is_empty() { "?" } else { "&" };
        let (_, _, list) = api.get(&format!("/scim/v2/Users{query}{sep}count=5")).await;
        assert_eq!(list["totalResults"], 1, "{query}");
        assert!(list["Resources"][0].get(PROVISIONING).is_none(), "{query}");
    }
    let replace = json!({"userName": "p@example.com", "displayName": "P"});
    let (s, _, b) = api
        .send("PUT", &format!("/scim/v2/Users/{id}"), &replace)
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get(PROVISIONING).is_none(), "{b}");
    // Named with the projection's other attributes, or one of its own attributes alone.
    let (_, _, b) = api
        .get(&format!(
            "/scim/v2/Users/{id}?attributes=userName,{PROVISIONING}"
        ))
        .await;
    assert_eq!(b["userName"], "p@example.com");
    assert_eq!(b[PROVISIONING]["state"], "pending");
    assert_eq!(b[PROVISIONING]["version"], 2);
    assert!(b.get("displayName").is_none(), "{b}");
    let (_, _, b) = api
        .get(&format!(
            "/scim/v2/Users/{id}?attributes={PROVISIONING}:state"
        ))
        .await;
    assert_eq!(b[PROVISIONING], json!({"state": "pending"}), "{b}");
}

#[tokio::test]
async fn a_client_writing_the_extension_back_is_ignored_not_refused() {
    let api = common::api().await;
    let forged = json!({"state": "applied", "splashtopId": "forged", "version": 99});
    let (s, _, created) = api
        .post(
            "/scim/v2/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", PROVISIONING],
                    "userName": "echo@example.com", PROVISIONING: forged}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert!(created.get(PROVISIONING).is_none(), "{created}");
    assert!(!has_schema(&created), "{created}");
    let id = created["id"].as_str().unwrap();
    // What a client read with attributes=, PUT back whole.
    let (_, _, mut read) = api.get(&format!("/scim/v2/Users/{id}?{}", asked())).await;
    read["userName"] = json!("echo@example.com");
    read[PROVISIONING] = forged.clone();
    read["displayName"] = json!("Echo");
    let (s, _, put) = api
        .send("PUT", &format!("/scim/v2/Users/{id}?{}", asked()), &read)
        .await;
    assert_eq!(s, 200, "{put}");
    assert_eq!(put["displayName"], "Echo");
    assert_eq!(put[PROVISIONING]["state"], "pending");
    assert_eq!(put[PROVISIONING]["splashtopId"], Value::Null);
    assert_eq!(put[PROVISIONING]["version"], 2);
    let stored = api.directory.get_user(id, None).await.unwrap().unwrap();
    assert!(
        !stored.resource.to_string().contains("forged"),
        "{}",
        stored.resource
    );
}

#[tokio::test]
async fn a_patch_targeting_the_extension_is_400_mutability() {
    let api = common::api().await;
    let id = user(&api, "m@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    for ops in [
        json!([{"op": "replace", "path": format!("{PROVISIONING}:state"), "value": "applied"}]),
        json!([{"op": "add", "path": PROVISIONING, "value": {"state": "applied"}}]),
        json!([{"op": "replace", "value": {PROVISIONING: {"state": "applied"}}}]),
        json!([{"op": "remove", "path": PROVISIONING}]),
    ] {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": ops});
        let (s, ct, b) = api.send("PATCH", &uri, &body).await;
        common::assert_scim_error(
            s,
            &ct,
            &b,
            axum::http::StatusCode::BAD_REQUEST,
            Some("mutability"),
        );
    }
    let (_, _, b) = api.get(&format!("{uri}?{}", asked())).await;
    assert_eq!(b[PROVISIONING]["state"], "pending");
    assert_eq!(b[PROVISIONING]["version"], 1, "no PATCH was applied");
}
