//! SCIM request bodies as identity providers send them.

use serde_json::{json, Map, Value};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SPLASHTOP_EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM user body: `userName` and only the attributes a test sets.
#[derive(Debug, Clone)]
pub struct ScimUser {
    body: Map<String, Value>,
}

impl ScimUser {
    /// `{"schemas": [User], "userName": user_name}`.
    pub fn new(user_name: &str) -> Self {
        let mut body = Map::new();
        body.insert("schemas".into(), json!([USER_SCHEMA]));
        body.insert("userName".into(), json!(user_name));
        Self { body }
    }

    /// What Okta sends on create: names, a primary work email, displayName, locale,
    /// externalId, no groups, a random password, active.
    pub fn okta(email: &str) -> Self {
        Self::new(email)
            .name("Test", "User")
            .work_email(email)
            .display_name("Test User")
            .with("locale", json!("en-US"))
            .with("externalId", json!("00ujl29u0le5T6Aj10h7"))
            .with("groups", json!([]))
            .with("password", json!("1mz050nq"))
            .active(true)
    }

    /// `name.givenName` and `name.familyName`.
    pub fn name(self, given: &str, family: &str) -> Self {
        self.with("name", json!({"givenName": given, "familyName": family}))
    }

    /// One primary work email.
    pub fn work_email(self, email: &str) -> Self {
        self.with(
            "emails",
            json!([{"primary": true, "value": email, "type": "work"}]),
        )
    }

    /// `displayName`.
    pub fn display_name(self, display: &str) -> Self {
        self.with("displayName", json!(display))
    }

    /// `active`.
    pub fn active(self, active: bool) -> Self {
        self.with("active", json!(active))
    }

    /// The Splashtop extension's `ssoName`.
    pub fn sso(self, sso_name: &str) -> Self {
        self.with(SPLASHTOP_EXTENSION, json!({"ssoName": sso_name}))
    }

    /// Any other attribute.
    pub fn with(mut self, attribute: &str, value: Value) -> Self {
        self.body.insert(attribute.into(), value);
        self
    }

    /// The JSON body.
    pub fn json(&self) -> Value {
        Value::Object(self.body.clone())
    }
}

/// A PatchOp body with `operations`.
pub fn patch_op(operations: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_okta_create_body_has_what_okta_sends() {
        let body = ScimUser::okta("ada@example.com").json();
        assert_eq!(body["userName"], "ada@example.com");
        assert_eq!(body["emails"][0]["value"], "ada@example.com");
        assert_eq!(body["name"]["givenName"], "Test");
        assert_eq!(body["password"], "1mz050nq");
        assert_eq!(body["active"], true);
    }

    #[test]
    fn only_the_attributes_set_are_sent() {
        let body = ScimUser::new("bob@example.com").sso("Okta SSO").json();
        assert_eq!(body.as_object().map(Map::len), Some(3), "{body}");
        assert_eq!(body[SPLASHTOP_EXTENSION]["ssoName"], "Okta SSO");
    }
}
