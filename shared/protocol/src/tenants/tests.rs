use super::*;

const A: &str = "k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz";
const B: &str = "Zq81mN0vB7cX6zL5kJ4hG3fD2sA1pO9i";

fn file(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, token)| {
            format!(
                "[[tenant]]\nname = \"{name}\"\nscim_token_sha256 = \"{}\"\n",
                TokenHash::of(token).to_hex()
            )
        })
        .collect()
}

#[test]
fn two_tenants_load_with_their_token_hashes() {
    let specs = parse(&file(&[("emea", A), ("apac-2", B)])).unwrap();
    let names: Vec<_> = specs.iter().map(|s| s.tenant.as_str()).collect();
    assert_eq!(names, ["emea", "apac-2"]);
    assert!(specs[0].token.matches(A.as_bytes()));
    assert!(!specs[0].token.matches(B.as_bytes()));
}

#[test]
fn every_field_is_read_and_the_api_token_stays_secret() {
    let text = format!(
        "{}splashtop_api_url = \"http://st\"\nsplashtop_api_token = \"st-secret-value\"\n\
         splashtop_team_id = \"t1\"\ngroup_policy = \"move\"\nrename_policy = \"reinvite\"\n\
         rate_limit_per_minute = 60\ndeactivate_mode = \"delete\"\n",
        file(&[("emea", A)])
    );
    let spec = parse(&text).unwrap().remove(0);
    assert_eq!(spec.entry.splashtop_team_id.as_deref(), Some("t1"));
    assert_eq!(spec.entry.rate_limit_per_minute, Some(60));
    assert_eq!(spec.entry.group_policy.as_deref(), Some("move"));
    use secrecy::ExposeSecret;
    let token = spec.splashtop_api_token().unwrap().unwrap();
    assert_eq!(token.expose_secret(), "st-secret-value");
    assert!(!format!("{spec:?}").contains("st-secret-value"));
}

#[test]
fn the_api_token_env_is_read_and_an_unset_one_is_named() {
    let text = format!(
        "{}splashtop_api_token_env = \"SPLASHSYNC_TEST_TENANTS_UNSET_VAR\"\n",
        file(&[("emea", A)])
    );
    let spec = parse(&text).unwrap().remove(0);
    let err = spec.splashtop_api_token().unwrap_err().to_string();
    assert!(err.contains("SPLASHSYNC_TEST_TENANTS_UNSET_VAR") && err.contains("emea"));
    let both = format!("{text}splashtop_api_token = \"x\"\n");
    assert!(parse(&both).unwrap_err().to_string().contains("not both"));
}

#[test]
fn a_plain_token_in_the_hash_field_is_refused_without_echoing_it() {
    let text = format!("[[tenant]]\nname = \"emea\"\nscim_token_sha256 = \"{A}\"\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("hash-token") && err.contains("emea"));
    assert!(!err.contains(A));
}

#[test]
fn names_tokens_and_fields_are_checked() {
    assert!(matches!(parse(""), Err(TenantsError::Empty)));
    for bad in ["", "Emea", "-x", "a/b", "a.b", &"x".repeat(33)] {
        let err = parse(&file(&[(bad, A)])).unwrap_err().to_string();
        assert!(err.contains("lowercase"), "{bad:?}: {err}");
    }
    let twice = parse(&file(&[("emea", A), ("emea", B)])).unwrap_err();
    assert!(twice.to_string().contains("twice"));
    let shared = parse(&file(&[("emea", A), ("apac", A)])).unwrap_err();
    assert!(shared.to_string().contains("same SCIM token"));
    let typo = format!("{}group_polcy = \"move\"\n", file(&[("emea", A)]));
    assert!(matches!(parse(&typo), Err(TenantsError::Syntax(_))));
}
