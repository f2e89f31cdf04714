//! The sign-in and session hardening of issue 17: the demo cannot leak into a real start,
//! lockouts cannot be dodged, and the two-person rule cannot be switched off by one person.
use backend::auth::users::{self, DEMO_USER};
use domain::access::Role;
use gatehouse::{
    Config, Gatehouse,
    config::{PublicUrl, SecretText},
};
use serde_json::{Value, json};

use crate::{
    harness::{ADMIN_PASSWORD, DbKind, FreshDatabase, TestApp, api_token, basic_auth_token, site_root},
    on_both_databases,
};

/// Under `--demo` an anonymous visitor is a network admin, but cannot make an API token;
/// a token the demo user got anyway (made before this rule) stops answering once the
/// portal starts without `--demo` on the same database.
async fn demo_tokens_do_not_outlive_the_demo(kind: DbKind) {
    let demo = TestApp::spawn_demo(kind).await;
    let refused = demo.anonymous().post(demo.at("/api/v1/tokens")).header("origin", &demo.url).json(&json!({"name": "leak"})).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("demo sign-in cannot make API tokens"), "{body}");

    let demo_user = users::get(&demo.db, DEMO_USER).await.unwrap().expect("the demo user exists");
    let token = api_token(&demo.db, &demo_user, "made-before-the-rule").await;
    let me = |app: &TestApp| app.anonymous().get(app.at("/api/v1/me")).bearer_auth(&token).send();
    assert_eq!(me(&demo).await.unwrap().status(), 200);

    let real = TestApp::spawn_with(demo.stop().await, |config| config.demo = false).await;
    let after = me(&real).await.unwrap();
    assert_eq!(after.status(), 401, "the demo's token is revoked at a start without --demo");
    assert_eq!(real.anonymous().get(real.at("/api/v1/me")).send().await.unwrap().status(), 401, "no demo sign-in");
    assert!(users::get(&real.db, DEMO_USER).await.unwrap().unwrap().disabled);
    let (_, audit) = real.get_json("/api/v1/audit?action=user.demo_retired").await;
    assert!(audit.to_string().contains("user.demo_retired"), "{audit}");

    // A later demo start enables the demo user again, but its old token stays revoked.
    let again = TestApp::spawn_with(real.stop().await, |config| config.demo = true).await;
    assert_eq!(again.anonymous().get(again.at("/api/v1/me")).send().await.unwrap().status(), 200);
    assert_eq!(me(&again).await.unwrap().status(), 401);
}

/// `--demo` refuses to sign visitors in beside a real cluster or on a public address, and
/// says which flag is the reason; with `--demo-sign-in false` the demo data is fine there.
async fn the_demo_sign_in_refuses_a_public_address(kind: DbKind) {
    let database = FreshDatabase::new(kind).await;
    let mut config = Config::for_tests(&database.url, site_root());
    config.admin_password = Some(SecretText(ADMIN_PASSWORD.to_owned()));
    config.demo = true;
    config.listen = "0.0.0.0:0".parse().unwrap();
    let Err(refused) = Gatehouse::start(config.clone()).await else { panic!("the demo sign-in started on 0.0.0.0") };
    let message = refused.to_string();
    assert!(message.contains("--listen") && message.contains("--demo-sign-in false"), "{message}");
    config.demo_sign_in = false;
    config.listen = "127.0.0.1:0".parse().unwrap();
    assert!(Gatehouse::start(config).await.is_ok(), "the demo data without the demo sign-in starts");
}

/// Sign-in failures count against the account as authentication names it: `" admin"` and
/// `"Admin"` are `admin`, not fresh accounts with fresh counts.
async fn a_padded_name_counts_against_the_same_account(kind: DbKind) {
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| config.sign_in_attempts = 3).await;
    for name in ["admin", " admin", "Admin "] {
        assert_eq!(app.sign_in(name, "not the password").await.unwrap_err().status(), 401, "{name:?}");
    }
    let locked = app.sign_in("admin", ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(locked.status(), 429, "the three failures locked admin");
    assert!(locked.text().await.unwrap().contains("Too many failed sign-ins for this account"));
}

/// Posts a wrong password from the client address `forwarded` claims to be.
async fn fail_from(app: &TestApp, name: &str, forwarded: &str) -> u16 {
    app.anonymous()
        .post(app.at("/sign-in"))
        .header("origin", &app.url)
        .header("x-forwarded-for", forwarded)
        .form(&[("name", name), ("password", "not the password"), ("return", "/")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `X-Forwarded-For` is believed only from `--trusted-proxies`: then the right-most hop that
/// is not a proxy is the client, and IPv6 clients are counted by their /64. From anyone else
/// the header changes nothing.
async fn forwarded_addresses_count_only_behind_trusted_proxies(kind: DbKind) {
    // One failure locks an account; an address is allowed four.
    let behind_proxy = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.sign_in_attempts = 1;
        config.trusted_proxies = vec![domain::Cidr::parse("127.0.0.0/8").unwrap()];
    })
    .await;
    for account in ["a1", "a2", "a3", "a4"] {
        // The left-most hop is the client's own claim and is not believed.
        assert_eq!(fail_from(&behind_proxy, account, &format!("10.9.9.{}, 198.51.100.1", account.len())).await, 401);
    }
    assert_eq!(fail_from(&behind_proxy, "a5", "198.51.100.1").await, 429, "198.51.100.1 is locked");
    assert!(behind_proxy.sign_in("admin", ADMIN_PASSWORD).await.is_ok(), "other clients behind the proxy are not");
    for (account, address) in [("b1", "2001:db8:1:2::1"), ("b2", "2001:db8:1:2::2"), ("b3", "2001:db8:1:2:ffff::3"), ("b4", "2001:db8:1:2::4")] {
        assert_eq!(fail_from(&behind_proxy, account, address).await, 401);
    }
    assert_eq!(fail_from(&behind_proxy, "b5", "2001:db8:1:2::99").await, 429, "the whole /64 is one client");
    assert_eq!(fail_from(&behind_proxy, "b6", "2001:db8:1:3::1").await, 401, "another /64 is another client");

    let direct = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| config.sign_in_attempts = 1).await;
    for (account, forged) in [("c1", "203.0.113.1"), ("c2", "203.0.113.2"), ("c3", "203.0.113.3"), ("c4", "203.0.113.4")] {
        assert_eq!(fail_from(&direct, account, forged).await, 401);
    }
    assert_eq!(fail_from(&direct, "c5", "203.0.113.5").await, 429, "a forged header earns no fresh count");
}

/// Lifting an environment's protection takes an admin and has an audit entry of its own; an
/// environment named as production starts protected.
async fn lowering_protection_needs_an_admin(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let network_admin = app.client_as(Role::NetworkAdmin, "").await;
    let (_, mut prod) = app.get_json("/api/v1/environments/prod").await;
    assert_eq!(prod["protected"], true);
    prod["protected"] = json!(false);
    let refused = network_admin.put(app.at("/api/v1/environments/prod")).json(&prod).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!((body["error"]["code"].as_str(), body["error"]["field"].as_str()), (Some("protection_needs_admin"), Some("protected")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("only an admin"), "{body}");
    assert_eq!(app.get_json("/api/v1/environments/prod").await.1["protected"], true, "nothing changed");

    let (status, body) = app.send_json(reqwest::Method::PUT, "/api/v1/environments/prod", &prod).await;
    assert_eq!(status, 200, "an admin may: {body}");
    let (_, audit) = app.get_json("/api/v1/audit?action=environment.unprotect").await;
    assert!(audit.to_string().contains("environment/prod"), "{audit}");

    // A new environment called `prd` is protected although the request said not.
    let fresh = TestApp::spawn(kind).await;
    let prd = json!({
        "name": "prd",
        "node_subnets": ["192.168.101.0/24"],
        "node_addresses": ["192.168.101.11"],
        "pod_cidrs": ["10.10.0.0/16"],
        "service_cidr": "10.96.0.0/16",
        "advertisement": {"mode": "arp", "label": {"key": "gatehouse.io/advertise", "value": "prd"}, "arp": {"interfaces": ["^eth[0-9]+$"]}},
        "protected": false
    });
    let (status, created) = fresh.post_json("/api/v1/environments", &prd).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["protected"], true, "{created}");
    assert_eq!(fresh.get_json("/api/v1/environments/prd").await.1["protected"], true);
}

/// After signing in the browser goes to a path on this portal only: a tab, a backslash or a
/// second slash that a browser would read as another host sends it home instead.
async fn sign_in_returns_only_to_paths_on_this_portal(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    for (wanted, landed) in [("/pools?x=1", "/pools?x=1"), ("/\t/evil.example", "/"), ("/\\evil.example", "/"), ("//evil.example", "/"), ("https://evil.example/", "/"), ("/\n/evil.example", "/")] {
        let response = app
            .anonymous()
            .post(app.at("/sign-in"))
            .header("origin", &app.url)
            .form(&[("name", "admin"), ("password", ADMIN_PASSWORD), ("return", wanted)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{wanted:?}");
        assert_eq!(response.headers()["location"], landed, "{wanted:?}");
    }
}

/// Exported cells a spreadsheet would run as a formula are written as text.
async fn csv_exports_neutralise_formula_cells(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, pools) = app.get_json("/api/v1/environments/prod/pools").await;
    let pool = pools[0]["id"].as_i64().unwrap();
    let (status, body) = app
        .post_json(&format!("/api/v1/pools/{pool}/reservations"), &json!({"start": "192.168.101.246", "reason": "=HYPERLINK(\"http://evil.example\")"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let export = app.get("/api/v1/pools.csv").await.text().await.unwrap();
    assert!(export.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""), "{export}");
    let audit = app.get("/api/v1/audit.csv").await.text().await.unwrap();
    assert!(!audit.lines().any(|line| line.split(',').any(|cell| cell.trim_start_matches('"').starts_with('='))), "{audit}");
}

/// Answers that can carry a private key, and every other API answer and page, are not kept
/// by browsers or caches.
async fn answers_with_keys_are_not_stored(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    for path in ["/api/v1/applications/api/bundle.yaml?environment=dev", "/api/v1/certificates", "/api/v1/me"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
    let page = app.anonymous().get(app.at("/sign-in")).send().await.unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store");
}

/// A form, and any body of a caller who has not signed in, is read no further than 64 KiB.
async fn forms_are_limited_before_sign_in(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let padding = "x".repeat(70 * 1024);
    let response = app
        .anonymous()
        .post(app.at("/sign-in"))
        .header("origin", &app.url)
        .form(&[("name", "admin"), ("password", padding.as_str()), ("return", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("64 KiB"));
}

/// Tokens expire (the time is shown when one is made) and stop when their user's password,
/// role or scopes change.
async fn tokens_expire_and_end_with_a_changed_user(kind: DbKind) {
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.token_days = 30;
        config.token_max_days = 60;
    })
    .await;
    let user = app.user(Role::NetworkAdmin, "").await;
    let create = |body: Value| app.anonymous().post(app.at("/api/v1/tokens")).basic_auth(&user.name, Some(&user.password)).json(&body).send();
    let too_long = create(json!({"name": "ci", "expires_in_days": 61})).await.unwrap();
    assert_eq!(too_long.status(), 422);
    let body: Value = too_long.json().await.unwrap();
    assert_eq!(body["error"]["field"], "expires_in_days", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("1 to 60 days"), "{body}");

    let created: Value = create(json!({"name": "ci"})).await.unwrap().json().await.unwrap();
    let expires = created["expires_at"].as_str().expect("the expiry is shown at creation").to_owned();
    let longer: Value = create(json!({"name": "longer", "expires_in_days": 60})).await.unwrap().json().await.unwrap();
    let created_at = created["created_at"].as_str().unwrap();
    assert!(created_at < expires.as_str() && expires.as_str() < longer["expires_at"].as_str().unwrap(), "{created} {longer}");
    let stored: Vec<(String,)> = sqlx::query_as("SELECT expires_at FROM api_tokens WHERE name = 'ci'").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(stored, [(expires.clone(),)]);
    let token = created["token"].as_str().unwrap().to_owned();
    let me = |token: &str| app.anonymous().get(app.at("/api/v1/me")).bearer_auth(token).send();
    assert_eq!(me(&token).await.unwrap().status(), 200);

    // An expired token stops answering.
    sqlx::query("UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE name = 'ci'").execute(app.db.pool()).await.unwrap();
    assert_eq!(me(&token).await.unwrap().status(), 401);

    for change in [json!({"role": "viewer"}), json!({"scopes": "namespace:cd-service", "role": "app_team"}), json!({"password": "a brand new passphrase"})] {
        let name = format!("t{}", change.to_string().len());
        let fresh = basic_auth_token(&app.anonymous(), &app.url, &user.name, &user.password, &name).await;
        assert_eq!(me(&fresh).await.unwrap().status(), 200);
        let (status, body) = app.send_json(reqwest::Method::PUT, &format!("/api/v1/users/{}", user.name), &change).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(me(&fresh).await.unwrap().status(), 401, "revoked by {change}");
    }
}

/// Behind a TLS-terminating Gateway, `--public-url https://…` makes the session cookie
/// `Secure` with the `__Host-` prefix, sends HSTS and is the one origin writes may come from.
async fn the_public_url_drives_cookies_hsts_and_the_origin_check(kind: DbKind) {
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.public_url = Some(PublicUrl::parse("https://gatehouse.example.com").unwrap());
    })
    .await;
    let sign_in = |origin: &str| {
        app.anonymous()
            .post(app.at("/sign-in"))
            .header("origin", origin)
            .form(&[("name", "admin"), ("password", ADMIN_PASSWORD), ("return", "/")])
            .send()
    };
    let refused = sign_in(&app.url).await.unwrap();
    assert_eq!(refused.status(), 403, "the portal is reached at its public URL, not {}", app.url);
    let signed_in = sign_in("https://gatehouse.example.com").await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-gatehouse-session=") && cookie.contains("; Secure") && cookie.contains("Path=/"), "{cookie}");
    assert!(signed_in.headers().get("strict-transport-security").is_some());
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = app.anonymous().get(app.at("/api/v1/me")).header("cookie", &session).send().await.unwrap();
    assert_eq!(me.status(), 200, "the __Host- cookie is the session");
}

/// An OpenID Connect callback completes only in the browser that started the sign-in: the
/// `state` alone (a link planted in a victim's browser) finds nothing.
async fn an_oidc_callback_needs_the_browser_that_started_it(kind: DbKind) {
    use backend::auth::pending::{self, Pending};
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        // Nothing listens there: a callback that passes the state check fails at the provider.
        config.oidc_issuer = Some("http://127.0.0.1:9".to_owned());
        config.oidc_client_id = Some("gatehouse".to_owned());
        config.oidc_client_secret = Some(SecretText("secret".to_owned()));
    })
    .await;
    let pending = Pending { verifier: "v".into(), nonce: "n".into(), return_to: "/".into(), redirect_uri: format!("{}/sign-in/oidc/callback", app.url) };
    let now = backend::clock::Clock::now_millis(&backend::clock::SystemClock);
    pending::store(&app.db, "the-state.the-binding", &pending, now, 600_000).await.unwrap();
    let callback = |cookie: Option<&str>| {
        let request = app.anonymous().get(app.at("/sign-in/oidc/callback?state=the-state&code=c"));
        match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
        .send()
    };
    let planted = callback(None).await.unwrap();
    assert_eq!(planted.status(), 400);
    assert!(planted.text().await.unwrap().contains("started in another browser"));
    assert_eq!(callback(Some("gatehouse-oidc=another-binding")).await.unwrap().status(), 400);
    let same_browser = callback(Some("gatehouse-oidc=the-binding")).await.unwrap();
    assert_ne!(same_browser.status(), 400, "the state check passed; the (absent) provider is what fails");
    let start = app.anonymous().get(app.at("/sign-in/oidc")).send().await.unwrap();
    assert_eq!(start.status(), 502, "no provider to discover");
}

/// Provider users are their issuer and subject: a second sign-in under another display name
/// is the same account, and a name already taken — a local account, or the password-less
/// demo user — is never claimed.
async fn oidc_users_are_their_issuer_and_subject(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let identity = users::ExternalIdentity { issuer: "https://idp.example", subject: "248289761001" };
    let first = users::ensure_external(&app.db, identity, "jane", Role::Viewer).await.unwrap();
    let again = users::ensure_external(&app.db, identity, "jane.doe", Role::NetworkAdmin).await.unwrap();
    assert_eq!((again.id, again.name.as_str(), again.role), (first.id, "jane", Role::NetworkAdmin));
    let other = users::ExternalIdentity { issuer: "https://idp.example", subject: "another" };
    for taken in ["jane", DEMO_USER, "admin"] {
        let refused = users::ensure_external(&app.db, other, taken, Role::Viewer).await.unwrap_err();
        assert!(refused.to_string().contains("not yours at this provider"), "{taken}: {refused}");
    }
    let elsewhere = users::ExternalIdentity { issuer: "https://other-idp.example", subject: "248289761001" };
    assert!(users::ensure_external(&app.db, elsewhere, "jane", Role::Viewer).await.is_err(), "the same subject at another issuer is someone else");
}

on_both_databases!(
    an_oidc_callback_needs_the_browser_that_started_it,
    oidc_users_are_their_issuer_and_subject,
    demo_tokens_do_not_outlive_the_demo,
    the_demo_sign_in_refuses_a_public_address,
    a_padded_name_counts_against_the_same_account,
    forwarded_addresses_count_only_behind_trusted_proxies,
    lowering_protection_needs_an_admin,
    sign_in_returns_only_to_paths_on_this_portal,
    csv_exports_neutralise_formula_cells,
    answers_with_keys_are_not_stored,
    forms_are_limited_before_sign_in,
    tokens_expire_and_end_with_a_changed_user,
    the_public_url_drives_cookies_hsts_and_the_origin_check,
);
