//! Job keys, tenants and account emails as types: built and parsed here only.
//!
//! A job key orders the versions of one directory object: `{tenant}/user/{id}` or
//! `{tenant}/group/{id}`; the retirement of an account a user left by a userName change
//! has a key of its own, `{tenant}/user/{id}/account/{email, lower case}` (its versions
//! must not compete with the user's jobs on its new account, which travel on another
//! partition). A key travels as that string (in jobs, outcome events, the outbox and the
//! audit store); everywhere else it is a [`JobKey`], so no other crate splits it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tenant: one Splashtop team. Non-empty, no `/` (it is the first segment of a key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

impl Tenant {
    /// A tenant name, or `None` when it is empty or contains `/`.
    pub fn parse(name: &str) -> Option<Self> {
        (!name.is_empty() && !name.contains('/')).then(|| Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tenant {
    /// `default`: the tenant of a deployment that serves one team.
    fn default() -> Self {
        Self("default".into())
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// A SCIM User (a Splashtop user).
    User,
    /// A SCIM Group (a Splashtop group).
    Group,
}

impl KeyKind {
    /// `user` or `group`: the key segment, and the kind label in metrics and events.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::User => "user",
            KeyKind::Group => "group",
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ordering key of one directory object: `{tenant}/{user|group}/{id}`, or of the
/// retirement of an account a user left: `{tenant}/user/{id}/account/{email}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    tenant: Tenant,
    kind: KeyKind,
    id: String,
    account: Option<String>,
}

/// What separates a user id from the account a retirement key names.
const ACCOUNT_SEGMENT: &str = "/account/";

impl JobKey {
    /// The key of a user.
    pub fn user(tenant: &Tenant, user_id: &str) -> Self {
        Self::new(tenant, KeyKind::User, user_id)
    }

    /// The key of a group.
    pub fn group(tenant: &Tenant, group_id: &str) -> Self {
        Self::new(tenant, KeyKind::Group, group_id)
    }

    /// The key of the retirement of `account`, which user `user_id` left by a userName
    /// change: its versions are the user's directory versions, but counted apart from the
    /// user's own key, so that the retirement (on the old account's partition) and the
    /// user's jobs on its new account (on another partition) never skip one another.
    pub fn retirement(tenant: &Tenant, user_id: &str, account: &Email) -> Self {
        Self {
            account: Some(account.normalized()),
            ..Self::new(tenant, KeyKind::User, user_id)
        }
    }

    fn new(tenant: &Tenant, kind: KeyKind, id: &str) -> Self {
        Self {
            tenant: tenant.clone(),
            kind,
            id: id.to_string(),
            account: None,
        }
    }

    /// Parses `{tenant}/{user|group}/{id}` and `{tenant}/user/{id}/account/{email}`. A
    /// group id may itself contain `/`; a user id (server-assigned, a UUID) never
    /// contains `/account/`.
    pub fn parse(key: &str) -> Option<Self> {
        let mut parts = key.splitn(3, '/');
        let tenant = Tenant::parse(parts.next()?)?;
        let kind = match parts.next()? {
            "user" => KeyKind::User,
            "group" => KeyKind::Group,
            _ => return None,
        };
        let rest = parts.next().filter(|id| !id.is_empty())?;
        match rest.split_once(ACCOUNT_SEGMENT) {
            Some((id, account)) if kind == KeyKind::User => {
                if id.is_empty() || account.is_empty() {
                    return None;
                }
                Some(Self::retirement(&tenant, id, &Email::new(account)))
            }
            _ => Some(Self::new(&tenant, kind, rest)),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// User or group.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The directory's SCIM id of the object (of the user, for a retirement key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The account (lower case) a retirement key retires; `None` for every other key.
    pub fn retired_account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The key of the user a retirement key belongs to (the key itself otherwise).
    pub fn owner(&self) -> JobKey {
        Self::new(&self.tenant, self.kind, &self.id)
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.kind, self.id)?;
        match &self.account {
            Some(account) => write!(f, "{ACCOUNT_SEGMENT}{account}"),
            None => Ok(()),
        }
    }
}

impl Serialize for JobKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        JobKey::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a job key: {text:?}")))
    }
}

/// A Splashtop account's email: compared and routed case-insensitively, kept as written.
#[derive(Debug, Clone)]
pub struct Email(String);

impl Email {
    /// The email as written.
    pub fn new(email: &str) -> Self {
        Self(email.to_string())
    }

    /// The email as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-case form that names the account.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}

impl Eq for Email {}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The partition route of a Splashtop account: `{tenant}/account/{email, lower case}`.
pub fn account_route(tenant: &Tenant, email: &Email) -> String {
    format!("{tenant}/account/{}", email.normalized())
}

/// The partition route every group job of a tenant shares: `{tenant}/groups`.
pub fn groups_route(tenant: &Tenant) -> String {
    format!("{tenant}/groups")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Tenant {
        Tenant::parse("default").unwrap()
    }

    #[test]
    fn keys_print_and_parse_back() {
        let key = JobKey::user(&default(), "u1");
        assert_eq!(key.to_string(), "default/user/u1");
        assert_eq!(JobKey::parse("default/user/u1"), Some(key));
        let group = JobKey::parse("t/group/g/x").unwrap();
        assert_eq!(
            (group.tenant().as_str(), group.kind(), group.id()),
            ("t", KeyKind::Group, "g/x")
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "t", "t/user", "t/user/", "t/robot/x", "/user/x"] {
            assert_eq!(JobKey::parse(bad), None, "{bad:?}");
        }
        assert!(serde_json::from_str::<JobKey>("\"t/robot/x\"").is_err());
    }

    #[test]
    fn a_key_travels_as_its_string() {
        let key = JobKey::group(&default(), "g1");
        let wire = serde_json::to_string(&key).unwrap();
        assert_eq!(wire, "\"default/group/g1\"");
        assert_eq!(serde_json::from_str::<JobKey>(&wire).unwrap(), key);
    }

    #[test]
    fn a_retirement_key_prints_and_parses_back_apart_from_its_user() {
        let t = default();
        let key = JobKey::retirement(&t, "u1", &Email::new("Old@X.com"));
        assert_eq!(key.to_string(), "default/user/u1/account/old@x.com");
        let back = JobKey::parse("default/user/u1/account/old@x.com").unwrap();
        assert_eq!(back, key);
        assert_eq!(
            (back.kind(), back.id(), back.retired_account()),
            (KeyKind::User, "u1", Some("old@x.com"))
        );
        assert_ne!(key, JobKey::user(&t, "u1"), "versions are counted apart");
        assert_eq!(key.owner(), JobKey::user(&t, "u1"));
        assert_eq!(JobKey::user(&t, "u1").retired_account(), None);
        let wire = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<JobKey>(&wire).unwrap(), key);
        // A group id may hold the segment: it stays the id.
        let group = JobKey::parse("t/group/g/account/x").unwrap();
        assert_eq!((group.id(), group.retired_account()), ("g/account/x", None));
        for bad in ["t/user//account/a@b.com", "t/user/u1/account/"] {
            assert_eq!(JobKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn accounts_route_case_insensitively() {
        let t = default();
        assert_eq!(
            account_route(&t, &Email::new("A@B.com")),
            account_route(&t, &Email::new("a@b.COM"))
        );
        assert_eq!(
            account_route(&t, &Email::new("A@B.com")),
            "default/account/a@b.com"
        );
        assert_eq!(groups_route(&t), "default/groups");
        assert_eq!(Email::new("A@b.com"), Email::new("a@B.com"));
        assert_eq!(Tenant::parse("a/b"), None);
    }
}
