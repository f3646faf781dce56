//! Tests of password stripping, one per form, and a property over any JSON.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::patch::{apply, parse_patch, SchemaRules};
use crate::schema::{Resource, USER};

const URN_PASSWORD: &str = "urn:ietf:params:scim:schemas:core:2.0:User:password";

fn stripped(mut body: Value) -> Value {
    assert!(strip_password(&mut body).is_empty());
    body
}

#[test]
fn password_keys() {
    for key in [
        "password",
        "Password",
        "PASSWORD",
        " password ",
        URN_PASSWORD,
        "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:PASSWORD",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:password",
        "x:password",
    ] {
        assert!(is_password_key(key), "{key}");
    }
    for key in [
        "passwordHint",
        "oldpassword",
        "pass",
        "",
        "password.x",
        "é:password:x",
    ] {
        assert!(!is_password_key(key), "{key}");
    }
}

#[test]
fn bare_in_any_case() {
    let body = json!({"userName": "a", "password": "1mz050nq", "PassWord": "x"});
    assert_eq!(stripped(body), json!({"userName": "a"}));
}

#[test]
fn urn_qualified() {
    let body = json!({"userName": "a", URN_PASSWORD: "s3cret", "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:PASSWORD": "s"});
    assert_eq!(stripped(body), json!({"userName": "a"}));
}

#[test]
fn nested_under_the_core_urn_object() {
    let body = json!({"userName": "a", USER: {"password": "s3cret", "displayName": "D"}});
    assert_eq!(
        stripped(body),
        json!({"userName": "a", USER: {"displayName": "D"}})
    );
}

#[test]
fn at_any_depth() {
    let body = json!({"a": [{"b": {"Password": 1}}, [{"x:password": 2, "keep": 3}]]});
    assert_eq!(stripped(body), json!({"a": [{"b": {}}, [{"keep": 3}]]}));
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[test]
fn patch_operations_targeting_the_password_are_dropped() {
    let mut body = patch(json!([
        {"op": "replace", "path": "password", "value": "s1"},
        {"op": "replace", "path": "displayName", "value": "D"},
        {"op": "Replace", "path": "PASSWORD", "value": "s2"},
        {"op": "add", "path": URN_PASSWORD, "value": "s3"},
        {"op": "replace", "value": {"password": "s4"}},
        {"op": "replace", "value": {"password": "s5", "active": false}},
        {"op": "replace", "value": {USER: {"password": "s6"}}},
        {"op": "replace", "value": {URN_PASSWORD: "s7", "nickName": "n"}},
        {"op": "remove", "path": "password"},
        {"op": "replace", "path": "password[", "value": "s8"},
        {"op": "replace", "path": "title", "value": "T"}
    ]));
    let dropped = strip_password(&mut body);
    assert_eq!(dropped, [0, 2, 3, 4, 6, 8, 9]);
    assert_eq!(
        body["Operations"],
        json!([
            {"op": "replace", "path": "displayName", "value": "D"},
            {"op": "replace", "value": {"active": false}},
            {"op": "replace", "value": {"nickName": "n"}},
            {"op": "replace", "path": "title", "value": "T"}
        ])
    );
    for secret in ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"] {
        assert!(
            !body.to_string().contains(&format!("\"{secret}\"")),
            "{secret}"
        );
    }
    // What is left applies.
    let user = json!({"schemas": [USER], "id": "1", "userName": "a"});
    let req = parse_patch(&body).unwrap();
    let out = apply(&user, &req, &SchemaRules::new(Resource::User)).unwrap();
    assert_eq!(out["displayName"], "D");
    assert_eq!(out["title"], "T");
}

#[test]
fn a_parsed_request_is_stripped_the_same_way() {
    let body = patch(json!([
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "value": "s1"},
        {"op": "replace", "value": {"password": "s2", "displayName": "D"}},
        {"op": "replace", "value": {USER: {"password": "s3"}}},
        {"op": "add", "path": "name.password", "value": "s4"},
        {"op": "add", "path": "nickName", "value": "N"}
    ]));
    let mut req = parse_patch(&body).unwrap();
    assert_eq!(strip_password_ops(&mut req), [0, 2, 3]);
    assert_eq!(req.operations.len(), 2);
    assert_eq!(req.operations[0].value, Some(json!({"displayName": "D"})));
    assert_eq!(req.operations[1].value, Some(json!("N")));
    // Stripping the raw body drops the same operations.
    let mut raw = body.clone();
    assert_eq!(strip_password(&mut raw), [0, 2, 3]);
    assert_eq!(parse_patch(&raw).unwrap(), req);
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "password",
            "PASSWORD",
            "Password",
            URN_PASSWORD,
            "urn:x:PASSWORD",
            "value",
            "path",
            "Operations",
            "op",
            "passwordHint",
            "userName",
            USER,
            "x:password",
        ])
        .prop_map(String::from),
        "[a-zA-Z:]{0,12}",
        "[a-z]{0,4}:?[pP][aA][sS][sS][wW][oO][rR][dD]",
    ]
}

/// Keys that name no password (nor make a PATCH body).
fn arb_other_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "value",
            "path",
            "op",
            "passwordHint",
            "userName",
            USER
        ])
        .prop_map(String::from),
        "[a-zA-Z:]{0,12}",
    ]
    .prop_filter("names a password or PATCH operations", |k| {
        !is_password_key(k) && !k.eq_ignore_ascii_case("Operations")
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_json_with(arb_key().boxed())
}

fn arb_json_with(keys: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            "password",
            URN_PASSWORD,
            "name.password",
            "x",
            "password["
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

proptest! {
    #[test]
    fn no_password_key_survives(mut body in arb_json()) {
        strip_password(&mut body);
        let mut found = Vec::new();
        keys(&body, &mut found);
        for key in found {
            let lower = key.trim().to_ascii_lowercase();
            prop_assert!(lower != "password" && !lower.ends_with(":password"), "{}", key);
        }
    }

    #[test]
    fn bodies_without_passwords_are_untouched(body in arb_json_with(arb_other_key().boxed())) {
        let mut copy = body.clone();
        prop_assert!(strip_password(&mut copy).is_empty());
        prop_assert_eq!(copy, body);
    }
}
