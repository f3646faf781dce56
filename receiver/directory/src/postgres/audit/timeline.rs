//! A key's timeline read on PostgreSQL: the statements and entries are
//! `crate::audit::timeline_rows`'s, shared with SQLite.

use sqlx::PgPool;

use crate::audit::timeline_rows::{sorted, Source, MAX_ENTRIES};
use crate::audit::TimelineEntry;
use crate::error::StoreError;

/// The timeline of `key`, oldest first.
pub(crate) async fn timeline(pool: &PgPool, key: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut entries = Vec::new();
    for source in Source::ALL {
        let Some(subject) = source.subject(key) else {
            continue;
        };
        let found = sqlx::query(source.sql())
            .bind(subject)
            .bind(MAX_ENTRIES)
            .fetch_all(pool)
            .await?;
        for r in &found {
            entries.extend(source.entries(r)?);
        }
    }
    Ok(sorted(entries))
}
