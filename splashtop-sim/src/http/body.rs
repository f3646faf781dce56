//! Strict JSON body parsing into `splashtop_api`'s request types: the body must be an
//! object, unknown fields are refused, and a field may be absent, `null` or a string.
//! Parsed by hand rather than derived so that the refusals come in the contract's order
//! (unknown field, then `email` in an update, then each field) and name their field.

use serde_json::{Map, Value};
use splashtop_api::{ErrorCode, InviteUser, UpdateUser};

use crate::domain::{check_length, validate_email, ApiError};

/// A field's three states.
#[derive(Debug)]
pub(crate) enum Field {
    Absent,
    Null,
    Text(String),
}

impl Field {
    fn optional(self) -> Option<Option<String>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Text(text) => Some(Some(text)),
        }
    }
}

/// A parsed JSON object body.
#[derive(Debug)]
pub(crate) struct Object(Map<String, Value>);

impl Object {
    /// Parses a JSON object, refusing fields not in `allowed`.
    pub(crate) fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ApiError::invalid("the body must be a JSON object"));
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::invalid(format!(
                "unknown field {unknown:?}; allowed: {}",
                allowed.join(", ")
            )));
        }
        Ok(Self(map))
    }

    /// A field that may be absent, null or a string of acceptable length.
    pub(crate) fn field(&self, key: &str) -> Result<Field, ApiError> {
        match self.0.get(key) {
            None => Ok(Field::Absent),
            Some(Value::Null) => Ok(Field::Null),
            Some(Value::String(text)) => {
                check_length(key, text)?;
                Ok(Field::Text(text.clone()))
            }
            Some(_) => Err(ApiError::invalid(format!("{key} must be a string or null"))),
        }
    }

    /// A field that must be a string.
    pub(crate) fn required(&self, key: &str) -> Result<String, ApiError> {
        match self.field(key)? {
            Field::Text(text) => Ok(text),
            Field::Absent | Field::Null => Err(ApiError::invalid(format!("{key} is required"))),
        }
    }

    /// A field that may be absent but not null.
    fn not_null(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.field(key)? {
            Field::Absent => Ok(None),
            Field::Null => Err(ApiError::invalid(format!("{key} must not be null"))),
            Field::Text(text) => Ok(Some(text)),
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

/// The body of `POST /teams/{team_id}/users`.
pub(crate) fn invite(bytes: &[u8]) -> Result<InviteUser, ApiError> {
    let body = Object::parse(bytes, &InviteUser::FIELDS)?;
    let email = body.required("email")?;
    validate_email(&email)?;
    Ok(InviteUser {
        email,
        first_name: body.required("first_name")?,
        last_name: body.required("last_name")?,
        display_name: body.field("display_name")?.optional().flatten(),
        sso_name: body.field("sso_name")?.optional().flatten(),
        group_id: body.field("group_id")?.optional().flatten(),
    })
}

/// The body of `PATCH /teams/{team_id}/users/{user_id}`; `email` is 422 `email_immutable`.
pub(crate) fn user_patch(bytes: &[u8]) -> Result<UpdateUser, ApiError> {
    let body = Object::parse(bytes, &InviteUser::FIELDS)?;
    if body.contains("email") {
        return Err(ApiError::unprocessable(
            ErrorCode::EmailImmutable,
            "a user's email is its Splashtop account and cannot be changed",
        ));
    }
    Ok(UpdateUser {
        first_name: body.not_null("first_name")?,
        last_name: body.not_null("last_name")?,
        display_name: body.not_null("display_name")?,
        sso_name: body.field("sso_name")?.optional(),
        group_id: body.field("group_id")?.optional(),
    })
}

/// The body of `POST`/`PATCH` on groups: `{"name"}`.
pub(crate) fn group_name(bytes: &[u8]) -> Result<String, ApiError> {
    Object::parse(bytes, &["name"])?.required("name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_bodies() {
        let ok = invite(br#"{"email":"a@x.com","first_name":"A","last_name":"B","group_id":null}"#);
        assert!(ok.is_ok_and(|i| i.group_id.is_none() && i.display_name.is_none()));
        let code = |r: Result<InviteUser, ApiError>| r.err().map(|e| e.code);
        let invalid = Some(ErrorCode::InvalidRequest);
        assert_eq!(code(invite(b"[]")), invalid);
        assert_eq!(
            code(invite(br#"{"email":"a@x.com","first_name":"A"}"#)),
            invalid
        );
        assert_eq!(
            code(invite(br#"{"email":"x","first_name":"A","last_name":"B"}"#)),
            invalid
        );
        assert_eq!(
            code(invite(
                br#"{"email":"a@x.com","first_name":"A","last_name":"B","role":"admin"}"#
            )),
            invalid
        );
    }

    #[test]
    fn patch_bodies() {
        let patch = user_patch(br#"{"group_id":null,"sso_name":"S"}"#);
        assert!(
            patch.is_ok_and(|p| p.group_id == Some(None) && p.sso_name == Some(Some("S".into())))
        );
        assert_eq!(
            user_patch(br#"{"email":"b@x.com"}"#).err().map(|e| e.code),
            Some(ErrorCode::EmailImmutable)
        );
        assert_eq!(
            user_patch(br#"{"first_name":null}"#).err().map(|e| e.code),
            Some(ErrorCode::InvalidRequest)
        );
    }
}
