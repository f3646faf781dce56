//! Which store a database URL names: `sqlite:…` (the embedded default) or
//! `postgres://…` / `postgresql://…` (several receivers on one database).

use std::sync::Arc;

use crate::audit::sqlite::SqliteAudit;
use crate::audit::AuditStore;
use crate::error::StoreError;
use crate::postgres::audit::PgAudit;
use crate::postgres::PgDirectory;
use crate::reconcile::sqlite::SqliteReconcile;
use crate::reconcile::ReconcileStore;
use crate::sqlite::SqliteDirectory;
use crate::store::Directory;
use crate::workers::postgres::PgWorkers;
use crate::workers::sqlite::SqliteWorkers;
use crate::workers::WorkerStore;

/// The engines a database URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One SQLite file, one receiver.
    Sqlite,
    /// A PostgreSQL database, any number of receivers.
    Postgres,
}

impl Engine {
    /// The engine of `url`, or `None` when its scheme is neither.
    pub fn of(url: &str) -> Option<Engine> {
        let scheme = url.split(':').next().unwrap_or("");
        match scheme {
            "sqlite" => Some(Engine::Sqlite),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            _ => None,
        }
    }
}

/// The directory and the audit store on one database.
#[derive(Debug, Clone)]
pub struct Stores {
    /// What the SCIM side and the relay use.
    pub directory: Arc<dyn Directory>,
    /// What the intake, the admin API and the console use.
    pub audit: Arc<dyn AuditStore>,
    /// Drift reconciliation's runs, views and fixes: SQLite only for now (`None` on
    /// PostgreSQL; the receiver refuses to reconcile there, docs/DESIGN.md).
    pub reconcile: Option<Arc<dyn ReconcileStore>>,
    /// The workers' last heartbeats (the intake writes, operators read).
    pub workers: Arc<dyn WorkerStore>,
}

/// Opens the stores at `url`, running the engine's migrations.
pub async fn open(url: &str) -> Result<Stores, StoreError> {
    match Engine::of(url) {
        Some(Engine::Sqlite) => {
            let sqlite = SqliteDirectory::open(url).await?;
            Ok(Stores {
                audit: Arc::new(SqliteAudit::new(&sqlite)),
                reconcile: Some(Arc::new(SqliteReconcile::new(&sqlite))),
                workers: Arc::new(SqliteWorkers::new(&sqlite)),
                directory: Arc::new(sqlite),
            })
        }
        Some(Engine::Postgres) => {
            let pg = PgDirectory::open(url).await?;
            Ok(Stores {
                audit: Arc::new(PgAudit::new(&pg)),
                reconcile: None,
                workers: Arc::new(PgWorkers::new(&pg)),
                directory: Arc::new(pg),
            })
        }
        None => Err(StoreError::Database(Arc::new(sqlx::Error::Configuration(
            "the database URL must start with sqlite: or postgres://".into(),
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_names_the_engine() {
        assert_eq!(Engine::of("sqlite://splashsync.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::of("sqlite::memory:"), Some(Engine::Sqlite));
        assert_eq!(
            Engine::of("postgres://u:p@db:5432/splashsync"),
            Some(Engine::Postgres)
        );
        assert_eq!(
            Engine::of("postgresql://db/splashsync"),
            Some(Engine::Postgres)
        );
        assert_eq!(Engine::of("mysql://db/splashsync"), None);
        assert_eq!(Engine::of("splashsync.db"), None);
    }
}
