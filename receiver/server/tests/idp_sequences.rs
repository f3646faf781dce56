//! The request sequences Okta and Entra ID really send, replayed in order, asserting the
//! status, the body and the jobs each write puts in the outbox.

mod common;

use common::{api, api_with, api_with_policies, assert_scim_error};
use serde_json::{json, Value};
use splashsync_directory::model::RenamePolicy;
use splashsync_directory::GroupPolicy;
use splashsync_protocol::job::Job;

fn okta_user(email: &str, given: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": "User"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} User"), "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "password": "1mz050nq", "active": true,
        "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User": {"ssoName": "Okta SSO"}
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[tokio::test]
async fn okta_user_lifecycle_writes_one_job_per_change_with_increasing_versions() {
    okta_user_lifecycle(api().await).await;
}

/// Okta's lifecycle changes no userName: the same jobs under the rename policy `reinvite`.
#[tokio::test]
async fn okta_user_lifecycle_is_the_same_under_the_reinvite_rename_policy() {
    okta_user_lifecycle(api_with_policies(GroupPolicy::Reject, RenamePolicy::Reinvite).await).await;
}

async fn okta_user_lifecycle(api: common::Api) {
    // Test API Credentials.
    let (s, _, b) = api.get("/scim/v2/Users?startIndex=1&count=2").await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 0);
    assert_eq!(b["Resources"], json!([]));
    // Does the user exist? Then create.
    let (_, _, b) = api.get("/scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100").await;
    assert_eq!(b["totalResults"], 0);
    let (s, _, created) = api
        .post("/scim/v2/Users", &okta_user("test.user@okta.local", "Test"))
        .await;
    assert_eq!(s, 201);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User"]["ssoName"],
        "Okta SSO"
    );
    // Profile update by GET then full PUT.
    let (_, _, mut current) = api.get(&format!("/scim/v2/Users/{id}")).await;
    current["name"]["givenName"] = json!("Another");
    let (s, _, updated) = api
        .send("PUT", &format!("/scim/v2/Users/{id}"), &current)
        .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["name"]["givenName"], "Another");
    assert_eq!(updated["meta"]["version"], "W/\"2\"");
    // Deactivate: path-less PATCH.
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["active"], false);
    // 20-40 s later Okta reads it back: 200 with active false, never 404.
    let (s, _, b) = api.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!((s.as_u16(), b["active"].clone()), (200, json!(false)));
    // Reactivate.
    let (_, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(b["active"], true);

    let jobs = api.jobs().await;
    let versions: Vec<i64> = jobs
        .iter()
        .map(|j| j["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    assert!(jobs
        .iter()
        .all(|j| j["key"] == format!("default/user/{id}") && j["type"] == "UserV1"));
    let actives: Vec<bool> = jobs
        .iter()
        .map(|j| j["state"]["active"].as_bool().unwrap())
        .collect();
    assert_eq!(actives, vec![true, true, false, true]);
    assert_eq!(jobs[1]["state"]["first_name"], "Another");
    assert_eq!(jobs[0]["state"]["sso_name"], "Okta SSO");
    // Which call, and which token (a fingerprint, never the token itself).
    let origin = jobs[2]["origin"].as_str().unwrap();
    assert_eq!(
        origin,
        format!(
            "PATCH /Users/{id} by {}",
            splashsync_receiver::routes::token_fingerprint(common::TOKEN)
        )
    );
    assert!(!origin.contains(common::TOKEN));
    // Re-sending the same profile changes nothing and writes no job.
    let (_, _, same) = api.get(&format!("/scim/v2/Users/{id}")).await;
    let (s, _, _) = api
        .send("PUT", &format!("/scim/v2/Users/{id}"), &same)
        .await;
    assert_eq!(s, 200);
    assert_eq!(api.jobs().await.len(), 4);
}

/// Entra's recorded `create_user` then `update_user` (fixtures/idp/azuread, verbatim): a
/// user created with a non-email userName (its primary email is the account), then one
/// PATCH that changes the work email, the family name and the userName (now an email,
/// the new account) and deactivates. `reject` refuses the PATCH with 400 `mutability`;
/// `reinvite` answers what Entra recorded, and writes the new account's job (inactive:
/// nothing to invite) and the old account's retirement.
#[tokio::test]
async fn entra_recorded_update_user_under_both_rename_policies() {
    let load = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    let create = load(include_str!("fixtures/idp/azuread/create_user.json"));
    let update = load(include_str!("fixtures/idp/azuread/update_user.json"));
    for rename in RenamePolicy::ALL {
        let api = api_with_policies(GroupPolicy::Reject, rename).await;
        let (s, _, created) = api.post("/scim/v2/Users", &create["request"]).await;
        assert_eq!(json!(s.as_u16()), create["statusCode"], "{created}");
        for attr in ["userName", "externalId", "active", "name", "emails"] {
            assert_eq!(created[attr], create["response"][attr], "{attr}");
        }
        let id = created["id"].as_str().unwrap();
        let skip = api.jobs().await.len();
        let (s, ct, b) = api
            .send("PATCH", &format!("/scim/v2/Users/{id}"), &update["request"])
            .await;
        let jobs: Vec<Job> = api
            .jobs_after(skip)
            .await
            .into_iter()
            .map(|j| serde_json::from_value(j).unwrap())
            .collect();
        if rename == RenamePolicy::Reject {
            let bad = axum::http::StatusCode::BAD_REQUEST;
            assert_scim_error(s, &ct, &b, bad, Some("mutability"));
            assert!(jobs.is_empty(), "{jobs:?}");
            continue;
        }
        assert_eq!(json!(s.as_u16()), update["statusCode"], "{b}");
        for attr in ["userName", "active", "emails"] {
            assert_eq!(b[attr], update["response"][attr], "{attr}");
        }
        assert_eq!(b["id"], id);
        assert_eq!(b["name"]["familyName"], "updatedFamilyName");
        let said: Vec<(String, &str, bool)> = jobs
            .iter()
            .map(|j| match j {
                Job::UserV1(u) => (
                    u.meta.key.to_string(),
                    u.state.email.as_str(),
                    u.state.active,
                ),
                Job::GroupV1(_) => panic!("a user job"),
            })
            .collect();
        let (old, new) = (
            "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
            "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com",
        );
        assert_eq!(
            said,
            [
                (format!("default/user/{id}"), new, false),
                (
                    format!("default/user/{id}/account/{}", old.to_lowercase()),
                    old,
                    false
                ),
            ]
        );
        let Job::UserV1(invite) = &jobs[0] else {
            unreachable!()
        };
        assert!(
            invite.meta.origin.contains(&format!(
                "userName changed from Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1 to {new}: \
                 {new} not invited (the user is inactive), {old} retired"
            )),
            "{}",
            invite.meta.origin
        );
    }
}

#[tokio::test]
async fn entra_user_patch_with_capitalised_ops_string_booleans_and_value_paths() {
    let api = api().await;
    let (_, _, u) = api
        .post(
            "/scim/v2/Users",
            &json!({"userName": "Test_User_ab@testuser.com", "externalId": "0a21",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_ab@testuser.com"}],
        "name": {"givenName": "givenName", "familyName": "familyName"}, "active": true}),
        )
        .await;
    let id = u["id"].as_str().unwrap();
    let (s, _, b) = api.send("PATCH", &format!("/scim/v2/Users/{id}"), &patch(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "replace", "value": {"name.givenName": "Given2",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"}}
    ]))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(b["name"]["familyName"], "updatedFamilyName");
    assert_eq!(b["name"]["givenName"], "Given2");
    assert_eq!(b["active"], false);
    assert_eq!(
        b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "42"
    );
    // Entra's filters.
    for f in [
        "externalId%20eq%20%220a21%22",
        "emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22updatedEmail%40microsoft.com%22",
        "userName%20eq%20%22test_user_ab%40testuser.com%22%20and%20externalId%20eq%20%220a21%22",
    ] {
        let (s, _, b) = api.get(&format!("/scim/v2/Users?filter={f}")).await;
        assert_eq!(
            (s.as_u16(), b["totalResults"].clone()),
            (200, json!(1)),
            "filter {f}: {b}"
        );
    }
}

#[tokio::test]
async fn a_user_name_change_is_refused_with_mutability_by_put_and_patch() {
    let api = api().await;
    let (_, _, u) = api
        .post("/scim/v2/Users", &okta_user("keep@x.com", "K"))
        .await;
    let id = u["id"].as_str().unwrap();
    let mut body = u.clone();
    body["userName"] = json!("other@x.com");
    let (s, ct, b) = api
        .send("PUT", &format!("/scim/v2/Users/{id}"), &body)
        .await;
    assert_scim_error(
        s,
        &ct,
        &b,
        axum::http::StatusCode::BAD_REQUEST,
        Some("mutability"),
    );
    assert!(b["detail"].as_str().unwrap().contains("Splashtop"));
    let (s, ct, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "replace", "path": "userName", "value": "x@y.com"}])),
        )
        .await;
    assert_scim_error(
        s,
        &ct,
        &b,
        axum::http::StatusCode::BAD_REQUEST,
        Some("mutability"),
    );
    // A case-only change is the same Splashtop account: accepted, spelling kept.
    body["userName"] = json!("KEEP@X.COM");
    let (s, _, b) = api
        .send("PUT", &format!("/scim/v2/Users/{id}"), &body)
        .await;
    assert_eq!(
        (s.as_u16(), b["userName"].clone()),
        (200, json!("keep@x.com"))
    );
    assert_eq!(api.jobs().await.len(), 1, "refused changes write no job");
}

#[tokio::test]
async fn okta_group_push_membership_rename_push_now_and_delete() {
    let api = api().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, _, u) = api
            .post("/scim/v2/Users", &okta_user(&format!("m{i}@x.com"), "M"))
            .await;
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let base = api.jobs().await.len();
    // Push group with one member.
    let (s, _, g) = api
        .post(
            "/scim/v2/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Sales", "members": [{"value": ids[0], "display": "m0@x.com"}]}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["members"][0]["value"], ids[0]);
    let jobs = api.jobs_after(base).await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        (
            jobs[0]["type"].as_str(),
            jobs[0]["state"]["display_name"].as_str()
        ),
        (Some("GroupV1"), Some("Sales"))
    );
    assert_eq!(jobs[1]["state"]["group"]["display_name"], "Sales");
    // Link group.
    let (_, _, l) = api
        .get("/scim/v2/Groups?filter=displayName%20eq%20%22sales%22&excludedAttributes=members")
        .await;
    assert_eq!(l["totalResults"], 1);
    assert!(l["Resources"][0].get("members").is_none());
    // Add member, remove member (Okta's forms).
    let n = api.jobs().await.len();
    let (s, _, _) = api.send("PATCH", &format!("/scim/v2/Groups/{gid}"), &patch(json!([
        {"op": "add", "path": "members", "value": [{"value": ids[1], "display": "m1@x.com"}]},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}
    ]))).await;
    assert_eq!(s, 200);
    let jobs = api.jobs_after(n).await;
    assert_eq!(jobs.len(), 2, "one job per affected user");
    let by_user = |id: &str| {
        jobs.iter()
            .find(|j| j["state"]["user_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_user(&ids[1])["state"]["group"]["display_name"], "Sales");
    assert_eq!(
        by_user(&ids[0])["state"]["group"],
        Value::Null,
        "back to the default group"
    );
    // Rename: path-less replace with the id in the value.
    let n = api.jobs().await.len();
    let (s, _, r) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            &patch(json!([
                {"op": "replace", "value": {"id": gid, "displayName": "Sales EMEA"}}
            ])),
        )
        .await;
    assert_eq!(
        (s.as_u16(), r["displayName"].as_str()),
        (200, Some("Sales EMEA"))
    );
    let jobs = api.jobs_after(n).await;
    assert_eq!(jobs[0]["type"], "GroupV1");
    assert_eq!(jobs[0]["state"]["former_names"], json!(["Sales"]));
    assert_eq!(
        jobs[1]["state"]["group"]["display_name"], "Sales EMEA",
        "members follow the rename"
    );
    // Push Now: a full replace of members, diffed.
    let n = api.jobs().await.len();
    let (s, _, p) = api
        .send(
            "PUT",
            &format!("/scim/v2/Groups/{gid}"),
            &json!({"displayName": "Sales EMEA",
        "members": [{"value": ids[1]}, {"value": ids[2]}]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(p["members"].as_array().unwrap().len(), 2);
    let jobs = api.jobs_after(n).await;
    assert_eq!(jobs.len(), 1, "only the new member's desired state changed");
    assert_eq!(jobs[0]["state"]["user_id"], ids[2]);
    // Delete group.
    let n = api.jobs().await.len();
    let (s, _, _) = api
        .call(
            "DELETE",
            &format!("/scim/v2/Groups/{gid}"),
            None,
            Some(common::TOKEN),
        )
        .await;
    assert_eq!(s, 204);
    let jobs = api.jobs_after(n).await;
    assert_eq!(jobs[0]["state"]["deleted"], true);
    assert_eq!(jobs.len(), 3, "the group job and one per former member");
    let (s, _, _) = api.get(&format!("/scim/v2/Groups/{gid}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn entra_group_patch_add_with_null_ref_and_remove_by_value_array() {
    let api = api().await;
    let (_, _, u) = api.post("/scim/v2/Users", &okta_user("e@x.com", "E")).await;
    let uid = u["id"].as_str().unwrap();
    let (_, _, g) = api
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "displayName", "externalId": "60f1"}),
        )
        .await;
    let gid = g["id"].as_str().unwrap();
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            &patch(json!([
                {"op": "Replace", "path": "displayName", "value": "updatedDisplayName"},
                {"op": "Add", "path": "members", "value": [{"$ref": null, "value": uid}]}
            ])),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["members"][0]["value"], uid);
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            &patch(json!([
                {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": uid}]}
            ])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["members"], json!([]));
    let (_, _, user) = api.get(&format!("/scim/v2/Users/{uid}")).await;
    assert!(user.get("groups").is_none());
}

#[tokio::test]
async fn a_group_patch_is_atomic() {
    // An unknown member no longer fails a write (it is kept, unresolved), so the failing
    // operation is a second group for a user under `reject`: it fails inside the store's
    // write, after the rename and the first member were written there.
    let api = api().await;
    let (_, _, u) = api.post("/scim/v2/Users", &okta_user("a@x.com", "A")).await;
    let (_, _, taken) = api.post("/scim/v2/Users", &okta_user("b@x.com", "B")).await;
    let (_, _, g) = api
        .post("/scim/v2/Groups", &json!({"displayName": "G"}))
        .await;
    let (s, _, _) = api
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "Other", "members": [{"value": taken["id"]}]}),
        )
        .await;
    assert_eq!(s, 201);
    let gid = g["id"].as_str().unwrap();
    let n = api.jobs().await.len();
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            &patch(json!([
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "add", "path": "members", "value": [{"value": u["id"]}]},
                {"op": "add", "path": "members", "value": [{"value": taken["id"]}]}
            ])),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let (_, _, after) = api.get(&format!("/scim/v2/Groups/{gid}")).await;
    assert_eq!(after["displayName"], "G");
    assert_eq!(after["members"], json!([]));
    assert_eq!(after["meta"]["version"], "W/\"1\"");
    assert_eq!(api.jobs().await.len(), n);
}

async fn two_groups_one_user(
    policy: GroupPolicy,
) -> (common::Api, String, String, String, u16, Value) {
    let api = api_with(policy).await;
    let (_, _, u) = api
        .post("/scim/v2/Users", &okta_user("one@x.com", "O"))
        .await;
    let uid = u["id"].as_str().unwrap().to_string();
    let (_, _, a) = api
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "A", "members": [{"value": uid}]}),
        )
        .await;
    let (_, _, b) = api
        .post("/scim/v2/Groups", &json!({"displayName": "B"}))
        .await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );
    let (s, _, body) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{b}"),
            &patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}])),
        )
        .await;
    (api, uid, a, b, s.as_u16(), body)
}

#[tokio::test]
async fn group_policy_reject_answers_409_naming_the_current_group() {
    let (api, _, _, b, status, body) = two_groups_one_user(GroupPolicy::Reject).await;
    assert_eq!(status, 409);
    assert!(body["detail"].as_str().unwrap().contains("\"A\""), "{body}");
    let (_, _, group) = api.get(&format!("/scim/v2/Groups/{b}")).await;
    assert_eq!(group["members"], json!([]));
}

#[tokio::test]
async fn group_policy_move_makes_the_latest_membership_the_splashtop_group() {
    let (api, uid, _, _, status, _) = two_groups_one_user(GroupPolicy::Move).await;
    assert_eq!(status, 200);
    let last = api
        .jobs()
        .await
        .into_iter()
        .rev()
        .find(|j| j["state"]["user_id"] == uid.as_str())
        .unwrap();
    assert_eq!(last["state"]["group"]["display_name"], "B");
}

#[tokio::test]
async fn group_policy_first_keeps_the_earliest_membership() {
    let (api, uid, _, _, status, _) = two_groups_one_user(GroupPolicy::First).await;
    assert_eq!(status, 200);
    let last = api
        .jobs()
        .await
        .into_iter()
        .rev()
        .find(|j| j["state"]["user_id"] == uid.as_str())
        .unwrap();
    assert_eq!(last["state"]["group"]["display_name"], "A");
}

#[tokio::test]
async fn a_deleted_user_is_404_and_its_job_says_deleted() {
    let api = api().await;
    let (_, _, u) = api
        .post("/scim/v2/Users", &okta_user("gone@x.com", "G"))
        .await;
    let id = u["id"].as_str().unwrap();
    let (s, _, _) = api
        .call(
            "DELETE",
            &format!("/scim/v2/Users/{id}"),
            None,
            Some(common::TOKEN),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = api.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(s, 404);
    let last = api.jobs().await.pop().unwrap();
    assert_eq!(
        (last["state"]["deleted"].as_bool(), last["version"].as_i64()),
        (Some(true), Some(2))
    );
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_the_current_one_passes() {
    let api = api().await;
    let (_, _, u) = api
        .post("/scim/v2/Users", &okta_user("etag@x.com", "E"))
        .await;
    let id = u["id"].as_str().unwrap();
    let body = patch(json!([{"op": "replace", "path": "displayName", "value": "New"}]));
    let req = |etag: &'static str| {
        axum::http::Request::builder()
            .method("PATCH")
            .uri(format!("/scim/v2/Users/{id}"))
            .header("authorization", format!("Bearer {}", common::TOKEN))
            .header("content-type", "application/scim+json")
            .header("if-match", etag)
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    use tower::ServiceExt;
    let stale = api.router.clone().oneshot(req("W/\"7\"")).await.unwrap();
    assert_eq!(stale.status(), 412);
    let fresh = api.router.clone().oneshot(req("W/\"1\"")).await.unwrap();
    assert_eq!(fresh.status(), 200);
    assert_eq!(fresh.headers()["etag"], "W/\"2\"");
}
