//! userName changes under both rename policies (`SPLASHSYNC_RENAME_POLICY`), by PUT and
//! PATCH: what the caller is answered, what /Schemas declares, and the jobs each change
//! writes in its transaction.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::{api_with_policies, assert_scim_error, Api, TOKEN};
use serde_json::{json, Value};
use splashsync_directory::audit::sqlite::SqliteAudit;
use splashsync_directory::audit::AuditStore;
use splashsync_directory::model::RenamePolicy;
use splashsync_directory::GroupPolicy;
use splashsync_protocol::job::Job;

async fn api(rename: RenamePolicy) -> Api {
    api_with_policies(GroupPolicy::Reject, rename).await
}

fn user(user_name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"}, "active": true,
        "emails": [{"primary": true, "type": "work", "value": user_name}]})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn create(api: &Api, body: &Value) -> String {
    let (s, _, b) = api.post("/scim/v2/Users", body).await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_str().unwrap().to_string()
}

/// The jobs written after the first `skip`, typed.
async fn jobs_after(api: &Api, skip: usize) -> Vec<Job> {
    api.jobs_after(skip)
        .await
        .into_iter()
        .map(|j| serde_json::from_value(j).unwrap())
        .collect()
}

fn user_job(job: &Job) -> &splashsync_protocol::job::UserJob {
    match job {
        Job::UserV1(j) => j,
        Job::GroupV1(_) => panic!("a user job: {job:?}"),
    }
}

/// The /Schemas representation of the core User schema's userName.
async fn user_name_attribute(api: &Api) -> Value {
    let (s, _, b) = api
        .get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(s, 200, "{b}");
    b["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .cloned()
        .unwrap()
}

async fn count(api: &Api, user_name: &str) -> Value {
    let filter = format!("userName%20eq%20%22{}%22", user_name.replace('@', "%40"));
    let (_, _, b) = api.get(&format!("/scim/v2/Users?filter={filter}")).await;
    b["totalResults"].clone()
}

#[tokio::test]
async fn reject_refuses_a_rename_by_put_and_patch_and_declares_user_name_immutable() {
    let api = api(RenamePolicy::Reject).await;
    let id = create(&api, &user("a@x.com")).await;
    let uri = format!("/scim/v2/Users/{id}");
    let mut body = user("b@x.com");
    body["emails"][0]["value"] = json!("a@x.com");
    for (method, body) in [
        ("PUT", body),
        (
            "PATCH",
            patch(json!([{"op": "replace", "path": "userName", "value": "b@x.com"}])),
        ),
        (
            "PATCH",
            patch(json!([{"op": "Replace", "value": {"userName": "b@x.com"}}])),
        ),
    ] {
        let (s, ct, b) = api.send(method, &uri, &body).await;
        assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("mutability"));
        let detail = b["detail"].as_str().unwrap();
        for said in [
            "Splashtop",
            "rename policy: reject",
            "SPLASHSYNC_RENAME_POLICY=reinvite",
        ] {
            assert!(detail.contains(said), "{method} {said}: {detail}");
        }
    }
    assert_eq!(api.jobs().await.len(), 1, "refused changes write no job");
    let attr = user_name_attribute(&api).await;
    assert_eq!(attr["mutability"], "immutable", "{attr}");
}

#[tokio::test]
async fn reject_refuses_a_primary_email_change_that_moves_a_non_email_user_name() {
    let api = api(RenamePolicy::Reject).await;
    let mut body = user("old@x.com");
    body["userName"] = json!("jdoe");
    let id = create(&api, &body).await;
    let (s, ct, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"}])),
        )
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("mutability"));
    assert!(
        b["detail"].as_str().unwrap().contains("primary email"),
        "{b}"
    );
    // Another email may change: the account stays.
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "add", "path": "emails", "value": [{"type": "home", "value": "h@x.com"}]}])),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn reinvite_by_put_keeps_the_id_invites_the_new_account_in_its_group_and_retires_the_old() {
    let api = api(RenamePolicy::Reinvite).await;
    let id = create(&api, &user("a@x.com")).await;
    let (s, _, g) = api
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "Sales", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (_, _, before) = api.get(&format!("/scim/v2/Users/{id}")).await;
    let skip = api.jobs().await.len();
    let mut body = user("b@x.com");
    body["name"]["givenName"] = json!("Ada B");
    let (s, _, b) = api
        .send("PUT", &format!("/scim/v2/Users/{id}"), &body)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["id"].as_str(), b["userName"].as_str()),
        (Some(id.as_str()), Some("b@x.com"))
    );
    let version = |v: &Value| v["meta"]["version"].as_str().unwrap().to_string();
    assert_ne!(version(&b), version(&before), "meta.version bumps");
    let jobs = jobs_after(&api, skip).await;
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    let (invite, retire) = (user_job(&jobs[0]), user_job(&jobs[1]));
    assert_eq!(invite.meta.key.to_string(), format!("default/user/{id}"));
    assert_eq!(
        retire.meta.key.to_string(),
        format!("default/user/{id}/account/a@x.com")
    );
    assert_eq!(invite.meta.version, retire.meta.version);
    assert_eq!(
        (
            invite.state.email.as_str(),
            invite.state.active,
            invite.state.first_name.as_str()
        ),
        ("b@x.com", true, "Ada B")
    );
    assert_eq!(
        invite.state.group.as_ref().map(|g| g.display_name.as_str()),
        Some("Sales")
    );
    assert_eq!(
        (
            retire.state.email.as_str(),
            retire.state.active,
            retire.state.deleted
        ),
        ("a@x.com", false, false)
    );
    assert_eq!(jobs[0].route(), "default/account/b@x.com");
    assert_eq!(jobs[1].route(), "default/account/a@x.com");
    // The new account is a new incarnation, minted now: newer than any id before it.
    assert!(invite.state.account_incarnation() > id.as_str());
    assert_eq!(retire.state.account_incarnation(), id);
    let said = "userName changed from a@x.com to b@x.com: b@x.com invited, a@x.com retired";
    assert!(invite.meta.origin.contains(said), "{}", invite.meta.origin);
    assert!(retire.meta.origin.contains(said), "{}", retire.meta.origin);
    // The timeline of the user says so.
    let audit = SqliteAudit::new(&api.directory);
    let timeline = audit.timeline(format!("default/user/{id}")).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.what == "asked" && e.detail.contains(said)),
        "{timeline:#?}"
    );
    // The directory answers under the new name only; the old one is free again.
    assert_eq!(count(&api, "b@x.com").await, 1);
    assert_eq!(count(&api, "a@x.com").await, 0);
    let newcomer = create(&api, &user("a@x.com")).await;
    assert!(newcomer.as_str() > id.as_str());
    // Later jobs of the renamed user keep the incarnation it took the account under.
    let skip = api.jobs().await.len();
    let (s, _, _) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "replace", "path": "name.familyName", "value": "B"}])),
        )
        .await;
    assert_eq!(s, 200);
    let later = jobs_after(&api, skip).await;
    assert_eq!(later.len(), 1, "an ordinary change: one job");
    assert_eq!(
        user_job(&later[0]).state.account_incarnation(),
        invite.state.account_incarnation()
    );
    let skip = api.jobs().await.len();
    let (s, _, _) = api
        .call("DELETE", &format!("/scim/v2/Users/{id}"), None, Some(TOKEN))
        .await;
    assert_eq!(s, 204);
    let gone = jobs_after(&api, skip).await;
    assert_eq!(
        (
            user_job(&gone[0]).state.deleted,
            user_job(&gone[0]).state.account_incarnation()
        ),
        (true, invite.state.account_incarnation())
    );
}

#[tokio::test]
async fn reinvite_by_patch_honours_if_match_and_a_taken_name_is_409() {
    let api = api(RenamePolicy::Reinvite).await;
    let id = create(&api, &user("a@x.com")).await;
    create(&api, &user("taken@x.com")).await;
    let uri = format!("/scim/v2/Users/{id}");
    let skip = api.jobs().await.len();
    let rename = |to: &str| patch(json!([{"op": "replace", "path": "userName", "value": to}]));
    // Taken, in any case: 409 uniqueness, nothing written.
    let (s, ct, b) = api.send("PATCH", &uri, &rename("TAKEN@x.com")).await;
    assert_scim_error(s, &ct, &b, StatusCode::CONFLICT, Some("uniqueness"));
    let (s, _, b) = api.send("PATCH", &uri, &rename("b@x.com")).await;
    assert_eq!(s, 200, "{b}");
    // A stale If-Match: 412, nothing written; the current one: the rename goes through.
    let req = |version: &str| {
        axum::http::Request::builder()
            .method("PATCH")
            .uri(&uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .header("if-match", version)
            .body(Body::from(rename("c@x.com").to_string()))
            .unwrap()
    };
    use tower::ServiceExt;
    let r = api.router.clone().oneshot(req("W/\"1\"")).await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let r = api.router.clone().oneshot(req("W/\"2\"")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, _, b) = api.get(&uri).await;
    assert_eq!(
        (b["userName"].as_str(), b["meta"]["version"].as_str()),
        (Some("c@x.com"), Some("W/\"3\""))
    );
    // Two renames, four jobs: a→b then b→c, each an invite and a retirement.
    let jobs = jobs_after(&api, skip).await;
    let said: Vec<(String, String, bool, i64)> = jobs
        .iter()
        .map(|j| {
            let j = user_job(j);
            (
                j.meta.key.to_string(),
                j.state.email.clone(),
                j.state.active,
                j.meta.version,
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            (format!("default/user/{id}"), "b@x.com".into(), true, 2),
            (
                format!("default/user/{id}/account/a@x.com"),
                "a@x.com".into(),
                false,
                2
            ),
            (format!("default/user/{id}"), "c@x.com".into(), true, 3),
            (
                format!("default/user/{id}/account/b@x.com"),
                "b@x.com".into(),
                false,
                3
            ),
        ]
    );
    // b's retirement acts under the incarnation b was invited under.
    assert_eq!(
        user_job(&jobs[3]).state.account_incarnation(),
        user_job(&jobs[0]).state.account_incarnation()
    );
}

#[tokio::test]
async fn reinvite_keeps_case_only_changes_and_declares_user_name_read_write() {
    let api = api(RenamePolicy::Reinvite).await;
    let id = create(&api, &user("Ada@X.com")).await;
    let skip = api.jobs().await.len();
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(
                json!([{"op": "replace", "path": "userName", "value": "ada@x.COM"},
                {"op": "replace", "path": "name.givenName", "value": "A"}]),
            ),
        )
        .await;
    assert_eq!(
        (s.as_u16(), b["userName"].as_str()),
        (200, Some("Ada@X.com"))
    );
    let jobs = jobs_after(&api, skip).await;
    assert_eq!(jobs.len(), 1, "the same account: no retirement");
    assert_eq!(user_job(&jobs[0]).state.account_incarnation(), id);
    let attr = user_name_attribute(&api).await;
    assert_eq!(attr["mutability"], "readWrite", "{attr}");
    assert!(
        attr["description"]
            .as_str()
            .unwrap()
            .contains("invites the new account"),
        "{attr}"
    );
}

#[tokio::test]
async fn reinvite_follows_the_primary_email_of_a_non_email_user_name() {
    let api = api(RenamePolicy::Reinvite).await;
    let mut body = user("old@x.com");
    body["userName"] = json!("jdoe");
    let id = create(&api, &body).await;
    let skip = api.jobs().await.len();
    let (s, _, b) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"}])),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let jobs = jobs_after(&api, skip).await;
    let emails: Vec<(&str, bool)> = jobs
        .iter()
        .map(|j| (user_job(j).state.email.as_str(), user_job(j).state.active))
        .collect();
    assert_eq!(emails, [("new@x.com", true), ("old@x.com", false)]);
    assert!(user_job(&jobs[0]).meta.origin.contains(
        "account email changed from old@x.com to new@x.com: new@x.com invited, old@x.com retired"
    ));
    // A non-email userName changing while the account stays: one ordinary job.
    let skip = api.jobs().await.len();
    let (s, _, _) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([{"op": "replace", "path": "userName", "value": "jdoe2"}])),
        )
        .await;
    assert_eq!(s, 200);
    let jobs = jobs_after(&api, skip).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(user_job(&jobs[0]).state.user_name, "jdoe2");
}
