//! An account change in the SQLite directory (what the rename policy `reinvite` lets
//! through): the two jobs in the change's transaction, the incarnation kept for the user's
//! later jobs (a group write's included), and a dead-lettered retirement replayed as a
//! retirement.

mod common;

use common::{cx, group, store, user_job};
use serde_json::json;
use splashsync_directory::audit::{DeadLetterFilter, NewDeadLetter};
use splashsync_directory::model::GroupChange;
use splashsync_directory::GroupPolicy;
use splashsync_protocol::{Email, JobKey, Tenant};

fn renamed(to: &'static str) -> splashsync_directory::store::UserEdit {
    Box::new(move |_: &_| Ok(json!({"userName": to, "active": true, "name": {"givenName": "u1"}})))
}

#[tokio::test]
async fn an_account_change_keeps_its_incarnation_for_later_jobs_and_a_retirement_replays_as_one() {
    let s = store().await;
    s.users(&["u1"]).await;
    let policy = GroupPolicy::Reject;
    let before = s.jobs().await.len();
    s.directory
        .update_user(cx(policy), "u1".into(), None, renamed("b@x.com"))
        .await
        .unwrap();
    let jobs = s.jobs_after(before).await;
    let said: Vec<(String, &str, bool, i64)> = jobs
        .iter()
        .map(|j| {
            let j = user_job(j);
            (
                j.meta.key.to_string(),
                j.state.email.as_str(),
                j.state.active,
                j.meta.version,
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("default/user/u1".to_string(), "b@x.com", true, 2),
            (
                "default/user/u1/account/u1@x.com".to_string(),
                "u1@x.com",
                false,
                2
            ),
        ]
    );
    let minted = user_job(&jobs[0]).state.account_incarnation().to_string();
    assert_ne!(minted, "u1");
    assert_eq!(user_job(&jobs[1]).state.account_incarnation(), "u1");
    // A group write's job of the user (written for many users at once) keeps it.
    s.directory
        .create_group(cx(policy), group("g1", "Sales"), vec!["u1".into()])
        .await
        .unwrap();
    let edit = Box::new(|g: &splashsync_directory::model::GroupRecord| {
        Ok(GroupChange {
            resource: g.resource.clone(),
            members: Vec::new(),
        })
    });
    let skip = s.jobs().await.len();
    s.directory
        .update_group(cx(policy), "g1".into(), None, edit)
        .await
        .unwrap();
    let touched = s.jobs_after(skip).await;
    let mine = touched
        .iter()
        .filter_map(|j| match j {
            splashsync_protocol::job::Job::UserV1(u) => Some(u),
            _ => None,
        })
        .next()
        .expect("the member's job");
    assert_eq!(mine.state.account_incarnation(), minted);
    // The retirement, dead-lettered, replays as a retirement of the old account, though
    // the user still exists (under its new account).
    let audit = s.audit.clone();
    let retirement = JobKey::retirement(&Tenant::default(), "u1", &Email::new("u1@x.com"));
    let payload = serde_json::to_string(&jobs[1]).unwrap();
    audit
        .record_dead_letter(NewDeadLetter {
            job_id: user_job(&jobs[1]).meta.job_id.clone(),
            tenant: "default".into(),
            key: retirement.to_string(),
            kind: "user".into(),
            version: 2,
            reason: "permanent".into(),
            http_status: Some(500),
            error_code: None,
            error_body: "boom".into(),
            attempts: 1,
            first_attempt: None,
            last_attempt: None,
            payload,
        })
        .await
        .unwrap();
    let open = audit
        .dead_letters(DeadLetterFilter::default())
        .await
        .unwrap();
    let skip = s.jobs().await.len();
    audit.replay(cx(policy), open[0].id).await.unwrap();
    let replayed = s.jobs_after(skip).await;
    assert_eq!(replayed.len(), 1);
    let again = user_job(&replayed[0]);
    assert_eq!(again.meta.key, retirement);
    assert_eq!(
        (
            again.state.email.as_str(),
            again.state.active,
            again.state.deleted
        ),
        ("u1@x.com", false, false)
    );
    assert_eq!(again.state.account_incarnation(), "u1");
    assert_eq!(again.meta.version, 2);
}
