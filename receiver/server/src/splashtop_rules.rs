//! Splashtop's own rules on a user, checked at the door: a body Splashtop would refuse is
//! answered 400 `invalidValue` naming the attribute (RFC 7644 §3.12) instead of being
//! accepted and dead-lettered later (caller-fixable errors are answered synchronously:
//! docs/DESIGN.md, invariant 3). The limits are the Splashtop API's
//! (docs/splashtop-api.md: string fields of at most 256 characters without control
//! characters, an email `local@domain`). Pure functions over a User body that already
//! passed the schema validation (so every attribute has its schema type); error details
//! name attributes, never values (they are personal data).

use serde_json::{Map, Value};
use splashsync_directory::plan::{account_email, AccountSource};
use splashsync_scim::{schema, ScimError, ScimType};

/// Longest string Splashtop accepts in a field, in characters.
pub const MAX_CHARS: usize = 256;

/// Longest email Splashtop accepts, in bytes.
pub const MAX_EMAIL: usize = 254;

fn invalid(path: &str, what: &str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, format!("'{path}' {what}"))
}

/// Whether Splashtop takes `s` as an email: `local@domain`, one `@`, neither part empty,
/// the domain neither starting nor ending with a dot, no whitespace or control character,
/// at most [`MAX_EMAIL`] bytes.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.len() <= MAX_EMAIL
}

/// Splashtop's rule for a string field: at most [`MAX_CHARS`] characters, no control
/// character (NUL included).
pub fn check_text(path: &str, value: &str) -> Result<(), ScimError> {
    if value.chars().any(char::is_control) {
        return Err(invalid(path, "must not contain control characters"));
    }
    if value.chars().count() > MAX_CHARS {
        return Err(invalid(
            path,
            &format!("is longer than {MAX_CHARS} characters, Splashtop's limit"),
        ));
    }
    Ok(())
}

/// Looks a key up case-insensitively (SCIM attribute names are case-insensitive).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The string at `path` (keys compared case-insensitively), if it is one.
fn str_at<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut cur = obj;
    for p in parents {
        cur = get_ci(cur, p)?.as_object()?;
    }
    get_ci(cur, last)?.as_str()
}

/// Every Splashtop rule on a user body whose (trimmed) userName is `user_name`.
pub fn check(user_name: &str, obj: &Map<String, Value>) -> Result<(), ScimError> {
    check_text("userName", user_name)?;
    let sso = format!("{}:ssoName", schema::SPLASHTOP_USER);
    let given = str_at(obj, &["name", "givenName"]);
    let family = str_at(obj, &["name", "familyName"]);
    let display = str_at(obj, &["displayName"]);
    for (path, value) in [
        ("name.givenName", given),
        ("name.familyName", family),
        ("displayName", display),
        (
            sso.as_str(),
            str_at(obj, &[schema::SPLASHTOP_USER, "ssoName"]),
        ),
    ] {
        if let Some(value) = value {
            check_text(path, value)?;
        }
    }
    // Without a displayName, Splashtop's is "<givenName> <familyName>".
    if display.is_none_or(str::is_empty) {
        let derived = format!("{} {}", given.unwrap_or(""), family.unwrap_or(""));
        if derived.trim().chars().count() > MAX_CHARS {
            return Err(invalid(
                "displayName",
                &format!(
                    "is missing, and the one Splashtop would make of name.givenName and \
                     name.familyName is longer than {MAX_CHARS} characters: send a displayName"
                ),
            ));
        }
    }
    match account_email(user_name, obj) {
        (email, _) if is_email(email) => Ok(()),
        (_, AccountSource::Email) => Err(invalid(
            "emails",
            "holds no email address where Splashtop needs one: userName is not an email, \
             so the primary email (or the first) is the Splashtop account",
        )),
        (_, AccountSource::UserName) => Err(invalid(
            "userName",
            "is not an email address, and no email is given: the Splashtop account needs \
             one (an email as userName, or a primary email)",
        )),
    }
}

#[cfg(test)]
mod tests;
