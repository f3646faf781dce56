//! A PostgreSQL database of one test: `t_<random>` on `SPLASHSYNC_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432`), dropped when the value is, also after a panic.

use sqlx::Connection;

/// A fresh database, dropped (with its open connections) on drop.
#[derive(Debug)]
pub struct PgDatabase {
    base: String,
    name: String,
}

impl PgDatabase {
    /// The server test databases are made on.
    pub fn base_url() -> String {
        std::env::var("SPLASHSYNC_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
            .trim_end_matches('/')
            .to_string()
    }

    /// Creates a fresh, empty database.
    pub async fn create() -> Self {
        let base = Self::base_url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&format!("{base}/postgres"))
            .await
            .expect("PostgreSQL answers (SPLASHSYNC_TEST_PG_URL)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        Self { base, name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop may run inside a runtime: the DROP gets a thread and a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&format!("{base}/postgres")).await
                {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::query(&drop).execute(&mut conn).await {
                        eprintln!("could not drop test database {name}: {e}");
                    }
                }
            });
        })
        .join();
    }
}
