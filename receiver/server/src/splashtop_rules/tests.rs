use serde_json::json;
use splashsync_directory::model::UserRecord;
use splashsync_directory::plan::desired_state;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("test bodies are objects"),
    }
}

fn refused(user_name: &str, body: Value) -> String {
    let e = check(user_name, &obj(body)).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
    e.detail().to_string()
}

#[test]
fn emails_are_local_at_domain() {
    for good in [
        "a@example.com",
        "Test_User_ab@testuser.com",
        "x@okta.local",
        "a+b@x",
    ] {
        assert!(is_email(good), "{good}");
    }
    let long = format!("{}@example.com", "a".repeat(250));
    for bad in [
        "",
        "a",
        "@x.com",
        "a@",
        "a b@x.com",
        "a@b@c",
        "a@.x",
        "a@x.",
        "a\0@x.com",
        &long,
    ] {
        assert!(!is_email(bad), "{bad:?}");
    }
}

#[test]
fn the_account_email_is_the_one_the_plan_provisions() {
    for (user_name, body) in [
        (
            "ada@example.com",
            json!({"emails": [{"value": "other@example.com", "primary": true}]}),
        ),
        (
            "jdoe",
            json!({"emails": [{"value": "home@x.com"}, {"value": "j@x.com", "primary": true}]}),
        ),
        (
            "jdoe",
            json!({"emails": [{"value": "first@x.com"}, {"value": "second@x.com"}]}),
        ),
        (
            "jdoe",
            json!({"Emails": [{"value": "ci@x.com", "Primary": true}]}),
        ),
        ("jdoe", json!({"emails": [{"type": "work"}]})),
        ("jdoe", json!({})),
    ] {
        let record = UserRecord {
            id: "u1".into(),
            user_name: user_name.into(),
            resource: body.clone(),
            version: 1,
            created: String::new(),
            last_modified: String::new(),
            groups: Vec::new(),
            provisioning: None,
        };
        let planned = desired_state(&record, None).email;
        let body = obj(body);
        assert_eq!(
            account_email(user_name, &body).0,
            planned,
            "{user_name} {body:?}"
        );
    }
}

#[test]
fn a_user_name_that_is_no_email_needs_an_email() {
    let ok = json!({"emails": [{"value": "jdoe@example.com", "primary": true, "type": "work"}]});
    assert!(check("jdoe", &obj(ok)).is_ok());
    assert!(refused("jdoe", json!({})).starts_with("'userName'"));
    assert!(refused(
        "jdoe",
        json!({"emails": [{"value": "emailName357", "primary": true}]})
    )
    .starts_with("'emails'"));
    assert!(refused("a b@example.com", json!({})).starts_with("'userName'"));
}

#[test]
fn names_and_display_name_are_at_most_256_characters_without_control_characters() {
    let long = "é".repeat(MAX_CHARS + 1);
    let fits = "é".repeat(MAX_CHARS);
    assert!(check("a@x.com", &obj(json!({"name": {"givenName": fits}}))).is_ok());
    for (body, attr) in [
        (json!({"name": {"givenName": long}}), "'name.givenName'"),
        (
            json!({"NAME": {"FamilyName": "a\u{7}b"}}),
            "'name.familyName'",
        ),
        (json!({"displayName": "x\0"}), "'displayName'"),
        (
            json!({schema::SPLASHTOP_USER: {"ssoName": "Okta\nSSO"}}),
            "'urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User:ssoName'",
        ),
    ] {
        let detail = refused("a@x.com", body.clone());
        assert!(detail.starts_with(attr), "{body}: {detail}");
        assert!(!detail.contains("é"), "values are not echoed: {detail}");
    }
    assert!(refused(&"u".repeat(MAX_CHARS + 1), json!({})).starts_with("'userName'"));
    assert!(refused("a\0@x.com", json!({})).starts_with("'userName'"));
}

#[test]
fn a_display_name_splashtop_would_make_too_long_is_refused() {
    let half = "n".repeat(200);
    let names = json!({"name": {"givenName": half, "familyName": half}});
    assert!(refused("a@x.com", names.clone()).starts_with("'displayName'"));
    let mut named = names;
    named["displayName"] = json!("Short");
    assert!(check("a@x.com", &obj(named)).is_ok());
}
