//! Tests of body validation, normalization and pruning.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::schema::{
    AttrType, Mutability, Returned, ENTERPRISE_USER, PROVISIONING, SPLASHTOP_USER,
};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn user(extra: Value) -> Value {
    let mut body = json!({"schemas": [USER_URN], "userName": "ada@example.com"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The scimType and detail of a rejected body.
fn rejected(body: &Value, resource: Resource) -> (Option<&'static str>, String) {
    let err = validate(body, resource).unwrap_err();
    assert_eq!(err.status(), 400);
    (
        err.scim_type().map(ScimType::as_str),
        err.detail().to_string(),
    )
}

#[test]
fn microsoft_create_with_string_booleans_is_accepted_as_booleans() {
    // Microsoft's SCIM validator: "Create a new User" with "active": "True".
    let body = json!({
        "schemas": [USER_URN, ENTERPRISE_USER],
        "userName": "Test_User_ab3f@testuser.com",
        "active": "True",
        "displayName": "Test User",
        "emails": [{"primary": "true", "type": "work", "value": "a@b.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "f", "givenName": "g"},
        ENTERPRISE_USER: {"employeeNumber": "1", "department": "d"}
    });
    let out = prepare(body.clone(), Resource::User).unwrap();
    assert_eq!(out["active"], json!(true));
    assert_eq!(out["emails"][0]["primary"], json!(true));
    assert_eq!(out[ENTERPRISE_USER], body[ENTERPRISE_USER]);
    assert_eq!(out["name"], body["name"]);
    let body = user(json!({"active": "FALSE"}));
    assert_eq!(
        prepare(body, Resource::User).unwrap()["active"],
        json!(false)
    );
}

#[test]
fn okta_create_drops_the_password() {
    // okta/create_user.json carries a random password even without password sync.
    let body = json!({
        "schemas": [USER_URN],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let out = prepare(body.clone(), Resource::User).unwrap();
    assert!(out.get("password").is_none());
    assert!(!out.to_string().contains("1mz050nq"));
    assert_eq!(out["externalId"], body["externalId"]);
    let body =
        user(json!({"Password": 5, "urn:ietf:params:scim:schemas:core:2.0:User:password": 6}));
    assert_eq!(prepare(body, Resource::User).unwrap(), user(json!({})));
}

#[test]
fn wrong_types_are_invalid_value_naming_the_attribute() {
    let sso = format!("{SPLASHTOP_USER}:ssoName");
    let manager = format!("{ENTERPRISE_USER}:manager");
    let cases = [
        (json!({"name": "Ada Lovelace"}), "'name'"),
        (json!({"userName": 5}), "'userName'"),
        (json!({"externalId": true}), "'externalId'"),
        (json!({"active": 1}), "'active'"),
        (json!({"active": "yes"}), "'active'"),
        (json!({"emails": "a@b.com"}), "'emails'"),
        (json!({"emails": {"value": "a@b.com"}}), "'emails'"),
        (json!({"emails": ["a@b.com"]}), "'emails'"),
        (json!({"emails": [{"value": 5}]}), "'emails.value'"),
        (
            json!({"emails": [{"primary": "maybe"}]}),
            "'emails.primary'",
        ),
        (json!({"name": {"givenName": ["Ada"]}}), "'name.givenName'"),
        (
            json!({"phoneNumbers": [{"value": "1"}, 7]}),
            "'phoneNumbers'",
        ),
        (json!({"schemas": 5}), "'schemas'"),
        (json!({"schemas": [5]}), "'schemas'"),
        (json!({SPLASHTOP_USER: "x"}), SPLASHTOP_USER),
        (json!({SPLASHTOP_USER: {"ssoName": 5}}), &sso),
        (json!({SPLASHTOP_USER: {"ssoName": ["a"]}}), &sso),
        (json!({SPLASHTOP_USER: {"ssoName": {"name": "a"}}}), &sso),
        (json!({ENTERPRISE_USER: {"manager": 5}}), &manager),
        (
            json!({ENTERPRISE_USER: {"manager": {"value": 3}}}),
            "manager.value",
        ),
    ];
    for (extra, named) in cases {
        let body = user(extra.clone());
        let (scim_type, detail) = rejected(&body, Resource::User);
        assert_eq!(scim_type, Some("invalidValue"), "{extra}");
        assert!(detail.contains(named), "{extra}: {detail}");
        assert!(prepare(body, Resource::User).is_err());
    }
    let group = |extra: Value| {
        let mut g = json!({"displayName": "G"});
        g.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        g
    };
    for (extra, named) in [
        (json!({"displayName": 5}), "'displayName'"),
        (json!({"members": {"value": "m"}}), "'members'"),
        (json!({"members": [{"value": 5}]}), "'members.value'"),
        (
            json!({"members": [{"value": "m", "$ref": 5}]}),
            "'members.$ref'",
        ),
    ] {
        let (scim_type, detail) = rejected(&group(extra.clone()), Resource::Group);
        assert_eq!(scim_type, Some("invalidValue"), "{extra}");
        assert!(detail.contains(named), "{extra}: {detail}");
    }
}

#[test]
fn bare_ids_read_as_references() {
    let group =
        json!({"displayName": "G", "members": ["m1", {"value": "m2", "display": "M"}, null]});
    let out = prepare(group, Resource::Group).unwrap();
    assert_eq!(
        out["members"],
        json!([{"value": "m1"}, {"value": "m2", "display": "M"}])
    );
    // Entra sends the enterprise manager as a bare id.
    let body = user(json!({ENTERPRISE_USER: {"manager": "boss-id"}}));
    let out = prepare(body, Resource::User).unwrap();
    assert_eq!(out[ENTERPRISE_USER]["manager"], json!({"value": "boss-id"}));
    // Only references: emails are not.
    assert!(validate(&user(json!({"emails": ["a@b.com"]})), Resource::User).is_err());
    let members = [json!("a"), json!({"value": "b"}), json!({"VALUE": "c"})];
    let ids: Vec<_> = members.iter().map(reference_id).collect();
    assert_eq!(ids, [Some("a"), Some("b"), Some("c")]);
    for bad in [
        json!(5),
        json!({"display": "d"}),
        json!({"value": 5}),
        json!(null),
    ] {
        assert_eq!(reference_id(&bad), None, "{bad}");
    }
}

#[test]
fn details_name_types_never_values() {
    let body = user(json!({"name": "Very Private Name"}));
    let (_, detail) = rejected(&body, Resource::User);
    assert!(!detail.contains("Private"), "{detail}");
    assert!(detail.contains("a string"), "{detail}");
}

#[test]
fn a_body_that_is_not_an_object_is_invalid_syntax() {
    for body in [json!([]), json!("x"), json!(null)] {
        let (scim_type, _) = rejected(&body, Resource::User);
        assert_eq!(scim_type, Some("invalidSyntax"));
        assert!(prepare(body, Resource::Group).is_err());
    }
}

#[test]
fn null_is_unassigned() {
    let body = user(json!({
        "displayName": null,
        "name": {"givenName": "G", "middleName": null},
        "emails": [null, {"value": "a@b.com", "display": null}],
        ENTERPRISE_USER: {"department": null, "division": "d"},
        SPLASHTOP_USER: null
    }));
    let out = prepare(body, Resource::User).unwrap();
    assert_eq!(
        out,
        user(json!({
            "name": {"givenName": "G"},
            "emails": [{"value": "a@b.com"}],
            ENTERPRISE_USER: {"division": "d"}
        }))
    );
    let group = json!({"displayName": "G", "members": [{"value": "m", "$ref": null}]});
    assert_eq!(
        prepare(group, Resource::Group).unwrap()["members"],
        json!([{"value": "m"}])
    );
}

#[test]
fn read_only_attributes_are_ignored_whatever_their_value() {
    let body = user(json!({
        "id": 5,
        "ID": "x",
        "meta": "not an object",
        "groups": "x",
        PROVISIONING: "garbage",
        ENTERPRISE_USER: {"manager": {"value": "boss", "displayName": 7}}
    }));
    validate(&body, Resource::User).unwrap();
    let mut with_schemas = body.clone();
    with_schemas["schemas"] = json!([USER_URN, PROVISIONING, ENTERPRISE_USER]);
    let out = prepare(with_schemas, Resource::User).unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER_URN, ENTERPRISE_USER],
            "userName": "ada@example.com",
            ENTERPRISE_USER: {"manager": {"value": "boss"}}
        })
    );
    let group = json!({"displayName": "G", "id": "i", PROVISIONING: {"state": 3}});
    assert_eq!(
        prepare(group, Resource::Group).unwrap(),
        json!({"displayName": "G"})
    );
}

#[test]
fn unknown_attributes_are_ignored() {
    // Microsoft's validator PUTs a misspelled attribute and expects 200.
    let body = user(json!({
        "adreses": [{"type": "work", "streetAddress": 5}],
        "name": {"givenName": "G", "bogus": 1},
        "emails": [{"value": "a@b.com", "unknownSub": [1]}],
        "name.familyName": 5,
        "urn:ietf:params:scim:schemas:extension:other:2.0:User": "x",
        ENTERPRISE_USER: {"department": "d", "nickname": 4},
        format!("{ENTERPRISE_USER}:department"): 9,
        "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:other:2.0:User"]
    }));
    validate(&body, Resource::User).unwrap();
    let mut pruned = body.clone();
    let mut dropped = prune(&mut pruned, Resource::User);
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "adreses",
            "emails.unknownSub",
            "name.bogus",
            "name.familyName",
            "schemas: urn:ietf:params:scim:schemas:extension:other:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nickname",
            "urn:ietf:params:scim:schemas:extension:other:2.0:User",
        ]
    );
    assert_eq!(
        pruned,
        json!({
            "schemas": [USER_URN],
            "userName": "ada@example.com",
            "name": {"givenName": "G"},
            "emails": [{"value": "a@b.com"}],
            ENTERPRISE_USER: {"department": "d"}
        })
    );
    // A User extension on a Group is unknown there.
    let group = json!({"displayName": "G", ENTERPRISE_USER: "x", "userName": 5});
    assert_eq!(
        prepare(group, Resource::Group).unwrap(),
        json!({"displayName": "G"})
    );
}

#[test]
fn keys_match_case_insensitively_and_keep_their_spelling() {
    let body = json!({
        "SCHEMAS": USER_URN,
        "USERNAME": "a",
        "Name": {"GIVENNAME": "G"},
        "Active": "true",
        SPLASHTOP_USER.to_lowercase(): {"SSONAME": "Okta SSO"}
    });
    let out = prepare(body, Resource::User).unwrap();
    assert_eq!(
        out,
        json!({
            "SCHEMAS": [USER_URN],
            "USERNAME": "a",
            "Name": {"GIVENNAME": "G"},
            "Active": true,
            SPLASHTOP_USER.to_lowercase(): {"SSONAME": "Okta SSO"}
        })
    );
    let bad = json!({"EMAILS": "x"});
    assert!(rejected(&bad, Resource::User).1.contains("'emails'"));
}

fn leak(type_: AttrType, multi_valued: bool) -> &'static AttributeDef {
    Box::leak(Box::new(AttributeDef {
        name: "x".into(),
        type_,
        reference_types: None,
        multi_valued,
        description: String::new(),
        required: false,
        case_exact: None,
        canonical_values: None,
        sub_attributes: None,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: None,
    }))
}

#[test]
fn every_type() {
    let cases = [
        (AttrType::String, json!("s"), json!(1)),
        (AttrType::Reference, json!("https://x/Users/1"), json!({})),
        (AttrType::Binary, json!("TUlJRE"), json!(true)),
        (AttrType::Boolean, json!(false), json!("no")),
        (AttrType::Integer, json!(-3), json!(1.5)),
        (AttrType::Integer, json!(u64::MAX), json!("1")),
        (AttrType::Decimal, json!(1.5), json!("1.5")),
        (
            AttrType::DateTime,
            json!("2015-09-01T12:00:00Z"),
            json!("2015-09-01"),
        ),
        (
            AttrType::DateTime,
            json!("2015-09-01T12:00:00.123+02:00"),
            json!(20150901),
        ),
        (
            AttrType::DateTime,
            json!("2015-09-01T12:00:00"),
            json!("yesterday"),
        ),
        (AttrType::Complex, json!({}), json!([])),
    ];
    for (type_, good, bad) in cases {
        let def = leak(type_, false);
        assert!(check(def, &good, "x").is_ok(), "{type_:?} {good}");
        assert!(check(def, &Value::Null, "x").is_ok());
        let err = check(def, &bad, "x").unwrap_err();
        assert_eq!(
            err.scim_type(),
            Some(ScimType::InvalidValue),
            "{type_:?} {bad}"
        );
        let multi = leak(type_, true);
        assert!(check(multi, &json!([good, null]), "x").is_ok());
        assert!(check(multi, &json!([good.clone(), bad]), "x").is_err());
        assert!(check(multi, &good, "x").is_err(), "{type_:?}: not an array");
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(vec![
            "True",
            "false",
            "x",
            "",
            "work",
            USER_URN,
            PROVISIONING
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 30, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "schemas",
        "id",
        "userName",
        "active",
        "name",
        "givenName",
        "emails",
        "value",
        "primary",
        "members",
        "meta",
        "display",
        "$ref",
        "groups",
        "ssoName",
        "manager",
        ENTERPRISE_USER,
        SPLASHTOP_USER,
        PROVISIONING,
        "adreses",
        "a b",
        "name.givenName",
    ])
    .prop_map(String::from)
}

proptest! {
    #[test]
    fn prepared_bodies_validate_and_prepare_again_unchanged(body in arb_json()) {
        for resource in [Resource::User, Resource::Group] {
            if let Ok(out) = prepare(body.clone(), resource) {
                prop_assert!(validate(&out, resource).is_ok());
                prop_assert_eq!(prepare(out.clone(), resource).ok(), Some(out));
            }
        }
    }
}
