//! Splashtop's error body, `{"error":{"code":"<snake_case>","message":"<text>"}}`, and the
//! codes the contract names (docs/splashtop-api.md, "Error codes"). Clients branch on the
//! code and the status, never on the message.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares [`ErrorCode`] with each known code's wire spelling, once.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal,)*) => {
        /// An error code: one the contract names, or any other the server sent.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code the contract does not name (kept verbatim).
            Other(String),
        }

        impl ErrorCode {
            /// The code as it travels, e.g. `seat_limit_reached`.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(code) => code,
                }
            }
        }

        impl From<&str> for ErrorCode {
            fn from(code: &str) -> Self {
                match code {
                    $($wire => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// 400: malformed body, missing or invalid field, unknown field, bad `mode`.
    InvalidRequest => "invalid_request",
    /// 401: missing, wrong or expired token.
    Unauthorized => "unauthorized",
    /// 404: wrong team id.
    TeamNotFound => "team_not_found",
    /// 404: no such user in the team.
    UserNotFound => "user_not_found",
    /// 404: no such group.
    GroupNotFound => "group_not_found",
    /// 404: no such path.
    NotFound => "not_found",
    /// 405: wrong method for the path.
    MethodNotAllowed => "method_not_allowed",
    /// 409: the email is already in the team.
    UserExists => "user_exists",
    /// 409: the Splashtop account belongs to another team.
    EmailOwnedByOtherTeam => "email_owned_by_other_team",
    /// 409: the group name is taken.
    GroupExists => "group_exists",
    /// 409: the group name is one of the team's computer groups.
    ComputerGroupConflict => "computer_group_conflict",
    /// 422: `email` sent in a user update.
    EmailImmutable => "email_immutable",
    /// 422: the team has no SSO method of that exact name.
    SsoMethodNotFound => "sso_method_not_found",
    /// 422: the email's domain is not allowed for the SSO method.
    DomainNotAllowed => "domain_not_allowed",
    /// 422: every licence seat is taken.
    SeatLimitReached => "seat_limit_reached",
    /// 422: the team has reached its group limit (2000, the default group included).
    GroupLimitReached => "group_limit_reached",
    /// 422: the default group cannot be renamed or deleted.
    DefaultGroupImmutable => "default_group_immutable",
    /// 429: throttled.
    RateLimited => "rate_limited",
    /// 5xx: server trouble.
    InternalError => "internal_error",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(Self::from(code.as_str()))
    }
}

/// Every error answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What a client branches on.
    pub code: ErrorCode,
    /// Human text; may be empty in what a client receives.
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    /// The body for `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

/// Splashtop's error code as a label: one of its contract's codes, `other` for a code the
/// contract does not name, `none` when Splashtop gave none (no answer, or a transient
/// answer without a body): a 429 or a 5xx without a code still count as `rate_limited`
/// and `internal_error`. A fixed label set for metrics: the worker's and the receiver's.
pub fn code_label(code: Option<&str>, status: Option<u16>) -> String {
    let code = match code {
        Some(c) => ErrorCode::from(c),
        None => match status {
            Some(429) => ErrorCode::RateLimited,
            Some(500..=599) => ErrorCode::InternalError,
            _ => return "none".into(),
        },
    };
    match code {
        ErrorCode::Other(_) => "other".into(),
        known => known.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_travel_as_their_snake_case_names_and_unknown_ones_survive() {
        let body = ErrorBody::new(ErrorCode::SeatLimitReached, "licence full");
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(
            text,
            r#"{"error":{"code":"seat_limit_reached","message":"licence full"}}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&text).unwrap(), body);
        let odd: ErrorBody = serde_json::from_str(r#"{"error":{"code":"brand_new"}}"#).unwrap();
        assert_eq!(odd.error.code, ErrorCode::Other("brand_new".into()));
        assert_eq!(odd.error.code.to_string(), "brand_new");
        assert_eq!(odd.error.message, "");
    }
}
