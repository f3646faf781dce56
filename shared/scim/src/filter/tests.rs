//! Tests of the filter parser, printer and evaluator.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User"
        ],
        "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "displayName": "Test User",
        "active": true,
        "emails": [
            {"primary": true, "value": "test.user@okta.local", "type": "work"},
            {"value": "home@example.com", "type": "home"}
        ],
        "x509count": 3,
        "ratio": 1.5,
        "nickName": "",
        "title": null,
        "meta": {
            "resourceType": "User",
            "created": "2018-03-27T19:59:26Z",
            "lastModified": "2018-03-28T10:00:00Z",
            "location": "Users/23a35c27-23d3-4c03-b4c5-6443c09e7173"
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        },
        "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User": {"ssoName": "Okta SSO"}
    })
}

fn group() -> Value {
    json!({
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv2",
        "members": [
            {"value": "b1c794f24f4c49f4b5d503a4cb2686ea", "display": "SCIM 2 Group A"},
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173"}
        ]
    })
}

fn check(resource: &Value, filter: &str) -> bool {
    let parsed = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let reparsed = parse(&parsed.to_string()).unwrap();
    assert_eq!(parsed, reparsed, "round trip of {filter} via {parsed}");
    parsed.matches(resource, &DefaultSchema)
}

#[test]
fn identity_provider_filters() {
    let u = user();
    let cases = [
        // Okta
        (r#"userName eq "test.user@okta.local""#, true),
        (r#"userName eq "TEST.USER@OKTA.LOCAL""#, true),
        (r#"userName eq "non-existent user""#, false),
        (r#"email eq "test.user@okta.local""#, false),
        (r#"emails eq "test.user@okta.local""#, true),
        (r#"emails eq "Home@Example.com""#, true),
        // Entra ID
        (r#"externalId eq "00ujl29u0le5T6Aj10h7""#, true),
        (r#"externalId eq "00UJL29U0LE5T6AJ10H7""#, false),
        (r#"displayName eq "test user""#, true),
        (
            r#"emails[type eq "work"].value eq "test.user@okta.local""#,
            true,
        ),
        (
            r#"emails[type eq "work"].value eq "home@example.com""#,
            false,
        ),
        (
            r#"emails[type eq "home"].value eq "home@example.com""#,
            true,
        ),
        (
            r#"userName eq "test.user@okta.local" and externalId eq "00ujl29u0le5T6Aj10h7""#,
            true,
        ),
        (
            r#"externalId eq "00ujl29u0le5T6Aj10h7" and emails[type eq "work"].value eq "x""#,
            false,
        ),
        (
            r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#,
            false,
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(check(&u, f), expected, "{f}");
    }
    let g = group();
    assert!(check(&g, r#"displayName eq "Test SCIMv2""#));
    assert!(check(
        &g,
        r#"displayName eq "displayName" or displayName eq "test scimv2""#
    ));
    assert!(check(
        &g,
        r#"members[value eq "b1c794f24f4c49f4b5d503a4cb2686ea"]"#
    ));
    assert!(!check(
        &g,
        r#"members[value eq "B1C794F24F4C49F4B5D503A4CB2686EA"]"#
    ));
    assert!(check(
        &g,
        r#"members eq "23a35c27-23d3-4c03-b4c5-6443c09e7173""#
    ));
}

#[test]
fn operators() {
    let u = user();
    let cases = [
        (r#"userName ne "someone""#, true),
        (r#"userName NE "test.user@okta.local""#, false),
        (r#"userName co "USER@""#, true),
        (r#"userName Sw "test.""#, true),
        (r#"userName ew ".local""#, true),
        (r#"userName ew "okta""#, false),
        (r#"id co "23A35""#, false),
        (r#"id sw "23a35""#, true),
        ("title pr", false),
        ("nickName pr", false),
        ("userName pr", true),
        ("emails pr", true),
        ("groups pr", false),
        ("name.middleName pr", false),
        ("active eq true", true),
        ("active eq false", false),
        (r#"active eq "True""#, true),
        ("active gt false", false),
        ("x509count gt 2", true),
        ("x509count ge 3", true),
        ("x509count lt 3", false),
        ("x509count le 3.0", true),
        ("ratio gt 1", true),
        ("ratio lt 1.6", true),
        ("x509count co 3", false),
        (r#"x509count eq "3""#, false),
        (r#"meta.lastModified gt "2018-03-27T19:59:26Z""#, true),
        (r#"meta.created ge "2018-03-27T19:59:26Z""#, true),
        (r#"meta.created lt "2018-03-27T19:59:26Z""#, false),
        (r#"meta.created le "2018-03-27T19:59:26Z""#, true),
        (r#"meta.resourceType eq "user""#, false),
        (r#"missing eq "x""#, false),
        (r#"missing ne "x""#, true),
        ("missing gt 1", false),
        ("missing eq null", true),
        ("title eq null", true),
        ("userName eq null", false),
        ("userName ne null", true),
        ("missing ne null", false),
        (r#"name.givenName eq "test""#, true),
        (r#"NAME.GIVENNAME eq "test""#, true),
        (r#"emails.type eq "home""#, true),
        (r#"emails[type eq "work" and primary eq true]"#, true),
        (r#"emails[type eq "home" and primary eq true]"#, false),
        (r#"emails[type eq "home" or primary eq true]"#, true),
        (r#"emails[not (type eq "work")]"#, true),
        (r#"emails[type eq "work"].primary eq true"#, true),
        (r#"emails[type eq "work"].display pr"#, false),
        (r#"not (userName eq "test.user@okta.local")"#, false),
        (r#"NOT(userName eq "x")"#, true),
        (
            r#"userName eq "x" or userName eq "y" and active eq true"#,
            false,
        ),
        (
            r#"(userName eq "x" or userName sw "test") and active eq true"#,
            true,
        ),
        (r#"userName eq "x" OR displayName eq "Test User""#, true),
        (
            r#"userName eq "test.user@okta.local" AnD active eq false"#,
            false,
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(check(&u, f), expected, "{f}");
    }
}

#[test]
fn urn_paths() {
    let u = user();
    let cases = [
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "test.user@okta.local""#,
            true,
        ),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq "test.user@okta.local""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "user""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
            false,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value sw "2611""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User:ssoName eq "okta sso""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:splashtop:2.0:user:SSONAME pr"#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User:userName pr"#,
            false,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr"#,
            true,
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(check(&u, f), expected, "{f}");
    }
    let f = parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr")
        .unwrap();
    let Filter::Present(p) = f else { panic!() };
    assert_eq!(
        p.urn.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(p.name, "manager");
    assert_eq!(p.sub.as_deref(), Some("value"));
}

#[test]
fn literals() {
    let f = parse(r#"displayName eq "say \"hi\" \\ caf\u00e9""#).unwrap();
    let Filter::Compare { value, .. } = &f else {
        panic!()
    };
    assert_eq!(*value, CompValue::Str("say \"hi\" \\ café".into()));
    assert!(f.matches(
        &json!({"displayName": "SAY \"HI\" \\ CAFÉ"}),
        &DefaultSchema
    ));
    assert_eq!(f.to_string(), r#"displayName eq "say \"hi\" \\ café""#);
    let f = parse("a eq -12").unwrap();
    assert!(f.matches(&json!({"a": -12}), &DefaultSchema));
    let f = parse("a eq 1.25e2").unwrap();
    assert!(f.matches(&json!({"a": 125}), &DefaultSchema));
    assert_eq!(parse("a eq TRUE").unwrap(), parse("a eq true").unwrap());
    assert_eq!(parse("a eq Null").unwrap().to_string(), "a eq null");
}

#[test]
fn entra_value_path_form() {
    let f = parse(r#"emails[type eq "work"].value eq "x@y""#).unwrap();
    let expected = parse(r#"emails[type eq "work" and value eq "x@y"]"#).unwrap();
    assert_eq!(f, expected);
    assert_eq!(
        f.to_string(),
        r#"emails[type eq "work" and value eq "x@y"]"#
    );
    // Both conditions must hold for the same element.
    let r = json!({"emails": [{"type": "work", "value": "a"}, {"type": "home", "value": "x@y"}]});
    assert!(!f.matches(&r, &DefaultSchema));
}

#[test]
fn precedence_and_printing() {
    let f = parse("a pr or b pr and c pr").unwrap();
    assert!(matches!(f, Filter::Or(..)));
    assert_eq!(f.to_string(), "a pr or b pr and c pr");
    let f = parse("(a pr or b pr) and c pr").unwrap();
    assert_eq!(f.to_string(), "(a pr or b pr) and c pr");
    let f = parse("a pr and (b pr and c pr)").unwrap();
    assert_eq!(f.to_string(), "a pr and (b pr and c pr)");
    let f = parse("a pr and b pr and c pr").unwrap();
    assert_eq!(f.to_string(), "a pr and b pr and c pr");
    let f = parse("  ((a   pr))  ").unwrap();
    assert_eq!(f, Filter::Present(AttrPath::new("a")));
    // Keywords are only keywords where one is expected.
    let f = parse(r#"not eq "x" and and pr or or pr"#).unwrap();
    assert_eq!(f.to_string(), r#"not eq "x" and and pr or or pr"#);
    assert_eq!(
        "not pr".parse::<Filter>().unwrap(),
        Filter::Present(AttrPath::new("not"))
    );
}

#[test]
fn eq_hints() {
    let f = parse(r#"userName eq "A@b.com""#).unwrap();
    assert_eq!(f.eq_hint(), Some((&AttrPath::new("userName"), "A@b.com")));
    let f = parse(r#"active eq true and (externalId eq "e" and displayName eq "d")"#).unwrap();
    let hints: Vec<String> = f
        .eq_hints()
        .iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect();
    assert_eq!(hints, ["externalId=e", "displayName=d"]);
    assert_eq!(f.eq_hint().map(|(_, v)| v), Some("e"));
    assert!(parse(r#"userName eq "a" or userName eq "b""#)
        .unwrap()
        .eq_hint()
        .is_none());
    assert!(parse(r#"not (userName eq "a")"#)
        .unwrap()
        .eq_hint()
        .is_none());
    assert!(parse(r#"emails[value eq "a"]"#)
        .unwrap()
        .eq_hint()
        .is_none());
    assert!(parse(r#"userName ne "a""#).unwrap().eq_hint().is_none());
}

#[test]
fn errors() {
    let cases = [
        ("", "empty filter"),
        ("   ", "empty filter"),
        (
            r#"userName eq "abc"#,
            "unterminated string literal at position 12",
        ),
        (
            r#"userName xx "abc""#,
            "unexpected token 'xx' at position 9: expected a comparison operator",
        ),
        (
            "userName eq",
            "unexpected end of input at position 11: expected a value",
        ),
        (
            "userName",
            "unexpected end of input at position 8: expected a comparison operator",
        ),
        (
            r#"userName eq "a" foo"#,
            "unexpected token 'foo' at position 16: expected end of filter",
        ),
        (r#"userName eq "a")"#, "unexpected token ')' at position 15"),
        (r#"(userName eq "a""#, "expected ')'"),
        (r#"emails[type eq "a""#, "expected ']'"),
        (r#"emails[type eq "a"]."#, "expected a sub-attribute"),
        (
            r#"emails[type eq "a"].value"#,
            "expected a comparison operator",
        ),
        (
            r#"emails[type[value eq "a"] pr]"#,
            "value filters cannot be nested",
        ),
        (
            r#"name.givenName[value eq "a"]"#,
            "'[' must follow a plain attribute",
        ),
        (r#"a.b.c eq "x""#, "expected an attribute path"),
        ("a eq 01", "invalid number '01'"),
        ("a eq -", "invalid number"),
        ("a eq x", "expected a value"),
        (r#"a eq "\x""#, "invalid string literal"),
        ("a eq \"\u{1}\"", "invalid string literal"),
        ("a ~ 1", "unexpected character '~' at position 2"),
        ("é eq 1", "unexpected character 'é' at position 0"),
        (r#"a eq "é" é"#, "unexpected character 'é' at position 9"),
        ("not a pr", "expected a comparison operator"),
        ("a pr and", "expected an attribute path"),
        ("a pr or or", "expected a comparison operator"),
        ("[a pr]", "expected an attribute path"),
        ("urn:x pr", "expected an attribute path"),
    ];
    for (input, fragment) in cases {
        let err = parse(input).expect_err(input);
        assert!(
            err.message.contains(fragment),
            "{input}: got {err}, wanted {fragment}"
        );
        assert_eq!(err.to_string(), err.message);
    }
}

#[test]
fn limits() {
    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(32)).is_ok());
    let err = parse(&nested(33)).unwrap_err();
    assert!(err.message.contains("deeper than 32"), "{err}");
    let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
    assert!(parse(&nots(32)).is_ok());
    assert!(parse(&nots(33)).is_err());
    let mixed = format!("{}e[a pr]{}", "(".repeat(31), ")".repeat(31));
    assert!(parse(&mixed).is_ok());
    let mixed = format!("{}e[a pr]{}", "(".repeat(32), ")".repeat(32));
    assert!(parse(&mixed).is_err());

    let prefix = "userName eq \"";
    let at = |len: usize| format!("{prefix}{}\"", "x".repeat(len - prefix.len() - 1));
    assert_eq!(at(4096).len(), 4096);
    assert!(parse(&at(4096)).is_ok());
    let err = parse(&at(4097)).unwrap_err();
    assert!(err.message.contains("4097 bytes"), "{err}");

    // A long `and` chain within the limit parses and evaluates.
    let chain = vec!["a pr"; 400].join(" and ");
    let f = parse(&chain).unwrap();
    assert!(f.matches(&json!({"a": 1}), &DefaultSchema));
    assert_eq!(f.to_string(), chain);
}

#[test]
fn patch_paths() {
    let (p, f) = parse_path("members").unwrap();
    assert_eq!((p, f), (AttrPath::new("members"), None));
    let (p, f) = parse_path(r#"members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]"#).unwrap();
    assert_eq!(p, AttrPath::new("members"));
    assert!(f.is_some());
    let (p, f) = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p, AttrPath::new("emails").with_sub("value"));
    assert_eq!(f.unwrap().to_string(), r#"type eq "work""#);
    let (p, _) =
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
    assert_eq!(
        p.extension_urn(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    let (p, _) = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").unwrap();
    assert!(p.is("name", Some("GIVENNAME")));
    for bad in [
        "",
        "a b",
        "a[",
        "a[b pr",
        "a[b pr]c",
        "a[b pr].",
        "a.b[c pr]",
        "a[b pr].c.d",
        "a eq 1",
    ] {
        assert!(parse_path(bad).is_err(), "{bad}");
    }
    assert_eq!(
        "name.givenName".parse::<AttrPath>().unwrap(),
        AttrPath::new("name").with_sub("givenName")
    );
    assert!("name[x pr]".parse::<AttrPath>().is_err());
}

#[test]
fn default_schema() {
    let s = DefaultSchema;
    assert!(s.case_exact(&AttrPath::new("id")));
    assert!(s.case_exact(&AttrPath::new("externalId")));
    assert!(s.case_exact(&AttrPath::new("meta").with_sub("location")));
    assert!(s.case_exact(&AttrPath::new("members").with_sub("$ref")));
    assert!(s.case_exact(&AttrPath::new("members").with_sub("value")));
    assert!(!s.case_exact(&AttrPath::new("userName")));
    assert!(!s.case_exact(&AttrPath::new("displayName")));
    assert!(!s.case_exact(&AttrPath::new("emails").with_sub("value")));
    assert!(!s.case_exact(&AttrPath::new("name").with_sub("givenName")));
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z$_][a-zA-Z0-9_$-]{0,8}",
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "NOT"])
            .prop_map(String::from),
    ]
}

fn arb_urn() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some("urn:ietf:params:scim:schemas:core:2.0:User".to_string())),
        1 => Just(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string())),
        1 => "urn:[a-z0-9.-]{1,6}(:[a-zA-Z0-9.-]{1,5}){0,3}:[a-zA-Z][a-zA-Z0-9]{0,4}".prop_map(Some),
    ]
}

fn arb_path(relative: bool) -> impl Strategy<Value = AttrPath> {
    let urn = if relative {
        Just(None).boxed()
    } else {
        arb_urn().boxed()
    };
    (urn, arb_name(), prop::option::of(arb_name())).prop_map(|(urn, name, sub)| AttrPath {
        urn,
        name,
        sub,
    })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::Str),
        "[a-z\"\\\\ é\u{7f}\u{1f600}]{0,6}".prop_map(CompValue::Str),
        any::<i64>().prop_map(|n| CompValue::Num(n.into())),
        any::<u64>().prop_map(|n| CompValue::Num(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Num),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn arb_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn arb_filter_at(relative: bool) -> BoxedStrategy<Filter> {
    let leaf =
        prop_oneof![
            (arb_path(relative), arb_op(), arb_value())
                .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            arb_path(relative).prop_map(Filter::Present),
        ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let value_path =
        (arb_urn(), arb_name(), arb_filter_at(true)).prop_map(|(urn, name, f)| Filter::ValuePath {
            path: AttrPath {
                urn,
                name,
                sub: None,
            },
            filter: Box::new(f),
        });
    let leaf = prop_oneof![3 => arb_filter_at(false), 1 => value_path];
    leaf.prop_recursive(3, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z ]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]|value|type|emails", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn print_parse_round_trip(f in arb_filter()) {
        let text = f.to_string();
        let back = parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&f), "printed as {}", text);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,64}") {
        let _ = parse(&s);
        let _ = parse_path(&s);
    }

    #[test]
    fn parse_never_panics_on_filterish_text(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                "a", "emails", "urn:x:2.0:User:y", "urn:", ".", "value", "[", "]", "(", ")", "not", "and",
                "or", "eq", "pr", "gt", "\"s\"", "\"", "\\", "1", "-", "1.5e3", "true", "null", " ", ":",
            ]),
            0..24,
        )
    ) {
        let s: String = parts.concat();
        let _ = parse(&s);
        let _ = parse_path(&s);
    }

    #[test]
    fn evaluation_never_panics(f in arb_filter(), r in arb_json()) {
        let _ = f.matches(&r, &DefaultSchema);
    }

    #[test]
    fn not_negates(f in arb_filter(), r in arb_json()) {
        let negated = Filter::Not(Box::new(f.clone()));
        prop_assert_eq!(negated.matches(&r, &DefaultSchema), !f.matches(&r, &DefaultSchema));
    }
}

#[test]
fn rfc_7644_examples_parse_and_round_trip() {
    let u = user();
    let cases = [
        (r#"userName Eq "john""#, false),
        (r#"name.familyName co "O'Malley""#, false),
        (r#"userName sw "J""#, false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            false,
        ),
        ("title pr", false),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, false),
        (r#"title pr and userType eq "Employee""#, false),
        (r#"title pr or userType eq "Intern""#, false),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            true,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.org" or emails.value co "example.net")"#,
            true,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            false,
        ),
        (
            r#"emails[type eq "work" and value co "@okta.local"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(check(&u, f), expected, "{f}");
    }
}
