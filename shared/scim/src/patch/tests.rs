//! Tests of PATCH parsing and application, replaying the identity providers'
//! recorded requests.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

pub(super) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

pub(super) fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

fn run(resource: &Value, body: &Value) -> Result<Value, PatchError> {
    apply(resource, &parse_patch(body)?, &DefaultRules)
}

fn ok(resource: &Value, body: &Value) -> Value {
    run(resource, body).unwrap_or_else(|e| panic!("{} {e}", e.scim_type()))
}

/// Rules of the receiver: `userName` is immutable.
struct ReceiverRules;

impl PatchRules for ReceiverRules {
    fn is_immutable(&self, path: &AttrPath) -> bool {
        path.is("userName", None)
    }
}

pub(super) fn okta_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
        "active": true,
        "meta": {"resourceType": "User", "location": "Users/23a35c27-23d3-4c03-b4c5-6443c09e7173"}
    })
}

pub(super) fn okta_group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv20",
        "members": [{"value": "b1c794f24f4c49f4b5d503a4cb2686ea", "display": "SCIM 2 Group A"}],
        "meta": {"resourceType": "Group", "location": "Groups/abf4dd94-a4c0-4f67-89c9-76b03340cb9b"}
    })
}

pub(super) fn entra_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "6764549bef60420686bc",
        "externalId": "6c75de36-30fa-4d2d-a196-6bdcdb6b6539",
        "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26Z", "lastModified": "2018-03-27T19:59:26Z", "location": "Users/6764549bef60420686bc"},
        "userName": "Test_User_feed3ace-693c-4e5a-82e2-694be1b39934",
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "active": true,
        "emails": [{"value": "Test_User_22370c1a-9012-42b2-bf64-86099c2a1c22@testuser.com", "type": "work", "primary": true}]
    })
}

pub(super) fn entra_group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "fa2ce26709934589afc5",
        "externalId": "60f1bb27-2e1e-402d-bcc4-ec999564a194",
        "meta": {"resourceType": "Group", "created": "2018-03-27T19:59:26Z", "lastModified": "2018-03-27T19:59:26Z", "location": "Groups/fa2ce26709934589afc5"},
        "displayName": "displayName"
    })
}

#[test]
fn okta_update_user_patch_deactivates() {
    // okta/update_user_patch.json
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let out = ok(&okta_user(), &body);
    let mut expected = okta_user();
    expected["active"] = json!(false);
    assert_eq!(out, expected);
    // Reactivate.
    let body = patch(json!([{"op": "replace", "value": {"active": true}}]));
    assert_eq!(ok(&out, &body), okta_user());
}

#[test]
fn okta_update_group_name_with_id() {
    // okta/update_group_name.json
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "replace",
            "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}
        }]
    });
    let out = ok(&okta_group(), &body);
    assert_eq!(out["displayName"], "Test SCIMv2");
    assert_eq!(out["id"], "abf4dd94-a4c0-4f67-89c9-76b03340cb9b");
    assert_eq!(out["members"], okta_group()["members"]);
    // A different id is a mutability error.
    let body = patch(json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}]));
    assert_eq!(
        run(&okta_group(), &body).unwrap_err().scim_type(),
        "mutability"
    );
}

#[test]
fn okta_update_group_membership() {
    // okta/update_group_membership.json, one operation at a time.
    let remove = json!({"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"});
    let add = json!({
        "op": "add",
        "path": "members",
        "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]
    });
    let replace = json!({
        "op": "replace",
        "path": "members",
        "value": [
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"},
            {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"}
        ]
    });
    let g = okta_group();
    // Removing a member that is not there is a no-op.
    assert_eq!(ok(&g, &patch(json!([remove.clone()]))), g);
    let added = ok(&g, &patch(json!([add.clone()])));
    assert_eq!(
        added["members"],
        json!([
            {"value": "b1c794f24f4c49f4b5d503a4cb2686ea", "display": "SCIM 2 Group A"},
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}
        ])
    );
    // Adding again (even with another display) does not duplicate.
    let again = json!([{"op": "add", "path": "members", "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "x"}]}]);
    assert_eq!(ok(&added, &patch(again)), added);
    // The recorded request as a whole.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [remove, add, replace.clone()]
    });
    let out = ok(&g, &body);
    assert_eq!(out["members"], replace["value"]);
    // Remove by filter.
    let body = patch(
        json!([{"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"}]),
    );
    let out = ok(&out, &body);
    assert_eq!(
        out["members"],
        json!([{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}])
    );
    // Path-less replace of members.
    let body = patch(json!([{"op": "replace", "value": {"members": [{"value": "m1"}]}}]));
    assert_eq!(ok(&out, &body)["members"], json!([{"value": "m1"}]));
    // Remove all members.
    let body = patch(json!([{"op": "remove", "path": "members"}]));
    assert!(ok(&out, &body).get("members").is_none());
}

#[test]
fn entra_update_group() {
    // azuread/update_group.json
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"},
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]},
            {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
        ]
    });
    let out = ok(&entra_group(), &body);
    let mut expected = entra_group();
    expected["displayName"] = json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
    assert_eq!(out, expected);

    // The add alone stores the member without "$ref".
    let body = patch(
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
    );
    let added = ok(&entra_group(), &body);
    assert_eq!(added["members"], json!([{"value": "f648f8d5ea4e4cd38e9c"}]));
    // Removal by value array removes only the members named.
    let two = patch(
        json!([{"op": "add", "path": "members", "value": [{"value": "a", "display": "A"}, {"value": "b"}]}]),
    );
    let group = ok(&entra_group(), &two);
    let body = patch(
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "a"}]}]),
    );
    assert_eq!(ok(&group, &body)["members"], json!([{"value": "b"}]));
}

#[test]
fn entra_update_user() {
    // azuread/update_user.json
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"},
            {"op": "Replace", "path": "active", "value": false}
        ]
    });
    let out = ok(&entra_user(), &body);
    let mut expected = entra_user();
    expected["emails"][0]["value"] = json!("updatedEmail@microsoft.com");
    expected["name"]["familyName"] = json!("updatedFamilyName");
    expected["userName"] = json!("5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com");
    expected["active"] = json!(false);
    assert_eq!(out, expected);
    // With userName immutable, the same request is refused.
    let err = apply(&entra_user(), &parse_patch(&body).unwrap(), &ReceiverRules).unwrap_err();
    assert_eq!(err.scim_type(), "mutability");
    assert!(err.detail().contains("operation 3"), "{err}");
    assert!(err.to_string().contains("userName"), "{err}");
}

#[test]
fn entra_string_booleans() {
    let body = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(ok(&okta_user(), &body)["active"], json!(false));
    let body = patch(json!([{"op": "replace", "path": "active", "value": "true"}]));
    assert_eq!(ok(&okta_user(), &body)["active"], json!(true));
    let body = patch(json!([{"op": "replace", "value": {"active": "False"}}]));
    assert_eq!(ok(&okta_user(), &body)["active"], json!(false));
    let body = patch(
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@c", "primary": "True"}]}]),
    );
    let out = ok(&okta_user(), &body);
    assert_eq!(out["emails"][1], json!({"value": "b@c", "primary": true}));
    assert_eq!(
        out["emails"][0]["primary"],
        json!(false),
        "only one primary"
    );
    let body = patch(
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "false"}]),
    );
    assert_eq!(
        ok(&okta_user(), &body)["emails"][0]["primary"],
        json!(false)
    );
    // Other attributes keep strings.
    let body = patch(json!([{"op": "replace", "path": "displayName", "value": "True"}]));
    assert_eq!(ok(&okta_user(), &body)["displayName"], json!("True"));
}

#[test]
fn pathless_dotted_and_urn_keys() {
    let body = patch(json!([{
        "op": "replace",
        "value": {
            "name.givenName": "Given",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "boss",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Shown",
            "emails[type eq \"work\"].value": "new@x"
        }
    }]));
    let out = ok(&entra_user(), &body);
    assert_eq!(out["name"]["givenName"], "Given");
    assert_eq!(out["name"]["familyName"], "familyName");
    assert_eq!(
        out[ENTERPRISE],
        json!({"employeeNumber": "42", "manager": {"value": "boss"}})
    );
    assert_eq!(out["displayName"], "Shown");
    assert_eq!(out["emails"][0]["value"], "new@x");

    // URN object keys merge into the extension, which gets listed in schemas.
    let body = patch(json!([{
        "op": "add",
        "value": {
            "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User": {"ssoName": "Okta SSO"},
            ENTERPRISE: {"department": "x"}
        }
    }]));
    let out = ok(&okta_user(), &body);
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User"],
        json!({"ssoName": "Okta SSO"})
    );
    assert_eq!(out[ENTERPRISE], json!({"department": "x"}));
    assert_eq!(
        out["schemas"],
        json!([
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User",
            ENTERPRISE
        ])
    );
    let body = patch(json!([{"op": "replace", "value": {ENTERPRISE: {"costCenter": "c"}}}]));
    assert_eq!(
        ok(&out, &body)[ENTERPRISE],
        json!({"department": "x", "costCenter": "c"})
    );
    // A path naming the extension works the same.
    let body = patch(json!([{"op": "add", "path": ENTERPRISE, "value": {"division": "d"}}]));
    assert_eq!(
        ok(&out, &body)[ENTERPRISE],
        json!({"department": "x", "division": "d"})
    );
    let body = patch(json!([{"op": "remove", "path": ENTERPRISE}]));
    let removed = ok(&out, &body);
    assert!(removed.get(ENTERPRISE).is_none());
    assert_eq!(removed["schemas"].as_array().map(Vec::len), Some(2));
    // Path-less complex values: replace sets only the given sub-attributes.
    let body = patch(
        json!([{"op": "replace", "value": {"name": {"givenName": "G", "middleName": null}}}]),
    );
    assert_eq!(
        ok(&okta_user(), &body)["name"],
        json!({"givenName": "G", "familyName": "User"})
    );
}

#[test]
fn paths_with_urns_and_sub_attributes() {
    let body = patch(json!([
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "7"},
        {"op": "replace", "path": "NAME.FAMILYNAME", "value": "F"},
        {"op": "add", "path": "nickName", "value": "nick"},
        {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Paris"}
    ]));
    let out = ok(&okta_user(), &body);
    assert_eq!(
        out[ENTERPRISE],
        json!({"manager": {"value": "m"}, "employeeNumber": "7"})
    );
    assert_eq!(out["name"]["familyName"], "F");
    assert!(
        out["name"].get("FAMILYNAME").is_none(),
        "existing key spelling is kept"
    );
    assert_eq!(out["nickName"], "nick");
    assert_eq!(
        out["addresses"],
        json!([{"type": "work", "locality": "Paris"}])
    );
    // name is created when missing.
    let mut bare = okta_user();
    bare.as_object_mut().unwrap().remove("name");
    let body = patch(json!([{"op": "replace", "path": "name.familyName", "value": "F"}]));
    assert_eq!(ok(&bare, &body)["name"], json!({"familyName": "F"}));
    // Removing sub-attributes and extension attributes.
    let body = patch(json!([
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
        {"op": "remove", "path": "emails[type eq \"work\"].display"},
        {"op": "remove", "path": "nothing.here"},
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:other:2.0:User:x"}
    ]));
    let out2 = ok(&out, &body);
    assert_eq!(out2["name"], json!({"familyName": "F"}));
    assert_eq!(out2[ENTERPRISE], json!({"employeeNumber": "7"}));
    assert!(out2["emails"][0].get("display").is_none());
}

#[test]
fn multi_valued_semantics() {
    let user = okta_user();
    // add appends, skipping an equal value.
    let body = patch(json!([{"op": "add", "path": "emails", "value": [
        {"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"},
        {"value": "home@x", "type": "home"}
    ]}]));
    let out = ok(&user, &body);
    assert_eq!(out["emails"].as_array().map(Vec::len), Some(2));
    // replace with a filter and no sub-attribute replaces matching values.
    let body = patch(
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h2@x", "type": "home"}}]),
    );
    assert_eq!(
        ok(&out, &body)["emails"][1],
        json!({"value": "h2@x", "type": "home"})
    );
    // add with a filter merges into matching values.
    let body = patch(
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "H"}}]),
    );
    assert_eq!(
        ok(&out, &body)["emails"][1],
        json!({"value": "home@x", "type": "home", "display": "H"})
    );
    // A filter without 'type eq' that matches nothing is noTarget.
    let body =
        patch(json!([{"op": "replace", "path": "emails[value eq \"none\"].type", "value": "x"}]));
    assert_eq!(run(&out, &body).unwrap_err().scim_type(), "noTarget");
    // Entra's create-on-replace.
    let mut no_emails = user.clone();
    no_emails.as_object_mut().unwrap().remove("emails");
    let body =
        patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@x"}]));
    assert_eq!(
        ok(&no_emails, &body)["emails"],
        json!([{"type": "work", "value": "w@x"}])
    );
    let body = patch(
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "o@x"}]),
    );
    assert_eq!(
        ok(&user, &body)["emails"][1],
        json!({"type": "other", "value": "o@x"})
    );
    // remove by filter; the last value removed unassigns the attribute.
    let body = patch(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
    assert!(ok(&user, &body).get("emails").is_none());
    // Case-insensitive filter matching on emails.type (caseExact false).
    let body = patch(json!([{"op": "remove", "path": "emails[TYPE eq \"WORK\"]"}]));
    assert!(ok(&user, &body).get("emails").is_none());
    // add on a single-valued attribute replaces it.
    let body = patch(json!([{"op": "add", "path": "userName", "value": "new"}]));
    assert_eq!(ok(&user, &body)["userName"], "new");
    // add on a complex attribute merges.
    let body = patch(json!([{"op": "add", "path": "name", "value": {"middleName": "M"}}]));
    assert_eq!(
        ok(&user, &body)["name"],
        json!({"givenName": "Another", "familyName": "User", "middleName": "M"})
    );
    // replace of a multi-valued attribute replaces all values.
    let body = patch(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}]));
    assert_eq!(ok(&user, &body)["emails"], json!([{"value": "only@x"}]));
    // replace with null unassigns, add with null does nothing.
    let body = patch(json!([{"op": "replace", "path": "name", "value": null}]));
    assert!(ok(&user, &body).get("name").is_none());
    let body = patch(json!([{"op": "add", "path": "name", "value": null}]));
    assert_eq!(ok(&user, &body), user);
    // remove of an absent attribute succeeds.
    let body = patch(json!([{"op": "remove", "path": "title"}]));
    assert_eq!(ok(&user, &body), user);
}

#[test]
fn read_only_and_immutable() {
    let user = okta_user();
    for path in [
        "id",
        "meta",
        "meta.lastModified",
        "ID",
        "urn:ietf:params:scim:schemas:core:2.0:User:id",
    ] {
        let body = patch(json!([{"op": "replace", "path": path, "value": "x"}]));
        assert_eq!(
            run(&user, &body).unwrap_err().scim_type(),
            "mutability",
            "{path}"
        );
        let body = patch(json!([{"op": "remove", "path": path}]));
        assert_eq!(
            run(&user, &body).unwrap_err().scim_type(),
            "mutability",
            "{path}"
        );
    }
    // Unchanged read-only values in a path-less value are ignored.
    let body = patch(
        json!([{"op": "replace", "value": {"id": user["id"], "meta": {"resourceType": "User"}, "displayName": "D"}}]),
    );
    assert_eq!(ok(&user, &body)["displayName"], "D");
    let body = patch(json!([{"op": "replace", "value": {"meta": {"resourceType": "Group"}}}]));
    assert_eq!(run(&user, &body).unwrap_err().scim_type(), "mutability");

    let req = |ops: Value| parse_patch(&patch(ops)).unwrap();
    let same = req(json!([{"op": "replace", "path": "userName", "value": "test.user@okta.local"}]));
    assert_eq!(apply(&user, &same, &ReceiverRules).unwrap(), user);
    let same = req(
        json!([{"op": "replace", "value": {"userName": "test.user@okta.local", "active": false}}]),
    );
    assert_eq!(
        apply(&user, &same, &ReceiverRules).unwrap()["active"],
        json!(false)
    );
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "TEST.USER@okta.local"}]),
        json!([{"op": "add", "value": {"userName": "other"}}]),
        json!([{"op": "remove", "path": "userName"}]),
        json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:userName": "x"}}]),
    ] {
        let err = apply(&user, &req(ops.clone()), &ReceiverRules).unwrap_err();
        assert_eq!(err.scim_type(), "mutability", "{ops}");
    }
}

#[test]
fn atomicity() {
    let user = okta_user();
    let body = patch(json!([
        {"op": "replace", "path": "displayName", "value": "changed"},
        {"op": "replace", "path": "id", "value": "x"}
    ]));
    let before = user.clone();
    let err = run(&user, &body).unwrap_err();
    assert_eq!(err.scim_type(), "mutability");
    assert!(
        err.detail().starts_with("operation 2 (replace 'id')"),
        "{err}"
    );
    assert_eq!(user, before);
}

#[test]
fn parse_errors() {
    let cases = [
        (json!([]), "invalidSyntax"),
        (
            json!({"Operations": [{"op": "add", "path": "a", "value": 1}]}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": ["urn:other"], "Operations": [{"op": "add", "path": "a", "value": 1}]}),
            "invalidSyntax",
        ),
        (patch(json!([])), "invalidSyntax"),
        (patch(json!({})), "invalidSyntax"),
        (patch(json!([{"op": "move", "path": "a"}])), "invalidSyntax"),
        (patch(json!([{"path": "a"}])), "invalidSyntax"),
        (patch(json!([{"op": "remove"}])), "noTarget"),
        (patch(json!([{"op": "remove", "path": ""}])), "noTarget"),
        (patch(json!([{"op": "add", "path": "a"}])), "invalidSyntax"),
        (
            patch(json!([{"op": "add", "path": 5, "value": 1}])),
            "invalidPath",
        ),
        (
            patch(json!([{"op": "add", "path": "a b", "value": 1}])),
            "invalidPath",
        ),
        (
            patch(json!([{"op": "add", "path": "a.b.c", "value": 1}])),
            "invalidPath",
        ),
        (
            patch(json!([{"op": "remove", "path": "members[value eq ]"}])),
            "invalidFilter",
        ),
        (
            patch(json!([{"op": "remove", "path": "members[value xx \"a\"]"}])),
            "invalidFilter",
        ),
        (patch(json!([1])), "invalidSyntax"),
    ];
    for (body, scim_type) in cases {
        let err = parse_patch(&body).unwrap_err();
        assert_eq!(err.scim_type(), scim_type, "{body}: {err}");
        assert!(!err.detail().is_empty());
    }
    // Case-insensitive schema URN, op and key names.
    let body = json!({
        "SCHEMAS": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
        "operations": [{"OP": "ADD", "Path": "displayName", "Value": "x"}]
    });
    let req = parse_patch(&body).unwrap();
    assert_eq!(req.operations[0].op, OpKind::Add);
    assert_eq!(
        req.operations[0].path.as_ref().unwrap().to_string(),
        "displayName"
    );
}

#[test]
fn apply_errors() {
    let user = okta_user();
    let cases = [
        (json!([{"op": "add", "value": "x"}]), "invalidValue"),
        (json!([{"op": "add", "value": {"a b": 1}}]), "invalidPath"),
        (
            json!([{"op": "add", "path": "active.x", "value": 1}]),
            "invalidPath",
        ),
        (
            json!([{"op": "add", "path": "userName[value eq \"x\"]", "value": {}}]),
            "invalidPath",
        ),
        (
            json!([{"op": "add", "path": ENTERPRISE, "value": 3}]),
            "invalidValue",
        ),
        (
            json!([{"op": "add", "path": "emails[type eq \"new\"]", "value": 3}]),
            "invalidValue",
        ),
        (
            json!([{"op": "add", "value": {ENTERPRISE: {"urn:a:b:c": 1}}}]),
            "invalidPath",
        ),
    ];
    for (ops, scim_type) in cases {
        let err = run(&user, &patch(ops.clone())).unwrap_err();
        assert_eq!(err.scim_type(), scim_type, "{ops}: {err}");
    }
    let err = apply(
        &json!([1]),
        &parse_patch(&patch(json!([{"op": "remove", "path": "a"}]))).unwrap(),
        &DefaultRules,
    );
    assert_eq!(err.unwrap_err().scim_type(), "invalidValue");
}

#[test]
fn operation_limit() {
    let op = json!({"op": "add", "path": "members", "value": [{"value": "x"}]});
    let body = patch(Value::Array(vec![op.clone(); 1000]));
    let req = parse_patch(&body).unwrap();
    assert_eq!(req.operations.len(), 1000);
    assert_eq!(
        apply(&okta_group(), &req, &DefaultRules).unwrap()["members"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let body = patch(Value::Array(vec![op; 1001]));
    let err = parse_patch(&body).unwrap_err();
    assert_eq!(err.scim_type(), "invalidValue");
    assert!(err.detail().contains("1001"), "{err}");
}

#[test]
fn path_display_round_trip() {
    for p in [
        "members",
        "name.givenName",
        "members[value eq \"x\"]",
        "emails[type eq \"work\"].value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:x:y:emails[type eq \"work\" and primary eq true].value",
    ] {
        let parsed = PatchPath::parse(p).unwrap();
        assert_eq!(parsed.to_string(), p);
        assert_eq!(PatchPath::parse(&parsed.to_string()).unwrap(), parsed);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec!["True", "false", "x", "", "work", "id1"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "id",
        "userName",
        "active",
        "name",
        "givenName",
        "emails",
        "value",
        "type",
        "primary",
        "members",
        "meta",
        "schemas",
        "$ref",
        "display",
        ENTERPRISE,
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "emails[type eq \"work\"].value",
        "x y",
    ])
    .prop_map(String::from)
}

fn arb_path() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => Just(Value::Null),
        8 => prop::sample::select(vec![
            "members",
            "emails",
            "name",
            "name.givenName",
            "active",
            "userName",
            "id",
            "meta.created",
            "members[value eq \"id1\"]",
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\" and primary eq true]",
            "emails[value co \"x\"].primary",
            "emails[not (type eq \"work\")]",
            ENTERPRISE,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:core:2.0:User:active",
            "bad path",
            "a[",
            "",
        ])
        .prop_map(Value::from),
        1 => "[a-z\\[\\]. \"]{0,12}".prop_map(Value::from),
    ]
}

pub(super) fn arb_op() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "add", "Add", "remove", "Remove", "replace", "REPLACE", "bogus",
        ]),
        arb_path(),
        prop::option::of(arb_json()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), op.into());
            if !path.is_null() {
                o.insert("path".into(), path);
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

pub(super) fn arb_resource() -> impl Strategy<Value = Value> {
    (
        arb_json(),
        prop::collection::btree_map(arb_key(), arb_json(), 0..6),
    )
        .prop_map(|(extra, m)| {
            let mut obj: serde_json::Map<String, Value> = m.into_iter().collect();
            obj.insert("id".into(), "id1".into());
            obj.insert("userName".into(), "u".into());
            obj.insert("extra".into(), extra);
            Value::Object(obj)
        })
}

struct StrictRules;

impl PatchRules for StrictRules {
    fn is_immutable(&self, path: &AttrPath) -> bool {
        path.is("userName", None) || path.is("emails", None)
    }
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in arb_json(), resource in arb_json()) {
        if let Ok(req) = parse_patch(&body) {
            let _ = apply(&resource, &req, &DefaultRules);
        }
    }

    #[test]
    fn structured_patches_never_panic(
        ops in prop::collection::vec(arb_op(), 1..6),
        resource in arb_resource(),
    ) {
        let before = resource.clone();
        let _ = parse_patch(&patch(Value::Array(ops.clone())));
        // Apply every operation that parses on its own, all in one request.
        let operations: Vec<PatchOp> = ops
            .into_iter()
            .filter_map(|op| parse_patch(&patch(json!([op]))).ok())
            .flat_map(|req| req.operations)
            .collect();
        let req = PatchRequest { operations };
        for rules in [&DefaultRules as &dyn PatchRules, &StrictRules] {
            match apply(&resource, &req, rules) {
                Ok(out) => prop_assert!(out.is_object()),
                Err(e) => prop_assert!(!e.detail().is_empty()),
            }
        }
        prop_assert_eq!(resource, before);
    }
}
