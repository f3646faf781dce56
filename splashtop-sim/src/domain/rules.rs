//! Splashtop's team rules: SSO method names, allowed email domains, seats, the group
//! limit, accounts of other teams and computer group names.

use std::collections::HashSet;

use splashtop_api::ErrorCode;

use super::error::ApiError;

/// The longest string field the API accepts, in characters.
const MAX_FIELD_CHARS: usize = 256;

/// The rules one team enforces.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    sso_methods: Vec<String>,
    allowed_domains: Vec<String>,
    pub(crate) seats: u64,
    pub(crate) max_groups: usize,
    foreign_emails: HashSet<String>,
    computer_groups: HashSet<String>,
}

impl Rules {
    /// The rules of a team; domains, foreign emails and computer groups match in any case.
    pub(crate) fn new(
        sso_methods: &[String],
        allowed_domains: &[String],
        seats: u64,
        max_groups: usize,
        foreign_emails: &[String],
        computer_groups: &[String],
    ) -> Self {
        Self {
            sso_methods: sso_methods.to_vec(),
            allowed_domains: lower(allowed_domains).collect(),
            seats,
            max_groups,
            foreign_emails: lower(foreign_emails).collect(),
            computer_groups: lower(computer_groups).collect(),
        }
    }

    /// 422 `sso_method_not_found` or `domain_not_allowed` for a user with this SSO method and email.
    pub(crate) fn check_sso(&self, sso_name: Option<&str>, email: &str) -> Result<(), ApiError> {
        let Some(sso_name) = sso_name else {
            return Ok(());
        };
        if !self.sso_methods.iter().any(|m| m == sso_name) {
            return Err(ApiError::unprocessable(
                ErrorCode::SsoMethodNotFound,
                format!("the team has no SSO method named {sso_name:?} (names match exactly, spaces and case included)"),
            ));
        }
        let domain = email_domain(email).to_lowercase();
        if !self.allowed_domains.is_empty() && !self.allowed_domains.contains(&domain) {
            return Err(ApiError::unprocessable(
                ErrorCode::DomainNotAllowed,
                format!(
                    "the email domain {domain:?} is not allowed for the SSO method {sso_name:?}"
                ),
            ));
        }
        Ok(())
    }

    /// 409 `email_owned_by_other_team` when the email's account belongs to another team.
    pub(crate) fn check_foreign(&self, email: &str) -> Result<(), ApiError> {
        if self.foreign_emails.contains(&email.to_lowercase()) {
            return Err(ApiError::conflict(
                ErrorCode::EmailOwnedByOtherTeam,
                format!("the Splashtop account {email} belongs to another team"),
            ));
        }
        Ok(())
    }

    /// 409 `computer_group_conflict` when the name is one of the team's computer groups.
    pub(crate) fn check_computer_group(&self, name: &str) -> Result<(), ApiError> {
        if self.computer_groups.contains(&name.to_lowercase()) {
            return Err(ApiError::conflict(
                ErrorCode::ComputerGroupConflict,
                format!("the name {name:?} is taken by a computer group"),
            ));
        }
        Ok(())
    }
}

fn lower(items: &[String]) -> impl Iterator<Item = String> + '_ {
    items.iter().map(|i| i.to_lowercase())
}

/// The part of an email after the `@`.
pub(crate) fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, domain)| domain)
}

/// 400 `invalid_request` unless the email is `local@domain` without spaces.
pub(crate) fn validate_email(email: &str) -> Result<(), ApiError> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !valid || email.len() > 254 {
        return Err(ApiError::invalid(format!(
            "email {email:?} is not a valid email address"
        )));
    }
    Ok(())
}

/// 400 `invalid_request` unless the group name is non-blank and not too long.
pub(crate) fn validate_group_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name must not be empty"));
    }
    check_length("name", name)
}

/// 400 `invalid_request` when a string field is longer than the API accepts.
pub(crate) fn check_length(field: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().count() > MAX_FIELD_CHARS || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {MAX_FIELD_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(validate_email("a@example.com").is_ok());
        for bad in ["", "a", "@x.com", "a@", "a b@x.com", "a@b@c", "a@.x"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert_eq!(email_domain("a@Example.COM"), "Example.COM");
    }

    #[test]
    fn sso_and_domains() {
        let rules = Rules::new(
            &["Okta SSO".into()],
            &["Example.com".into()],
            10,
            10,
            &[],
            &[],
        );
        assert!(rules.check_sso(None, "a@other.org").is_ok());
        assert!(rules.check_sso(Some("Okta SSO"), "a@EXAMPLE.com").is_ok());
        let err = rules.check_sso(Some("okta sso"), "a@example.com").err();
        assert_eq!(err.map(|e| e.code), Some(ErrorCode::SsoMethodNotFound));
        let err = rules.check_sso(Some("Okta SSO"), "a@other.org").err();
        assert_eq!(err.map(|e| e.code), Some(ErrorCode::DomainNotAllowed));
    }
}
