//! A key's timeline read on SQLite: each of [`super::timeline_rows::Source`]'s statements
//! on the reader pool, the rows made entries, oldest first.

use sqlx::sqlite::SqlitePool;

use super::timeline_rows::{sorted, Source, MAX_ENTRIES};
use super::TimelineEntry;
use crate::error::StoreError;

/// The timeline of `key`, oldest first.
pub(crate) async fn timeline(
    readers: &SqlitePool,
    key: &str,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut entries = Vec::new();
    for source in Source::ALL {
        let Some(subject) = source.subject(key) else {
            continue;
        };
        let found = sqlx::query(source.sql())
            .bind(subject)
            .bind(MAX_ENTRIES)
            .fetch_all(readers)
            .await?;
        for r in &found {
            entries.extend(source.entries(r)?);
        }
    }
    Ok(sorted(entries))
}
