//! Points 4 and 6: failed-authentication throttling, and the console's guards.

use splashsync_test_support::metric;

use super::harness::{
    client_from, console_login, console_login_from, csrf_field, retry_after, set_cookie, start,
    ADMIN_TOKEN, SCIM_TOKEN,
};

/// Point 4: after N failures from one address in a window, that address gets 429 with
/// `Retry-After` in each realm's own error shape, even with the right credentials; other
/// addresses authenticate as before; every failure is counted.
#[tokio::test]
async fn failed_authentications_are_throttled_per_source_address() {
    let app = start(|s| s.limits.auth_failure_limit = 3).await;
    let attacker = client_from([127, 0, 0, 2]);
    let bystander = client_from([127, 0, 0, 3]);

    let users = format!("{}/scim/v2/Users", app.base);
    for _ in 0..3 {
        let r = attacker
            .get(&users)
            .bearer_auth("wrong-token-0000000")
            .send()
            .await;
        assert_eq!(r.expect("GET").status(), 401);
    }
    let r = attacker
        .get(&users)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 429, "throttled, the right token unread");
    assert!(retry_after(&r).is_some_and(|s| s >= 1), "{:?}", r.headers());
    let body: serde_json::Value = r.json().await.expect("a SCIM error body");
    assert_eq!(body["status"], "429");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let r = bystander
        .get(&users)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200, "another address is not throttled");

    let queues = format!("{}/admin/queues", app.base);
    for _ in 0..3 {
        let r = attacker
            .get(&queues)
            .bearer_auth("wrong-token-0000000")
            .send()
            .await;
        assert_eq!(r.expect("GET").status(), 401);
    }
    let r = attacker
        .get(&queues)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r).is_some());
    let body: serde_json::Value = r.json().await.expect("an admin error body");
    assert_eq!(body["error"]["status"], 429);

    for _ in 0..3 {
        let r = console_login(&attacker, &app.base, "wrong-token-0000000").await;
        assert_eq!(r.status(), 401);
    }
    let r = console_login(&attacker, &app.base, ADMIN_TOKEN).await;
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r).is_some());
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("too many failed logins"));
    let r = console_login(&bystander, &app.base, ADMIN_TOKEN).await;
    assert!(r.status().is_redirection(), "logged in: {}", r.status());

    let text = app.metrics().await;
    for realm in ["scim", "admin", "console"] {
        let failures = metric(&text, "splashsync_auth_failures_total", &[("realm", realm)]);
        assert_eq!(failures, Some(3.0), "{realm}");
        let throttled = metric(
            &text,
            "splashsync_auth_throttled_total",
            &[("realm", realm)],
        );
        assert_eq!(throttled, Some(1.0), "{realm}");
    }
    app.stop().await;
}

/// Point 6: the console behind an https public URL: `Secure` cookies; every form post
/// needs the form's CSRF token, and its `Origin`, when sent, must be the console's own;
/// every answer forbids framing, caching, scripts and referrers.
#[tokio::test]
async fn the_console_guards_its_forms_and_its_pages() {
    const SITE: &str = "https://console.example.test";
    let app = start(|s| s.public_url = Some(SITE.into())).await;
    let browser = client_from([127, 0, 0, 1]);
    let base = app.base.clone();

    let page = browser
        .get(format!("{base}/console/login"))
        .send()
        .await
        .expect("GET");
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "same-origin");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "no script allowed: {csp}");
    let (_, attrs) = set_cookie(&page, "splashsync_console_login").expect("login cookie");
    assert!(
        attrs.contains("Secure") && attrs.contains("HttpOnly"),
        "{attrs}"
    );

    // A login post without the form's token, or from another origin, is refused.
    let bare = browser
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", SITE)
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .expect("POST");
    assert_eq!(bare.status(), 403);
    let foreign = console_login_from(&browser, &base, "https://evil.example", ADMIN_TOKEN).await;
    assert_eq!(foreign.status(), 403);
    let login = console_login_from(&browser, &base, SITE, ADMIN_TOKEN).await;
    assert!(login.status().is_redirection(), "{}", login.status());
    let (session, attrs) = set_cookie(&login, "splashsync_console").expect("session cookie");
    assert!(
        attrs.contains("Secure") && attrs.contains("SameSite=Strict"),
        "{attrs}"
    );

    let list = browser
        .get(format!("{base}/console/dead-letters"))
        .header("cookie", &session)
        .send()
        .await
        .expect("GET");
    assert_eq!(list.status(), 200);
    assert_eq!(
        list.headers().get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );
    let csrf = csrf_field(&list.text().await.expect("page")).expect("forms carry the token");
    let replay = |body: String, origin: Option<&'static str>| {
        let mut r = browser
            .post(format!("{base}/console/dead-letters/replay"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &session)
            .body(body);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        async move { r.send().await.expect("POST").status().as_u16() }
    };
    assert_eq!(replay("reason=x".into(), Some(SITE)).await, 403, "no token");
    assert_eq!(replay("csrf=forged&reason=x".into(), Some(SITE)).await, 403);
    let with_token = format!("csrf={csrf}&reason=x");
    assert_eq!(
        replay(with_token.clone(), Some("https://evil.example")).await,
        403
    );
    assert_eq!(replay(with_token.clone(), Some("null")).await, 403);
    assert_eq!(
        replay(with_token.clone(), None).await,
        303,
        "no Origin: the token decides"
    );
    assert_eq!(replay(with_token, Some(SITE)).await, 303);

    // The admin token reads pages but cannot post forms; the OpenAPI is public.
    let scripted = browser
        .post(format!("{base}/console/dead-letters/replay"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("reason=x")
        .send()
        .await
        .expect("POST");
    assert_eq!(scripted.status(), 403);
    let openapi = browser
        .get(format!("{base}/admin/openapi.json"))
        .send()
        .await
        .expect("GET");
    assert_eq!(openapi.status(), 200);
    app.stop().await;
}
