//! The read-only provisioning extension over SCIM, through the binary's router: read with
//! the resource, on single reads, lists and updates, and left out when projected away.

mod common;

use serde_json::{json, Value};
use splashsync_directory::audit::sqlite::SqliteAudit;
use splashsync_directory::audit::AuditStore;
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
    };
    assert!(audit.record_outcome(event).await.unwrap());
}

async fn user(api: &common::Api, name: &str) -> String {
    let (s, _, b) = api
        .post("/scim/v2/Users", &json!({"userName": name, "active": true}))
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
    let (s, _, b) = api.get(&format!("/scim/v2/Users/{id}")).await;
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
            &format!("/scim/v2/Users/{id}"),
            &json!({"userName": "ada@example.com", "active": false}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b[PROVISIONING]["state"], "pending");
    assert_eq!(b[PROVISIONING]["version"], 2);
    assert_eq!(b[PROVISIONING]["splashtopId"], "st-42");
    outcome(&api, key, 2, OutcomeStatus::Retrying).await;
    let (_, _, b) = api.get(&format!("/scim/v2/Users/{id}")).await;
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
    let (s, _, page) = api.get("/scim/v2/Users?count=10").await;
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
        .get("/scim/v2/Users?filter=userName%20eq%20%22a%40example.com%22")
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
    assert_eq!(g[PROVISIONING]["state"], "pending");
    let id = g["id"].as_str().unwrap();
    outcome(
        &api,
        JobKey::group(&Tenant::default(), id),
        1,
        OutcomeStatus::Applied,
    )
    .await;
    let (_, _, g) = api.get(&format!("/scim/v2/Groups/{id}")).await;
    assert_eq!(g[PROVISIONING]["state"], "applied");
    let (_, _, list) = api.get("/scim/v2/Groups").await;
    assert_eq!(list["Resources"][0][PROVISIONING]["state"], "applied");
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"displayName": "Revenue"}}]});
    let (s, _, g) = api
        .send("PATCH", &format!("/scim/v2/Groups/{id}"), &rename)
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g[PROVISIONING]["state"], "pending");
    assert_eq!(g[PROVISIONING]["version"], 2);
}

#[tokio::test]
async fn a_projection_can_leave_the_extension_out_but_a_create_always_says_pending() {
    let api = common::api().await;
    let id = user(&api, "p@example.com").await;
    for query in [
        "attributes=userName",
        "excludedAttributes=urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning",
    ] {
        let (_, _, b) = api.get(&format!("/scim/v2/Users/{id}?{query}")).await;
        assert!(b.get(PROVISIONING).is_none(), "{query}: {b}");
        assert!(!has_schema(&b), "{query}: {b}");
        let (_, _, list) = api.get(&format!("/scim/v2/Users?{query}")).await;
        assert_eq!(list["totalResults"], 1);
        assert!(list["Resources"][0].get(PROVISIONING).is_none(), "{query}");
    }
    let (_, _, b) = api
        .get(&format!(
            "/scim/v2/Users/{id}?attributes=userName,urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning"
        ))
        .await;
    assert_eq!(b[PROVISIONING]["state"], "pending");
    let (s, _, created) = api
        .post(
            "/scim/v2/Users?attributes=userName",
            &json!({"userName": "q@example.com"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(created[PROVISIONING]["state"], "pending");
}
