//! The log of applied operations (`GET /_sim/log`): every state change the team accepted,
//! in order, with the request that made it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One API request the simulator applied (a successful state change), in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// 1-based position in the log.
    pub seq: u64,
    /// When it was applied, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Request path (without the query).
    pub path: String,
    /// `invite_user`, `update_user`, `remove_user`, `delete_user`, `create_group`, `rename_group` or `delete_group`.
    pub op: String,
    /// The user's email, for user operations.
    pub email: Option<String>,
    /// The group's name: the user's group after the change, or the group acted on (new name on rename).
    pub group: Option<String>,
    /// The user's id, for user operations.
    pub user_id: Option<String>,
    /// The group's id.
    pub group_id: Option<String>,
    /// The `X-Splashsync-Job-Id` request header.
    pub job_id: Option<String>,
    /// The `X-Splashsync-Key` request header.
    pub key: Option<String>,
    /// The `X-Splashsync-Version` request header, when it is an integer.
    pub version: Option<i64>,
    /// The status the client was answered (500 when the fault `error_after_apply_rate` struck).
    pub status: u16,
}

/// The tracing facts of one API request, recorded with what it applied.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestMeta {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) job_id: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) version: Option<i64>,
    /// The fault middleware decided to answer 500 after applying this request.
    pub(crate) error_after_apply: bool,
}

/// What one applied operation changed, for the log.
#[derive(Debug)]
pub(crate) struct Applied {
    pub(crate) op: &'static str,
    pub(crate) email: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) group_id: Option<String>,
}

/// The applied-operation log.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub(crate) entries: Vec<LogEntry>,
}

impl Journal {
    /// Appends an applied operation, answered with `status` unless the request is faulted after applying.
    pub(crate) fn record(&mut self, meta: &RequestMeta, applied: Applied, status: u16) {
        let seq = self.entries.len() as u64 + 1;
        self.entries.push(LogEntry {
            seq,
            at: rfc3339_now(),
            method: meta.method.clone(),
            path: meta.path.clone(),
            op: applied.op.to_owned(),
            email: applied.email,
            group: applied.group,
            user_id: applied.user_id,
            group_id: applied.group_id,
            job_id: meta.job_id.clone(),
            key: meta.key.clone(),
            version: meta.version,
            status: if meta.error_after_apply { 500 } else { status },
        });
    }
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`.
fn rfc3339_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(since.as_secs(), since.subsec_millis())
}

fn format_rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_rfc3339;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(
            format_rfc3339(1_735_689_599, 999),
            "2024-12-31T23:59:59.999Z"
        );
    }
}
