//! Tests of the schema definitions and of path resolution.

use serde_json::{json, Value};

use super::*;
use crate::filter::AttrPath;

fn data(urn: &str) -> Value {
    let text = match urn {
        USER => include_str!("data/user.json"),
        GROUP => include_str!("data/group.json"),
        ENTERPRISE_USER => include_str!("data/enterprise_user.json"),
        SPLASHTOP_USER => include_str!("data/splashtop_user.json"),
        PROVISIONING => include_str!("data/provisioning.json"),
        other => panic!("no data file for {other}"),
    };
    serde_json::from_str(text).unwrap()
}

#[test]
fn every_schema_renders_exactly_its_data_file_plus_schemas() {
    let ids: Vec<&str> = all().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [USER, GROUP, ENTERPRISE_USER, SPLASHTOP_USER, PROVISIONING]
    );
    for s in all() {
        let mut expected = data(&s.id);
        expected["schemas"] = json!([SCHEMA]);
        assert_eq!(s.to_json(), expected, "{}", s.id);
        assert!(s.to_json().get("meta").is_none());
    }
}

#[test]
fn the_rfc_schemas_are_those_of_rfc_7643_section_8_7_1() {
    let user = schema(USER).unwrap();
    assert_eq!(
        (user.name.as_str(), user.description.as_str()),
        ("User", "User Account")
    );
    let names: Vec<&str> = user.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates"
        ]
    );
    let user_name = user.attribute("userName").unwrap();
    assert!(user_name.required);
    assert_eq!(user_name.uniqueness, Some(Uniqueness::Server));
    assert_eq!(user_name.mutability, Mutability::ReadWrite);
    let password = user.attribute("password").unwrap();
    assert_eq!(
        (password.mutability, password.returned),
        (Mutability::WriteOnly, Returned::Never)
    );
    let emails = user.attribute("emails").unwrap();
    assert!(emails.multi_valued && emails.type_ == AttrType::Complex);
    assert_eq!(
        emails.sub_attribute("type").unwrap().canonical_values,
        Some(vec!["work".into(), "home".into(), "other".into()])
    );
    assert_eq!(user.attribute("active").unwrap().case_exact, None);
    assert_eq!(user.attribute("phoneNumbers").unwrap().uniqueness, None);
    assert_eq!(
        user.attribute("groups").unwrap().mutability,
        Mutability::ReadOnly
    );
    assert_eq!(
        user.attribute("x509Certificates.value").unwrap().type_,
        AttrType::Binary
    );
    // The RFC lists an empty canonicalValues for roles.type; it is kept.
    assert_eq!(
        user.to_json()["attributes"][19]["subAttributes"][2]["canonicalValues"],
        json!([])
    );
    assert_eq!(
        user.attribute("profileUrl").unwrap().reference_types,
        Some(vec!["external".into()])
    );

    let group = schema(GROUP).unwrap();
    assert_eq!(
        (group.name.as_str(), group.description.as_str()),
        ("Group", "Group")
    );
    let members = group.attribute("members").unwrap();
    assert_eq!(
        members.sub_attribute("value").unwrap().mutability,
        Mutability::Immutable
    );
    assert_eq!(
        members.sub_attribute("$ref").unwrap().reference_types,
        Some(vec!["User".into(), "Group".into()])
    );
    assert!(members.sub_attribute("display").is_none(), "as published");

    let enterprise = schema(ENTERPRISE_USER).unwrap();
    assert_eq!(enterprise.description, "Enterprise User");
    assert_eq!(enterprise.attributes.len(), 6);
    assert!(enterprise
        .attribute("manager.displayName")
        .unwrap()
        .is_read_only());
}

#[test]
fn the_splashsync_extensions() {
    let sso = attribute(SPLASHTOP_USER, "ssoName").unwrap();
    assert_eq!(sso.type_, AttrType::String);
    assert!(sso.is_case_exact());
    assert_eq!(
        (sso.mutability, sso.returned),
        (Mutability::ReadWrite, Returned::Default)
    );
    assert!(!sso.multi_valued && !sso.required);

    let p = schema(PROVISIONING).unwrap();
    let names: Vec<&str> = p.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "state",
            "lastError",
            "splashtopId",
            "version",
            "updated",
            "warnings"
        ]
    );
    for a in &p.attributes {
        assert_eq!(
            (a.mutability, a.returned),
            (Mutability::ReadOnly, Returned::Request),
            "{}",
            a.name
        );
        assert!(!a.required, "{}", a.name);
        assert_eq!(a.multi_valued, a.name == "warnings", "{}", a.name);
    }
    assert_eq!(
        p.attribute("state").unwrap().canonical_values,
        Some(
            ["pending", "applied", "retrying", "dead-lettered"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(p.attribute("version").unwrap().type_, AttrType::Integer);
    assert_eq!(p.attribute("updated").unwrap().type_, AttrType::DateTime);
}

#[test]
fn lookups_are_case_insensitive() {
    assert_eq!(schema(&USER.to_uppercase()).unwrap().id, USER);
    assert_eq!(
        schema(" urn:ietf:params:scim:schemas:core:2.0:user ")
            .unwrap()
            .id,
        USER
    );
    assert_eq!(attribute(USER, "NAME.GIVENNAME").unwrap().name, "givenName");
    assert_eq!(
        attribute(&SPLASHTOP_USER.to_lowercase(), "SSONAME")
            .unwrap()
            .name,
        "ssoName"
    );
    assert!(attribute(USER, "name.nothing").is_none());
    assert!(attribute(USER, "adreses").is_none());
    assert!(
        attribute(USER, "id").is_none(),
        "common attributes are no schema's"
    );
    assert!(schema("urn:ietf:params:scim:schemas:core:2.0:Nothing").is_none());
}

fn resolve(resource: Resource, path: &str) -> Option<Target> {
    resource.resolve(&path.parse::<AttrPath>().unwrap())
}

#[test]
fn resolution_against_a_resource() {
    use Resource::{Group, User};
    let def = |r, p| resolve(r, p).and_then(|t| t.def()).map(|d| d.name.as_str());
    assert_eq!(def(User, "userName"), Some("userName"));
    assert_eq!(def(User, "USERNAME"), Some("userName"));
    assert_eq!(def(User, "name.familyName"), Some("familyName"));
    assert_eq!(def(User, "id"), Some("id"));
    assert_eq!(
        def(User, "urn:ietf:params:scim:schemas:core:2.0:User:id"),
        Some("id")
    );
    assert_eq!(def(User, "externalId"), Some("externalId"));
    assert_eq!(def(User, "meta.lastModified"), Some("lastModified"));
    assert_eq!(def(Group, "members.value"), Some("value"));
    // RFC 7643 §2.4 defaults of multi-valued attributes.
    assert_eq!(def(Group, "members.display"), Some("display"));
    assert_eq!(
        resolve(User, "addresses.primary")
            .and_then(|t| t.def())
            .map(|d| d.type_),
        Some(AttrType::Boolean)
    );
    assert_eq!(def(User, "name.display"), None, "name is single-valued");
    assert_eq!(def(User, "userName.x"), None, "userName is not complex");
    assert_eq!(def(User, "adreses"), None);
    assert_eq!(
        def(
            User,
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
        ),
        None
    );
    assert_eq!(
        def(
            User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
        ),
        Some("value")
    );
    assert_eq!(
        def(
            User,
            "urn:ietf:params:scim:schemas:extension:splashtop:2.0:user:SSONAME"
        ),
        Some("ssoName")
    );
    assert_eq!(
        def(
            User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:id"
        ),
        None
    );
    assert_eq!(
        def(
            User,
            "urn:ietf:params:scim:schemas:extension:other:2.0:User:x"
        ),
        None
    );
    assert_eq!(
        resolve(User, ENTERPRISE_USER),
        Some(Target::Schema(schema(ENTERPRISE_USER).unwrap()))
    );
    assert_eq!(
        resolve(User, USER),
        Some(Target::Schema(schema(USER).unwrap()))
    );
    assert_eq!(resolve(Group, ENTERPRISE_USER), None);
    assert_eq!(resolve(Group, "userName"), None);
    assert_eq!(User.resolve_key("a b"), None);
    assert_eq!(
        User.resolve_key("name.givenName")
            .and_then(|t| t.def())
            .map(|d| d.name.as_str()),
        Some("givenName")
    );
}

#[test]
fn a_plain_key_resolves_as_its_parsed_path_does() {
    // resolve_key skips the path parser for a plain attribute name: same answers.
    use Resource::{Group, User};
    let keys = [
        "userName",
        "USERNAME",
        " name ",
        "emails",
        "id",
        "meta",
        "schemas",
        "externalId",
        "members",
        "displayName",
        "active",
        "groups",
        "password",
        "nosuch",
        "and",
        "pr",
        "eq",
        "not",
        "true",
        "null",
        "$ref",
        "_x",
        "a-b",
        "x1",
        "urn",
    ];
    for resource in [User, Group] {
        for key in keys {
            let parsed = key
                .trim()
                .parse::<AttrPath>()
                .ok()
                .and_then(|p| resource.resolve(&p));
            assert_eq!(resource.resolve_key(key), parsed, "{resource:?} {key:?}");
        }
    }
}

#[test]
fn read_only_targets() {
    use Resource::{Group, User};
    let ro = |r, p: &str| resolve(r, p).unwrap().is_read_only();
    assert!(ro(User, "id"));
    assert!(ro(User, "meta"));
    assert!(ro(User, "meta.version"));
    assert!(ro(User, "groups"));
    assert!(ro(
        User,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"
    ));
    assert!(ro(User, PROVISIONING));
    assert!(ro(Group, &format!("{PROVISIONING}:state")));
    assert!(!ro(User, "userName"));
    assert!(!ro(User, "externalId"));
    assert!(!ro(User, ENTERPRISE_USER));
    assert!(!ro(Group, "members"));
    assert!(!ro(Group, "members.value"), "immutable is not read-only");
}
