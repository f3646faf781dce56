//! A fresh directory for each test, on the engine `SPLASHSYNC_TEST_ENGINE` names:
//! `sqlite` (default: a temporary file) or `postgres` (a database of its own, created on
//! `SPLASHSYNC_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432`, and dropped
//! when the test ends, also when it fails). CI runs this crate's tests on both.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use serde_json::json;
use splashsync_directory::audit::AuditStore;
use splashsync_directory::engine::{self, Engine};
use splashsync_directory::model::{GroupRecord, UserRecord};
use splashsync_directory::{Directory, GroupPolicy, WriteCtx};
use splashsync_protocol::job::{GroupJob, Job, UserJob};
use splashsync_protocol::Tenant;
use splashsync_test_support::PgDatabase;
use sqlx::{Connection, Row};

/// The directory and the audit store of one test, and the database they live in
/// (removed on drop).
pub struct Store {
    pub directory: Arc<dyn Directory>,
    pub audit: Arc<dyn AuditStore>,
    pub workers: Arc<dyn splashsync_directory::workers::WorkerStore>,
    pub url: String,
    pub engine: Engine,
    _db: Database,
}

/// Where a test's database lives; dropping it removes it.
enum Database {
    File(tempfile::TempDir),
    Postgres(PgDatabase),
}

/// The engine this run tests.
pub fn engine() -> Engine {
    match std::env::var("SPLASHSYNC_TEST_ENGINE").as_deref() {
        Ok("postgres") => Engine::Postgres,
        Ok("sqlite") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("SPLASHSYNC_TEST_ENGINE={other:?}: use sqlite or postgres"),
    }
}

/// A fresh store on [`engine`].
pub async fn store() -> Store {
    store_on(engine()).await
}

/// A fresh store on `engine`.
pub async fn store_on(engine: Engine) -> Store {
    let (url, db) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("d.db").display());
            (url, Database::File(dir))
        }
        Engine::Postgres => {
            let db = PgDatabase::create().await;
            (db.url(), Database::Postgres(db))
        }
    };
    if engine == Engine::Postgres {
        // A fresh directory takes the outbox lease in the background; pending_jobs answers
        // only once it holds it. The test's store is the only one: it gets the lease.
        let pg = splashsync_directory::postgres::PgDirectory::open(&url)
            .await
            .unwrap();
        splashsync_test_support::eventually(
            std::time::Duration::from_secs(10),
            "the test's directory to take the outbox lease",
            || {
                let held = pg.lease().held();
                async move { held }
            },
        )
        .await;
        let audit = splashsync_directory::postgres::audit::PgAudit::new(&pg);
        return Store {
            workers: Arc::new(splashsync_directory::workers::postgres::PgWorkers::new(&pg)),
            directory: Arc::new(pg),
            audit: Arc::new(audit),
            url,
            engine,
            _db: db,
        };
    }
    let stores = engine::open(&url).await.unwrap();
    Store {
        directory: stores.directory,
        audit: stores.audit,
        workers: stores.workers,
        url,
        engine,
        _db: db,
    }
}

impl Store {
    /// The text columns of `sql`'s rows, on whichever engine this store is.
    pub async fn strings(&self, sql: &str) -> Vec<Vec<String>> {
        fn text<R: Row>(row: &R) -> Vec<String>
        where
            for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            (0..row.len()).map(|i| row.get::<String, _>(i)).collect()
        }
        match self.engine {
            Engine::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(text).collect()
            }
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(text).collect()
            }
        }
    }

    /// The group-conflict audit rows in order: (user, group, other group, policy, outcome).
    pub async fn conflicts(&self) -> Vec<(String, String, String, String, String)> {
        let order = match self.engine {
            Engine::Sqlite => "rowid",
            Engine::Postgres => "row",
        };
        let sql = format!(
            "SELECT user_id, group_id, other_group_id, policy, outcome FROM group_conflicts ORDER BY {order}"
        );
        self.strings(&sql)
            .await
            .into_iter()
            .map(|r| {
                let [a, b, c, d, e]: [String; 5] = r.try_into().unwrap();
                (a, b, c, d, e)
            })
            .collect()
    }

    /// The number of rows in `table`.
    pub async fn count(&self, table: &str) -> usize {
        let sql = format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}");
        self.strings(&sql).await[0][0].parse().unwrap()
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
