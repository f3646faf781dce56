//! Two PostgreSQL directories on one database, as two receivers hold them: one outbox
//! lease between them, handed over when its holder goes; a userName taken on one is taken
//! on the other; a stale If-Match loses on either. (Always PostgreSQL, whatever
//! `SPLASHSYNC_TEST_ENGINE` says.)

mod common;

use std::time::Duration;

use common::{cx, user};
use futures_util::future::join;
use serde_json::json;
use splashsync_directory::model::UserRecord;
use splashsync_directory::postgres::PgDirectory;
use splashsync_directory::{Directory, GroupPolicy, StoreError};
use splashsync_test_support::{eventually, PgDatabase};

async fn two() -> (PgDatabase, PgDirectory, PgDirectory) {
    let db = PgDatabase::create().await;
    // Opened together: the migrations run once, under their advisory lock.
    let (a, b) = join(PgDirectory::open(&db.url()), PgDirectory::open(&db.url())).await;
    (db, a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn one_directory_holds_the_outbox_lease_and_the_other_takes_it_when_it_goes() {
    let (_db, a, b) = two().await;
    b.create_user(cx(GroupPolicy::Reject), user("u1", "u1@x.com"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "one of the two to take the lease",
        || {
            let held = (a.lease().held(), b.lease().held());
            async move { held.0 || held.1 }
        },
    )
    .await;
    let (holder, other) = if a.lease().held() { (a, b) } else { (b, a) };
    assert!(!other.lease().held(), "never both");
    // Only the holder's relay sees the job, whichever directory wrote it.
    assert_eq!(holder.pending_jobs(10).await.unwrap().len(), 1);
    assert!(other.pending_jobs(10).await.unwrap().is_empty());
    // The holder goes (its lease connection closes): the other takes over.
    drop(holder);
    eventually(
        Duration::from_secs(10),
        "the other directory to take the lease",
        || {
            let held = other.lease().held();
            async move { held }
        },
    )
    .await;
    assert_eq!(other.pending_jobs(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_user_name_and_a_version_are_one_across_directories() {
    let (_db, a, b) = two().await;
    let (first, second) = join(
        a.create_user(cx(GroupPolicy::Reject), user("u1", "Ada@x.com")),
        b.create_user(cx(GroupPolicy::Reject), user("u2", "ADA@X.COM")),
    )
    .await;
    let taken = |r: &Result<_, StoreError>| matches!(r, Err(StoreError::UserNameTaken(_)));
    assert!(
        first.is_ok() != second.is_ok() && (taken(&first) || taken(&second)),
        "one create wins: {first:?} / {second:?}"
    );
    let id = if first.is_ok() { "u1" } else { "u2" };
    let edit = |given: &'static str| -> splashsync_directory::store::UserEdit {
        Box::new(move |u: &UserRecord| {
            let mut body = u.resource.clone();
            body["name"] = json!({"givenName": given});
            Ok(body)
        })
    };
    let (x, y) = join(
        a.update_user(cx(GroupPolicy::Reject), id.into(), Some(1), edit("A")),
        b.update_user(cx(GroupPolicy::Reject), id.into(), Some(1), edit("B")),
    )
    .await;
    let stale =
        |r: &Result<_, StoreError>| matches!(r, Err(StoreError::PreconditionFailed { current: 2 }));
    assert!(
        (x.is_ok() && stale(&y)) || (y.is_ok() && stale(&x)),
        "one update wins, the other sees version 2: {x:?} / {y:?}"
    );
}

/// A real deadlock between two transactions: PostgreSQL rolls one back, and the store
/// reports it as contention (a 503 with Retry-After to the client), not a database failure.
#[tokio::test]
async fn a_deadlock_victim_is_contention_not_a_database_failure() {
    use sqlx::Connection;
    let db = PgDatabase::create().await;
    let url = db.url();
    let mut setup = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
        .execute(&mut setup)
        .await
        .unwrap();
    // Each locks one row, then waits for the other's: one of them is the victim.
    let lock = |first: i32, second: i32| {
        let url = url.clone();
        async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SELECT id FROM t WHERE id = $1 FOR UPDATE")
                .bind(first)
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_sleep(0.3)")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT id FROM t WHERE id = $1 FOR UPDATE")
                .bind(second)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
    };
    let (a, b) = join(lock(1, 2), lock(2, 1)).await;
    let victim = match (a, b) {
        (Err(e), Ok(())) | (Ok(()), Err(e)) => e,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(
        splashsync_directory::error::is_contention(&victim),
        "{victim}"
    );
    assert!(matches!(StoreError::from(victim), StoreError::Contention));
    // A plain failure stays a database failure.
    let plain = sqlx::query("SELECT * FROM no_such_table")
        .execute(&mut setup)
        .await
        .unwrap_err();
    assert!(matches!(StoreError::from(plain), StoreError::Database(_)));
}
