//! Tests of PATCH with [`SchemaRules`]: the identity providers' recorded
//! requests still apply exactly as with [`DefaultRules`]; paths naming no
//! attribute are `invalidPath`, read-only targets `mutability`.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::tests::{
    arb_op, arb_resource, entra_group, entra_user, okta_group, okta_user, patch, ENTERPRISE,
};
use super::*;
use crate::schema::{Resource, PROVISIONING, SPLASHTOP_USER};

fn rules_of(resource: &Value) -> SchemaRules {
    let group = resource["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|u| u == crate::schema::GROUP));
    SchemaRules::new(if group {
        Resource::Group
    } else {
        Resource::User
    })
}

fn run(resource: &Value, ops: Value) -> Result<Value, PatchError> {
    apply(resource, &parse_patch(&patch(ops))?, &rules_of(resource))
}

/// Applies `ops` with the schema rules; they must succeed and agree with the
/// default rules.
fn same(resource: &Value, ops: Value) -> Value {
    let req = parse_patch(&patch(ops.clone())).unwrap();
    let with_schema = apply(resource, &req, &rules_of(resource))
        .unwrap_or_else(|e| panic!("{ops}: {} {e}", e.scim_type()));
    assert_eq!(
        Ok(&with_schema),
        apply(resource, &req, &DefaultRules).as_ref(),
        "{ops}"
    );
    with_schema
}

fn error(resource: &Value, ops: Value) -> &'static str {
    match run(resource, ops.clone()) {
        Ok(out) => panic!("{ops} was applied: {out}"),
        Err(e) => e.scim_type(),
    }
}

#[test]
fn recorded_requests_apply_as_before() {
    let (ou, og, eu, eg) = (okta_user(), okta_group(), entra_user(), entra_group());
    // Okta.
    same(&ou, json!([{"op": "replace", "value": {"active": false}}]));
    same(
        &og,
        json!([{"op": "replace", "value": {"id": og["id"], "displayName": "Test SCIMv2"}}]),
    );
    same(
        &og,
        json!([
            {"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
            {"op": "add", "path": "members", "value": [{"value": "23a35c27", "display": "test.user@okta.local"}]},
            {"op": "replace", "path": "members", "value": [{"value": "23a35c27", "display": "t"}, {"value": "89bb1940"}]}
        ]),
    );
    // Entra.
    let out = same(
        &eg,
        json!([
            {"op": "Replace", "path": "displayName", "value": "renamed"},
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
        ]),
    );
    same(
        &out,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
    );
    same(
        &eu,
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Paris"},
            {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "true"}
        ]),
    );
    // Path-less values: dotted keys, URN-qualified keys, extension objects.
    same(
        &eu,
        json!([{"op": "replace", "value": {
            "name.givenName": "Given",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "boss",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Shown",
            "emails[type eq \"work\"].value": "new@x",
            "meta": {"resourceType": "User"},
            "id": eu["id"]
        }}]),
    );
    let out = same(
        &ou,
        json!([{"op": "add", "value": {SPLASHTOP_USER: {"ssoName": "Okta SSO"}, ENTERPRISE: {"department": "x"}}}]),
    );
    same(
        &out,
        json!([{"op": "add", "path": ENTERPRISE, "value": {"division": "d"}}]),
    );
    same(&out, json!([{"op": "remove", "path": ENTERPRISE}]));
    same(
        &ou,
        json!([
            {"op": "add", "path": "emails", "value": [{"value": "b@c", "primary": "True"}]},
            {"op": "remove", "path": "emails[TYPE eq \"WORK\"]"},
            {"op": "replace", "path": "NAME.FAMILYNAME", "value": "F"},
            {"op": "remove", "path": "title"}
        ]),
    );
}

#[test]
fn paths_naming_no_attribute_are_invalid_path() {
    let (user, group) = (okta_user(), okta_group());
    for ops in [
        json!([{"op": "add", "path": "adreses", "value": [{"type": "work"}]}]),
        json!([{"op": "replace", "path": "name.bogus", "value": "x"}]),
        json!([{"op": "remove", "path": "nothing.here"}]),
        json!([{"op": "remove", "path": "userName.x"}]),
        json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:other:2.0:User:x"}]),
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:other:2.0:User", "value": {"x": 1}}]),
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:bogus"), "value": "x"}]),
        json!([{"op": "replace", "value": {"adreses": "x"}}]),
        json!([{"op": "replace", "value": {"name.bogus": "x"}}]),
        json!([{"op": "replace", "value": {ENTERPRISE: {"bogus": 1}}}]),
        json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:other:2.0:User": {"x": 1}}}]),
        json!([{"op": "remove", "path": "emails[bogus eq \"x\"]"}]),
        json!([{"op": "replace", "path": "emails[type eq \"work\" and nope pr].value", "value": "x"}]),
        json!([{"op": "add", "path": "members", "value": [{"value": "m"}]}]),
    ] {
        assert_eq!(error(&user, ops.clone()), "invalidPath", "{ops}");
    }
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "x"}]),
        json!([{"op": "add", "path": ENTERPRISE, "value": {"department": "d"}}]),
        json!([{"op": "remove", "path": "members[bogus eq \"x\"].value"}]),
    ] {
        assert_eq!(error(&group, ops.clone()), "invalidPath", "{ops}");
    }
    // The detail names the path.
    let err = run(
        &user,
        json!([{"op": "add", "path": "adreses", "value": "x"}]),
    )
    .unwrap_err();
    assert!(err.detail().contains("'adreses'"), "{err}");
}

#[test]
fn read_only_targets_are_mutability_errors() {
    let user = okta_user();
    let state = format!("{PROVISIONING}:state");
    for ops in [
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        json!([{"op": "replace", "path": "meta.version", "value": "W/\"1\""}]),
        json!([{"op": "replace", "path": state, "value": "applied"}]),
        json!([{"op": "add", "path": PROVISIONING, "value": {"state": "applied"}}]),
        json!([{"op": "replace", "path": PROVISIONING, "value": null}]),
        json!([{"op": "remove", "path": PROVISIONING}]),
        json!([{"op": "replace", "value": {PROVISIONING: {"lastError": "x"}}}]),
        json!([{"op": "add", "path": format!("{ENTERPRISE}:manager.displayName"), "value": "Boss"}]),
    ] {
        assert_eq!(error(&user, ops.clone()), "mutability", "{ops}");
    }
    let group = okta_group();
    let ops = json!([{"op": "replace", "value": {PROVISIONING: {"state": "x"}}}]);
    assert_eq!(error(&group, ops), "mutability");
}

#[test]
fn default_sub_attributes_of_multi_valued_attributes_are_known() {
    // RFC 7643 §2.4: members has no 'display' in §8.7.1, addresses no 'primary'.
    let out = same(
        &okta_group(),
        json!([{"op": "replace", "path": "members[value eq \"b1c794f24f4c49f4b5d503a4cb2686ea\"].display", "value": "A"}]),
    );
    assert_eq!(out["members"][0]["display"], "A");
    let out = same(
        &okta_user(),
        json!([{"op": "add", "path": "addresses", "value": [{"type": "work", "primary": "True"}]}]),
    );
    assert_eq!(out["addresses"][0]["primary"], json!(true));
}

#[test]
fn immutable_attributes() {
    let user = okta_user();
    let rules = SchemaRules::new(Resource::User).with_immutable("userName");
    assert_eq!(rules.resource(), Resource::User);
    let req = |ops: Value| parse_patch(&patch(ops)).unwrap();
    let unchanged =
        req(json!([{"op": "replace", "path": "userName", "value": "test.user@okta.local"}]));
    assert_eq!(apply(&user, &unchanged, &rules).unwrap(), user);
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "other"}]),
        json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:userName": "x"}}]),
        json!([{"op": "remove", "path": "USERNAME"}]),
    ] {
        let err = apply(&user, &req(ops.clone()), &rules).unwrap_err();
        assert_eq!(err.scim_type(), "mutability", "{ops}");
    }
    // Without it, userName is readWrite as RFC 7643 defines it.
    let change = req(json!([{"op": "replace", "path": "userName", "value": "other"}]));
    assert!(apply(&user, &change, &SchemaRules::new(Resource::User)).is_ok());
}

#[test]
fn bare_ids_are_references() {
    let group = okta_group();
    let first = json!({"value": "b1c794f24f4c49f4b5d503a4cb2686ea", "display": "SCIM 2 Group A"});
    let out = same(
        &group,
        json!([
            {"op": "add", "path": "members", "value": ["id1", {"value": "id2"}]},
            {"op": "add", "path": "members", "value": "id3"},
            {"op": "add", "path": "members", "value": "id1"}
        ]),
    );
    assert_eq!(
        out["members"],
        json!([first, {"value": "id1"}, {"value": "id2"}, {"value": "id3"}])
    );
    let removed = same(
        &out,
        json!([
            {"op": "remove", "path": "members", "value": "id1"},
            {"op": "remove", "path": "members", "value": ["id2", {"value": "id3"}]}
        ]),
    );
    assert_eq!(removed["members"], json!([first]));
    let replaced = same(
        &group,
        json!([{"op": "replace", "path": "members", "value": "only"}]),
    );
    assert_eq!(replaced["members"], json!([{"value": "only"}]));
    let replaced = same(
        &group,
        json!([{"op": "replace", "value": {"members": ["a", "b"]}}]),
    );
    assert_eq!(replaced["members"], json!([{"value": "a"}, {"value": "b"}]));
    let swapped = same(
        &group,
        json!([{"op": "replace", "path": "members[value eq \"b1c794f24f4c49f4b5d503a4cb2686ea\"]", "value": "new"}]),
    );
    assert_eq!(swapped["members"], json!([{"value": "new"}]));
    // Entra's manager update sends the manager's id as a bare string.
    let manager = format!("{ENTERPRISE}:manager");
    let out = same(
        &entra_user(),
        json!([{"op": "Add", "path": manager, "value": "boss-id"}]),
    );
    assert_eq!(out[ENTERPRISE], json!({"manager": {"value": "boss-id"}}));
    let out = same(
        &entra_user(),
        json!([{"op": "replace", "value": {ENTERPRISE: {"manager": "m"}}}]),
    );
    assert_eq!(out[ENTERPRISE]["manager"], json!({"value": "m"}));
    // Other attributes keep strings as given.
    let out = same(
        &entra_user(),
        json!([{"op": "replace", "path": "displayName", "value": "x"}]),
    );
    assert_eq!(out["displayName"], "x");
}

#[test]
fn member_ids_stay_case_exact() {
    let ops =
        json!([{"op": "remove", "path": "members[value eq \"B1C794F24F4C49F4B5D503A4CB2686EA\"]"}]);
    assert_eq!(same(&okta_group(), ops), okta_group());
}

proptest! {
    /// The schema rules only add errors: whatever they apply, the default
    /// rules apply identically.
    #[test]
    fn schema_rules_agree_with_the_default_rules_where_they_succeed(
        ops in prop::collection::vec(arb_op(), 1..6),
        resource in arb_resource(),
    ) {
        let operations: Vec<PatchOp> = ops
            .into_iter()
            .filter_map(|op| parse_patch(&patch(json!([op]))).ok())
            .flat_map(|req| req.operations)
            .collect();
        let req = PatchRequest { operations };
        for rules in [SchemaRules::new(Resource::User), SchemaRules::new(Resource::Group)] {
            if let Ok(out) = apply(&resource, &req, &rules) {
                prop_assert_eq!(Ok(out), apply(&resource, &req, &DefaultRules));
            }
        }
    }
}
