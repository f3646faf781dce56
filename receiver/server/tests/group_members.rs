//! Group members over SCIM: an id that is no user here is kept as written and shown as a
//! warning while the other members apply (issue 9); a request naming more members or
//! operations than the limits is 413 with a SCIM error body and writes nothing (issue 13).

mod common;

use axum::http::StatusCode;
use common::{api, assert_scim_error};
use serde_json::{json, Value};
use splashsync_directory::{MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS};

const PROVISIONING: &str = "urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning";

/// The extension is `returned: "request"`: these reads ask for it.
const ASKED: &str =
    "attributes=urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning,members,displayName";

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn user(api: &common::Api, name: &str) -> String {
    let (s, _, b) = api
        .post(
            "/scim/v2/Users",
            &json!({"userName": format!("{name}@x.com"), "displayName": name, "active": true}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_str().unwrap().to_string()
}

/// The user ids the user jobs are about, in commit order.
fn job_users(jobs: &[Value]) -> Vec<String> {
    jobs.iter()
        .filter(|j| j["type"] == "UserV1")
        .filter_map(|j| j["state"]["user_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_push_naming_a_stale_id_applies_the_others_and_keeps_it_with_a_warning() {
    let api = api().await;
    let (ada, bob) = (user(&api, "ada").await, user(&api, "bob").await);
    let n = api.jobs().await.len();
    // Okta's objects and Entra's bare ids alike.
    let (s, _, g) = api
        .post(
            &format!("/scim/v2/Groups?{ASKED}"),
            &json!({"displayName": "Sales", "members": [{"value": ada}, "stale-id", bob]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let values: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, [ada.as_str(), "stale-id", bob.as_str()]);
    assert_eq!(
        g["members"][1],
        json!({"value": "stale-id", "type": "User"})
    );
    assert_eq!(g["members"][0]["display"], "ada");
    let warning = "member stale-id is not a user of this directory; kept, not provisioned";
    assert_eq!(g[PROVISIONING]["warnings"], json!([warning]));
    assert_eq!(
        job_users(&api.jobs_after(n).await),
        [ada.clone(), bob.clone()]
    );
    let gid = g["id"].as_str().unwrap();
    let (_, _, read) = api.get(&format!("/scim/v2/Groups/{gid}?{ASKED}")).await;
    assert_eq!(
        read["members"], g["members"],
        "a read returns what was written"
    );
    assert_eq!(read[PROVISIONING]["warnings"], json!([warning]));
    // Removing it takes the warning away and provisions nobody.
    let n = api.jobs().await.len();
    let (s, _, after) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}?{ASKED}"),
            &patch(json!([{"op": "remove", "path": "members[value eq \"stale-id\"]"}])),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["members"].as_array().unwrap().len(), 2);
    assert_eq!(after[PROVISIONING]["state"], "pending");
    assert!(after[PROVISIONING].get("warnings").is_none(), "{after}");
    assert!(job_users(&api.jobs_after(n).await).is_empty());
}

#[tokio::test]
async fn a_patch_adding_a_stale_id_among_others_applies_the_others() {
    let api = api().await;
    let ada = user(&api, "ada").await;
    let (_, _, g) = api
        .post("/scim/v2/Groups", &json!({"displayName": "Sales"}))
        .await;
    let gid = g["id"].as_str().unwrap();
    let n = api.jobs().await.len();
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}?{ASKED}"),
            &patch(json!([{"op": "add", "path": "members",
                           "value": [{"value": "gone-1"}, {"value": ada}, "gone-2"]}])),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b[PROVISIONING]["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(job_users(&api.jobs_after(n).await), [ada]);
}

#[tokio::test]
async fn more_members_or_operations_than_the_limits_is_413_and_writes_nothing() {
    let api = api().await;
    let (_, _, g) = api
        .post("/scim/v2/Groups", &json!({"displayName": "Sales"}))
        .await;
    let gid = g["id"].as_str().unwrap();
    let n = api.jobs().await.len();
    let too_many: Vec<String> = (0..=MAX_MEMBERS_PER_REQUEST)
        .map(|i| format!("u{i}"))
        .collect();
    let (s, ct, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            &patch(json!([{"op": "add", "path": "members", "value": too_many}])),
        )
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::PAYLOAD_TOO_LARGE, None);
    let (s, ct, b) = api
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "Big", "members": too_many}),
        )
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::PAYLOAD_TOO_LARGE, None);
    let ops: Vec<Value> = (0..=MAX_PATCH_OPERATIONS)
        .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("n{i}")}))
        .collect();
    let (s, ct, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            &patch(json!(ops)),
        )
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert!(b["detail"].as_str().unwrap().contains("operations"), "{b}");
    // At the limit itself the request is accepted.
    let at_limit: Vec<String> = too_many[1..].to_vec();
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"),
            &patch(json!([{"op": "add", "path": "members", "value": at_limit}])),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        api.jobs().await.len(),
        n,
        "nothing refused was written, and unknown ids have no job"
    );
}
