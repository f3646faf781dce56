//! The team API's request and answer bodies (docs/splashtop-api.md, "Objects" and
//! "Endpoints"), its path prefix and its tracing headers.
//!
//! Answers are parsed leniently (a missing optional field takes its default), so that a
//! client survives a server that omits one; the simulator always sends every field.

use serde::{Deserialize, Deserializer, Serialize};

/// The prefix of every API path, after the base URL.
pub const API_PREFIX: &str = "/api/open/v1";
/// Optional request header: the job's id.
pub const JOB_ID_HEADER: &str = "x-splashsync-job-id";
/// Optional request header: the job's ordering key.
pub const KEY_HEADER: &str = "x-splashsync-key";
/// Optional request header: the directory version the job carries (an integer).
pub const VERSION_HEADER: &str = "x-splashsync-version";
/// Every provisioned user's role.
pub const ROLE_MEMBER: &str = "member";
/// The status of an invited user.
pub const STATUS_INVITED: &str = "invited";

/// A team member (the "User" object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TeamUser {
    /// Splashtop's user id (`u_<32 hex>`, opaque).
    pub id: String,
    /// Account email; it is the Splashtop account and never changes.
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// SSO method name; `None`: the user signs in with a password.
    #[serde(default)]
    pub sso_name: Option<String>,
    /// The user's one group (the server always sets it).
    #[serde(default)]
    pub group_id: Option<String>,
    /// Always [`ROLE_MEMBER`].
    #[serde(default)]
    pub role: String,
    /// [`STATUS_INVITED`].
    #[serde(default)]
    pub status: String,
}

/// A user group (the "Group" object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TeamGroup {
    /// Splashtop's group id (`g_<32 hex>`, opaque).
    pub id: String,
    /// Group name, unique in the team case-insensitively.
    pub name: String,
    /// The team's default group (exactly one; it cannot be renamed or deleted).
    #[serde(default)]
    pub is_default: bool,
    /// How many users are in it.
    #[serde(default)]
    pub member_count: u64,
}

/// The body of an invite, `POST /teams/{team_id}/users`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct InviteUser {
    /// `local@domain`.
    pub email: String,
    /// First name (may be empty).
    pub first_name: String,
    /// Last name (may be empty).
    pub last_name: String,
    /// `None`: "<first> <last>", or the email when both are empty.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `None`: no SSO method.
    #[serde(default)]
    pub sso_name: Option<String>,
    /// `None`: the default group.
    #[serde(default)]
    pub group_id: Option<String>,
}

impl InviteUser {
    /// Every field a user body may hold (an update refuses `email` with 422).
    pub const FIELDS: [&'static str; 6] = [
        "email",
        "first_name",
        "last_name",
        "display_name",
        "sso_name",
        "group_id",
    ];
}

/// The body of a user update, `PATCH /teams/{team_id}/users/{user_id}`: `None` leaves a
/// field alone (it is not sent); `Some(None)` sends `null` (no SSO method, the default
/// group). Names may not be null.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct UpdateUser {
    /// New first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// New last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New SSO method, or `Some(None)` for none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub sso_name: Option<Option<String>>,
    /// New group, or `Some(None)` for the default group.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_id: Option<Option<String>>,
}

/// A field that is there, `null` included (absent fields take the `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The body of a group create or rename: `{"name":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GroupName {
    /// The group's (new) name.
    pub name: String,
}

/// `DELETE /teams/{team_id}/users/{user_id}?mode=`: what removing a user does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RemoveMode {
    /// Out of the team; the Splashtop account survives (the default).
    #[default]
    Remove,
    /// The Splashtop account is deleted.
    Delete,
}

impl RemoveMode {
    /// The `mode` query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remove => "remove",
            Self::Delete => "delete",
        }
    }

    /// The mode a `mode` query value names, if any.
    pub fn parse(mode: &str) -> Option<Self> {
        match mode {
            "remove" => Some(Self::Remove),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// The default page size of a listing (`limit` absent).
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// The largest page size a listing accepts.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// One page of `GET /teams/{team_id}/users[?limit=&cursor=]`:
/// `{"users":[…],"next_cursor":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct UsersPage {
    /// Sorted by email (case-insensitive).
    pub users: Vec<TeamUser>,
    /// The opaque cursor of the next page; `None` (null or absent) on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One user: `{"user":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct UserBody {
    /// The user.
    pub user: TeamUser,
}

/// One page of `GET /teams/{team_id}/groups[?limit=&cursor=]`:
/// `{"groups":[…],"next_cursor":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GroupsPage {
    /// Sorted by name (case-insensitive), the default group included.
    pub groups: Vec<TeamGroup>,
    /// The opaque cursor of the next page; `None` (null or absent) on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One group: `{"group":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GroupBody {
    /// The group.
    pub group: TeamGroup,
}

/// `GET /groups/{group_id}/members`: `{"members":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MembersBody {
    /// Sorted by email.
    pub members: Vec<TeamUser>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sends_only_its_fields_and_null_for_none() {
        let update = UpdateUser {
            first_name: Some("Ann".into()),
            sso_name: Some(None),
            ..UpdateUser::default()
        };
        let text = serde_json::to_string(&update).unwrap();
        assert_eq!(text, r#"{"first_name":"Ann","sso_name":null}"#);
        assert_eq!(serde_json::from_str::<UpdateUser>(&text).unwrap(), update);
        assert_eq!(
            serde_json::from_str::<UpdateUser>("{}").unwrap(),
            UpdateUser::default()
        );
    }

    #[test]
    fn answers_missing_optional_fields_still_parse() {
        let user: TeamUser = serde_json::from_str(r#"{"id":"u_1","email":"a@x.com"}"#).unwrap();
        assert_eq!((user.group_id, user.sso_name), (None, None));
        let group: TeamGroup = serde_json::from_str(r#"{"id":"g_1","name":"Sales"}"#).unwrap();
        assert!(!group.is_default);
    }

    #[test]
    fn a_last_page_may_send_null_or_nothing() {
        for text in [r#"{"users":[]}"#, r#"{"users":[],"next_cursor":null}"#] {
            let page: UsersPage = serde_json::from_str(text).unwrap();
            assert_eq!(page.next_cursor, None);
        }
        let page: GroupsPage = serde_json::from_str(r#"{"groups":[],"next_cursor":"c"}"#).unwrap();
        assert_eq!(page.next_cursor.as_deref(), Some("c"));
    }

    #[test]
    fn remove_modes_round_trip() {
        for mode in [RemoveMode::Remove, RemoveMode::Delete] {
            assert_eq!(RemoveMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(RemoveMode::parse("purge"), None);
    }
}
