//! Parameters of the admin API (their wire form is in `splashsync_protocol::admin`),
//! validated into store filters with a message that says what to send instead.

use std::time::Duration;

use splashsync_directory::audit::{DeadLetterFilter, IncidentFilter};
use splashsync_protocol::admin::incident_state;
pub use splashsync_protocol::admin::{
    BulkRequest, DiscardBody, FilterParams, IncidentDiscardBody, IncidentQuery,
};

use crate::error::AdminError;

/// Longest note an operator may attach to a discard.
pub const MAX_NOTE: usize = 2000;

/// Parses `90s`, `15m`, `2h`, `7d` or a number of seconds.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not an age; use e.g. 90s, 15m, 2h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(unit_secs)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long an age"))
}

/// The admin API's parameters, validated.
pub trait Validate {
    /// What they validate into.
    type Valid;
    /// The valid form, or a 400 naming the bad parameter.
    fn validate(self) -> Result<Self::Valid, AdminError>;
}

impl Validate for FilterParams {
    type Valid = DeadLetterFilter;

    /// The store filter, or a 400 naming the bad parameter.
    fn validate(self) -> Result<DeadLetterFilter, AdminError> {
        if let Some(state) = &self.state {
            if !["open", "replayed", "discarded", "resolved", "all"].contains(&state.as_str()) {
                return Err(AdminError::bad_request(format!(
                    "state must be open, replayed, discarded, resolved or all (got {state:?})"
                )));
            }
        }
        if let Some(limit) = self.limit {
            if !(1..=1000).contains(&limit) {
                return Err(AdminError::bad_request("limit must be between 1 and 1000"));
            }
        }
        Ok(DeadLetterFilter {
            older_than: age("older_than", self.older_than)?,
            newer_than: age("newer_than", self.newer_than)?,
            reason: blank(self.reason),
            tenant: blank(self.tenant),
            key: blank(self.key),
            state: blank(self.state),
            limit: self.limit,
            offset: self.offset,
        })
    }
}

fn age(name: &str, v: Option<String>) -> Result<Option<Duration>, AdminError> {
    v.filter(|v| !v.is_empty())
        .map(|v| parse_age(&v).map_err(|e| AdminError::bad_request(format!("{name}: {e}"))))
        .transpose()
}

fn blank(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Validate for IncidentQuery {
    type Valid = IncidentFilter;

    /// The store filter, or a 400 naming the bad parameter.
    fn validate(self) -> Result<IncidentFilter, AdminError> {
        let state = blank(self.state);
        if let Some(state) = &state {
            if !incident_state::FILTERS.contains(&state.as_str()) {
                return Err(AdminError::bad_request(format!(
                    "state must be one of {} (got {state:?})",
                    incident_state::FILTERS.join(", ")
                )));
            }
        }
        let kind = blank(self.kind);
        if let Some(kind) = &kind {
            if !["user", "group", "unknown"].contains(&kind.as_str()) {
                return Err(AdminError::bad_request(format!(
                    "kind must be user, group or unknown (got {kind:?})"
                )));
            }
        }
        if let Some(limit) = self.limit {
            if !(1..=1000).contains(&limit) {
                return Err(AdminError::bad_request("limit must be between 1 and 1000"));
            }
        }
        Ok(IncidentFilter {
            older_than: age("older_than", self.older_than)?,
            newer_than: age("newer_than", self.newer_than)?,
            state,
            cause: blank(self.cause),
            person: blank(self.person),
            group: blank(self.group),
            kind,
            key: blank(self.key),
            limit: self.limit,
            offset: self.offset,
        })
    }
}

impl Validate for IncidentDiscardBody {
    type Valid = (String, Option<String>);

    /// The note and who, or a 400 when the note is empty or either is too long.
    fn validate(self) -> Result<(String, Option<String>), AdminError> {
        let note = DiscardBody { note: self.note }.validate()?;
        let by = blank(self.by);
        if by.as_ref().is_some_and(|b| b.chars().count() > 200) {
            return Err(AdminError::bad_request("by is over 200 characters"));
        }
        Ok((note, by))
    }
}

impl Validate for DiscardBody {
    type Valid = String;

    /// The note, or a 400 when it is empty or too long.
    fn validate(self) -> Result<String, AdminError> {
        let note = self.note.trim().to_string();
        if note.is_empty() {
            return Err(AdminError::bad_request(
                "a discard needs a note saying why (it stays in the audit log)",
            ));
        }
        if note.chars().count() > MAX_NOTE {
            return Err(AdminError::bad_request(format!(
                "the note is over {MAX_NOTE} characters"
            )));
        }
        Ok(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_take_a_unit_or_plain_seconds() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_age("42"), Ok(Duration::from_secs(42)));
        assert!(parse_age("2w").is_err());
        assert!(parse_age("h").is_err());
        assert!(parse_age("99999999999999999999d").is_err());
    }

    #[test]
    fn a_bad_state_or_limit_is_a_400_naming_it() {
        let bad = FilterParams {
            state: Some("gone".into()),
            ..FilterParams::default()
        };
        assert!(bad.validate().unwrap_err().message.contains("state"));
        let bad = FilterParams {
            limit: Some(0),
            ..FilterParams::default()
        };
        assert!(bad.validate().unwrap_err().message.contains("limit"));
    }

    #[test]
    fn a_blank_note_is_refused() {
        let body = DiscardBody { note: "  ".into() };
        assert!(body.validate().is_err());
    }
}
