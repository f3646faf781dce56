//! A fresh SQLite directory in a temporary file, and readers of what it wrote.
#![allow(dead_code, unreachable_pub)]

use serde_json::json;
use splashsync_directory::model::{GroupRecord, UserRecord};
use splashsync_directory::sqlite::SqliteDirectory;
use splashsync_directory::{Directory, GroupPolicy, WriteCtx};
use splashsync_protocol::job::{GroupJob, Job, UserJob};
use splashsync_protocol::Tenant;

/// The directory and the directory its file lives in (removed on drop).
pub struct Store {
    pub directory: SqliteDirectory,
    pub url: String,
    _dir: tempfile::TempDir,
}

pub async fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    Store {
        directory: SqliteDirectory::open(&url).await.unwrap(),
        url,
        _dir: dir,
    }
}

pub fn cx(policy: GroupPolicy) -> WriteCtx {
    WriteCtx {
        tenant: Tenant::default(),
        origin: "test".into(),
        policy,
        verify: false,
    }
}

pub fn user(id: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        user_name: name.into(),
        resource: json!({"userName": name, "active": true, "name": {"givenName": id}}),
        version: 1,
        created: "2026-01-01T00:00:00.000Z".into(),
        last_modified: "2026-01-01T00:00:00.000Z".into(),
        groups: Vec::new(),
        provisioning: None,
    }
}

pub fn group(id: &str, name: &str) -> GroupRecord {
    GroupRecord {
        id: id.into(),
        display_name: name.into(),
        resource: json!({"displayName": name}),
        version: 1,
        created: "2026-01-01T00:00:00.000Z".into(),
        last_modified: "2026-01-01T00:00:00.000Z".into(),
        members: Vec::new(),
        provisioning: None,
    }
}

impl Store {
    /// Every unsent job, in commit order.
    pub async fn jobs(&self) -> Vec<Job> {
        self.directory
            .pending_jobs(100_000)
            .await
            .unwrap()
            .iter()
            .map(|j| serde_json::from_str(&j.payload).unwrap())
            .collect()
    }

    /// The jobs written after the first `skip`.
    pub async fn jobs_after(&self, skip: usize) -> Vec<Job> {
        self.jobs().await.into_iter().skip(skip).collect()
    }

    /// Creates users `ids` (userName `<id>@x.com`).
    pub async fn users(&self, ids: &[&str]) {
        for id in ids {
            self.directory
                .create_user(cx(GroupPolicy::Reject), user(id, &format!("{id}@x.com")))
                .await
                .unwrap();
        }
    }
}

pub fn user_job(job: &Job) -> &UserJob {
    match job {
        Job::UserV1(j) => j,
        other => panic!("expected a user job, got {other:?}"),
    }
}

pub fn group_job(job: &Job) -> &GroupJob {
    match job {
        Job::GroupV1(j) => j,
        other => panic!("expected a group job, got {other:?}"),
    }
}
