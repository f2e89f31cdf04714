//! Sign-in, sessions, roles on every route, API tokens, cross-site refusals and the
//! append-only audit log.
use std::sync::Arc;

use backend::clock::{ManualClock, SharedClock};
use domain::access::{Access, Decision, Role};
use gatehouse::access::Surface;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, DbKind, FreshDatabase, TestApp, basic_auth_token, session_cookie};

/// The demo plan, with everyone asked to sign in.
async fn portal_without_demo_sign_in(kind: DbKind) -> TestApp {
    TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.demo = true;
        config.demo_sign_in = false;
    })
    .await
}

/// A concrete URL for a registered path: parameters become objects of the demo plan.
fn concrete(path: &str) -> String {
    path.replace("{env}", "dev")
        .replace("{name}", "dev")
        .replace("{app}", "api")
        .replace("{id}", "1")
        .replace("{address}", "192.168.101.200")
        .replace("{file}", "hardware.svg")
        .replace("{*view}", "hardware")
}

/// Every registered route — pages, server functions, /api/v1 — called anonymously and as
/// each role; the answer must be what the route's rule says. The routes come from the
/// router itself, so a route added later is in this test, and one without a rule fails it.
async fn every_route_answers_each_role_as_its_rule_says(kind: DbKind) {
    let app = portal_without_demo_sign_in(kind).await;
    let unlisted: Vec<String> = app
        .rules
        .iter()
        .filter(|rule| rule.access == Access::Unlisted)
        .map(|rule| format!("{} {}", rule.method, rule.path))
        .collect();
    assert!(unlisted.is_empty(), "routes without an access rule: {unlisted:?}");
    for surface in [Surface::Page, Surface::Api, Surface::ServerFn] {
        let count = app.rules.iter().filter(|rule| rule.surface == surface).count();
        assert!(count >= 15, "{surface:?}: only {count} routes registered");
    }

    let mut callers = vec![(None, app.anonymous())];
    for role in Role::ALL {
        callers.push((Some(role), app.client_as(role, "namespace:cd-service").await));
    }
    let mut wrong = Vec::new();
    for rule in &app.rules {
        let url = app.at(&concrete(&rule.path));
        for (role, client) in &callers {
            let mut request = client.request(rule.method.clone(), &url);
            if rule.method != Method::GET {
                request = request.json(&json!({}));
            }
            let response = request.send().await.expect("the route answers");
            let status = response.status();
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let as_expected = match (rule.access.decide(*role), rule.surface) {
                (Decision::Allow, _) => {
                    status != StatusCode::UNAUTHORIZED
                        && status != StatusCode::FORBIDDEN
                        && !location.starts_with("/sign-in?return=")
                }
                (Decision::SignIn, Surface::Page) => {
                    status == StatusCode::SEE_OTHER && location.starts_with("/sign-in?return=")
                }
                (Decision::SignIn, Surface::Api | Surface::ServerFn) => status == StatusCode::UNAUTHORIZED,
                (Decision::Forbid, _) => status == StatusCode::FORBIDDEN,
            };
            if !as_expected {
                wrong.push(format!("{} {} as {role:?} ({:?}): {status} {location}", rule.method, rule.path, rule.access));
            }
        }
    }
    assert!(wrong.is_empty(), "{} answers break their rule:\n{}", wrong.len(), wrong.join("\n"));
}

/// The rules that matter most, spelled out, so the matrix above cannot pass by having
/// everything open.
async fn roles_see_what_they_may(kind: DbKind) {
    let app = portal_without_demo_sign_in(kind).await;
    let rule = |method: Method, path: &str| {
        app.rules
            .iter()
            .find(|rule| rule.method == method && rule.path == path)
            .unwrap_or_else(|| panic!("{method} {path} is registered"))
            .access
    };
    assert_eq!(rule(Method::GET, "/topology/{*view}"), Access::VIEWER);
    assert_eq!(rule(Method::GET, "/checklist"), Access::VIEWER);
    assert_eq!(rule(Method::GET, "/environments/new"), Access::NETWORK_ADMIN);
    assert_eq!(rule(Method::POST, "/api/v1/environments"), Access::NETWORK_ADMIN);
    assert_eq!(rule(Method::GET, "/api/v1/applications/{app}/bundle.yaml"), Access::APP_TEAM);
    assert_eq!(rule(Method::POST, "/api/v1/applications"), Access::APP_TEAM);
    assert_eq!(rule(Method::PUT, "/api/v1/certificates/{id}/owners"), Access::NETWORK_ADMIN);
    assert_eq!(rule(Method::GET, "/users"), Access::ADMIN);
    assert_eq!(rule(Method::GET, "/audit"), Access::NETWORK_ADMIN);
    assert_eq!(rule(Method::POST, "/api/v1/applications/{app}/environments/{env}/adopt"), Access::NETWORK_ADMIN);
    assert_eq!(rule(Method::GET, "/sign-in"), Access::Public);
    // The requester or a network admin: the service decides which (jobs.rs tests both).
    assert_eq!(rule(Method::POST, "/api/v1/submissions/{id}/retry"), Access::APP_TEAM);
    // The header links each section only for the roles its page lets in.
    for (href, _) in app::ui::layout::SECTIONS {
        assert_eq!(rule(Method::GET, href), Access::VIEWER, "{href} is linked for everyone signed in");
    }
    for (href, _, access) in app::ui::layout::RESTRICTED_SECTIONS {
        assert_eq!(rule(Method::GET, href), *access, "{href} is linked for the roles its rule lets in");
    }

    // A viewer reads the plan but no key material and changes nothing.
    let viewer = app.client_as(Role::Viewer, "").await;
    assert_eq!(viewer.get(app.at("/topology/hardware")).send().await.unwrap().status(), 200);
    let bundle = viewer.get(app.at("/api/v1/applications/api/bundle.yaml?environment=dev")).send().await.unwrap();
    assert_eq!(bundle.status(), 403);
    let body: Value = bundle.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(body["error"]["message"].as_str().unwrap().contains("your role (viewer) does not allow this"), "{body}");
    let retry = viewer.post(app.at("/api/v1/submissions/1/retry")).send().await.unwrap();
    assert_eq!(retry.status(), 403, "a viewer retries nothing");
    let page = viewer.get(app.at("/environments/new")).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("Ask an admin for another role"), "a friendly 403 page");

    // Anonymous visitors are sent to sign in, and come back where they were going.
    let page = app.anonymous().get(app.at("/pools?environment=dev")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/sign-in?return=/pools%3Fenvironment%3Ddev");
    let api = app.anonymous().get(app.at("/api/v1/environments")).send().await.unwrap();
    assert_eq!(api.status(), 401);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sign_in_required");
}

/// App teams change only applications inside their scopes, and download only their bundles.
async fn app_teams_change_only_applications_in_their_scopes(kind: DbKind) {
    let app = portal_without_demo_sign_in(kind).await;
    let (status, api) = app.get_json("/api/v1/applications/api").await;
    assert_eq!(status, 200);
    let ours = app.client_as(Role::AppTeam, "namespace:cd-service, namespace:cd-service-*").await;
    let theirs = app.client_as(Role::AppTeam, "namespace:billing, application:web").await;

    let put = |client: &reqwest::Client, body: &Value| {
        client.put(app.at("/api/v1/applications/api")).json(body).send()
    };
    // Another team's application is not there for them; their own namespace is.
    let refused = put(&theirs, &api).await.unwrap();
    assert_eq!(refused.status(), 404);
    assert_eq!(put(&ours, &api).await.unwrap().status(), 200);

    // Moving the application into another team's namespace is refused.
    let mut moved = api.clone();
    moved["namespace"] = json!("billing");
    let refused = put(&ours, &moved).await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "outside_your_scopes");
    assert!(body["error"]["message"].as_str().unwrap().contains("namespace:cd-service, namespace:cd-service-*"), "{body}");

    let bundle = |client: &reqwest::Client| client.get(app.at("/api/v1/applications/api/bundle.yaml?environment=dev")).send();
    assert_eq!(bundle(&theirs).await.unwrap().status(), 404, "another team's application is not there for them");
    assert_eq!(bundle(&ours).await.unwrap().status(), 200);
    assert_eq!(theirs.delete(app.at("/api/v1/applications/api")).send().await.unwrap().status(), 404);
    let (_, audit) = app.get_json("/api/v1/audit?action=application.update").await;
    let actors: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|entry| entry["actor"].as_str()).collect();
    assert_eq!(actors.len(), 1, "{audit}");
    assert!(actors[0].starts_with("app-team-") && actors[0].ends_with("(token:tests)"), "{actors:?}");
}

/// Sign-in always starts a new session id, whatever cookie the browser brought; the cookie
/// is HttpOnly and SameSite=Lax; sign-out ends one session, sign-out everywhere all of them.
async fn sign_in_starts_a_new_session_and_sign_out_ends_it(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let user = app.user(Role::Viewer, "").await;

    let response = app
        .anonymous()
        .post(app.at("/sign-in"))
        .header("origin", &app.url)
        .form(&[("name", user.name.as_str()), ("password", user.password.as_str()), ("return", "/checklist")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/checklist");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let first = session_cookie(&response).unwrap();

    let me = |cookie: &str| app.client_with_session(cookie).get(app.at("/api/v1/me")).send();
    let whoami: Value = me(&first).await.unwrap().json().await.unwrap();
    assert_eq!(whoami["name"], user.name.as_str());
    assert_eq!(whoami["via"], "session");

    // Signing in again with the old cookie (or one an attacker planted) gets a new id.
    let planted = "gatehouse-session=chosen-by-an-attacker";
    for brought in [first.as_str(), planted] {
        let response = app
            .client_with_session(brought)
            .post(app.at("/sign-in"))
            .form(&[("name", user.name.as_str()), ("password", user.password.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let new = session_cookie(&response).unwrap();
        assert_ne!(new, brought);
        assert_eq!(me(&new).await.unwrap().status(), 200);
    }
    assert_eq!(me(&first).await.unwrap().status(), 401, "the session the browser brought ended");
    assert_eq!(me(planted).await.unwrap().status(), 401);

    // Sign out ends this session; sign out everywhere ends every session of the user.
    let a = app.sign_in(&user.name, &user.password).await.unwrap();
    let b = app.sign_in(&user.name, &user.password).await.unwrap();
    let c = app.sign_in(&user.name, &user.password).await.unwrap();
    let out = app.client_with_session(&a).post(app.at("/sign-out")).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(me(&a).await.unwrap().status(), 401);
    assert_eq!(me(&b).await.unwrap().status(), 200);
    let everywhere = app.client_with_session(&b).post(app.at("/sign-out-everywhere")).send().await.unwrap();
    assert_eq!(everywhere.status(), 303);
    assert!(everywhere.headers()["location"].to_str().unwrap().starts_with("/sign-in?ended="));
    assert_eq!(me(&b).await.unwrap().status(), 401);
    assert_eq!(me(&c).await.unwrap().status(), 401);
}

/// A session ends after the idle timeout, and after the absolute one however active.
async fn sessions_expire_when_idle_and_after_their_absolute_limit(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let user = app.user(Role::NetworkAdmin, "").await;
    let id_of = |cookie: &str| backend::auth::secret_hash(cookie.trim_start_matches("gatehouse-session="));
    let age = |column: &'static str, seconds: i64, cookie: String| {
        let db = app.db.clone();
        let id_hash = id_of(&cookie);
        async move {
            sqlx::query(&format!("UPDATE sessions SET {column} = {column} - $1 WHERE id_hash = $2"))
                .bind(seconds)
                .bind(id_hash)
                .execute(db.pool())
                .await
                .unwrap();
        }
    };

    let idle = app.sign_in(&user.name, &user.password).await.unwrap();
    let page = |cookie: &str| app.client_with_session(cookie).get(app.at("/environments")).send();
    assert_eq!(page(&idle).await.unwrap().status(), 200);
    // Inside by 20 s: timestamps are whole seconds, and a loaded machine takes a while
    // between the request that stamped `last_seen` and the next one.
    age("last_seen", 1780, idle.clone()).await;
    assert_eq!(page(&idle).await.unwrap().status(), 200, "inside the idle timeout (1800 s)");
    age("last_seen", 1800, idle.clone()).await;
    let expired = page(&idle).await.unwrap();
    assert_eq!(expired.status(), 303, "idle too long: sign in again");
    assert!(expired.headers()["location"].to_str().unwrap().starts_with("/sign-in?return=/environments"));

    let old = app.sign_in(&user.name, &user.password).await.unwrap();
    age("created_at", 43_200, old.clone()).await;
    assert_eq!(page(&old).await.unwrap().status(), 303, "signed in 12 hours ago: the absolute limit");
    let rows = sqlx::query("SELECT id_hash FROM sessions").fetch_all(app.db.pool()).await.unwrap();
    assert!(rows.is_empty(), "expired sessions are deleted");
}

/// A wrong password is refused with a clear message; too many lock the account (and say
/// for how long) until the lockout ends.
async fn wrong_passwords_lock_the_account_until_the_lockout_ends(kind: DbKind) {
    let clock = Arc::new(ManualClock::starting_now());
    let shared: SharedClock = clock.clone();
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.sign_in_attempts = 3;
        config.sign_in_lockout_secs = 2;
        config.clock = Some(shared);
    })
    .await;
    let user = app.user(Role::Viewer, "").await;
    for _ in 0..3 {
        let refused = app.sign_in(&user.name, "not the password").await.unwrap_err();
        assert_eq!(refused.status(), 401);
        let html = refused.text().await.unwrap();
        assert!(html.contains("The user name or password is wrong"), "{html}");
        assert!(html.contains(&format!("value=\"{}\"", user.name)), "the name stays filled in");
    }
    let locked = app.sign_in(&user.name, &user.password).await.unwrap_err();
    assert_eq!(locked.status(), 429, "locked, even with the right password");
    assert_eq!(locked.headers()["retry-after"], "2");
    assert!(locked.text().await.unwrap().contains("Too many failed sign-ins for this account. Try again in 2 seconds."));
    // The same limits guard the API's basic credentials.
    let basic = app.anonymous().post(app.at("/api/v1/tokens")).basic_auth(&user.name, Some(&user.password)).json(&json!({"name": "ci"})).send().await.unwrap();
    assert_eq!(basic.status(), 429);
    // Another account is not locked.
    assert!(app.sign_in("admin", ADMIN_PASSWORD).await.is_ok());

    clock.advance(std::time::Duration::from_millis(1900));
    assert_eq!(app.sign_in(&user.name, &user.password).await.unwrap_err().status(), 429, "still locked just before its end");
    clock.advance(std::time::Duration::from_millis(200));
    assert!(app.sign_in(&user.name, &user.password).await.is_ok(), "the lockout has ended");
}

/// Tokens: made with basic credentials (shown once), listed without the secret, never above
/// the user's role, revocable; a revoked token or one of a disabled user stops working.
async fn api_tokens_are_scoped_shown_once_and_revocable(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let user = app.user(Role::NetworkAdmin, "").await;
    let create = |body: Value| {
        app.anonymous().post(app.at("/api/v1/tokens")).basic_auth(&user.name, Some(&user.password)).json(&body).send()
    };
    let created = create(json!({"name": "ci", "role": "viewer"})).await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ghp_"));
    assert_eq!(created["role"], "viewer");

    let too_high = create(json!({"name": "root", "role": "admin"})).await.unwrap();
    assert_eq!(too_high.status(), 422);
    let body: Value = too_high.json().await.unwrap();
    assert_eq!(body["error"]["code"], "role_above_yours");
    assert_eq!(body["error"]["field"], "role");
    assert_eq!(create(json!({"name": "ci"})).await.unwrap().status(), 409, "one live token per name");
    let wrong = app.anonymous().post(app.at("/api/v1/tokens")).basic_auth(&user.name, Some("wrong")).json(&json!({"name": "x"})).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let elsewhere = app.anonymous().get(app.at("/api/v1/environments")).basic_auth(&user.name, Some(&user.password)).send().await.unwrap();
    assert_eq!(elsewhere.status(), 401, "basic credentials make tokens only");

    let bearer = reqwest::Client::new();
    let with_token = |method: Method, path: &str| bearer.request(method, app.at(path)).bearer_auth(&token);
    assert_eq!(with_token(Method::GET, "/api/v1/environments").send().await.unwrap().status(), 200);
    let refused = with_token(Method::DELETE, "/api/v1/environments/dev").send().await.unwrap();
    assert_eq!(refused.status(), 403, "the token's role (viewer) is below the user's");

    let listed: Value = with_token(Method::GET, "/api/v1/tokens").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("token").is_none() && !listed.to_string().contains(&token), "{listed}");
    let id = listed[0]["id"].as_i64().unwrap();

    assert_eq!(with_token(Method::DELETE, &format!("/api/v1/tokens/{id}")).send().await.unwrap().status(), 204);
    let revoked = with_token(Method::GET, "/api/v1/environments").send().await.unwrap();
    assert_eq!(revoked.status(), 401);
    let body: Value = revoked.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_token");

    // Disabling the user stops their tokens and sessions.
    let second: Value = create(json!({"name": "ci"})).await.unwrap().json().await.unwrap();
    let second = second["token"].as_str().unwrap().to_owned();
    let (status, _) = app.send_json(Method::PUT, &format!("/api/v1/users/{}", user.name), &json!({"disabled": true})).await;
    assert_eq!(status, 200);
    assert_eq!(bearer.get(app.at("/api/v1/me")).bearer_auth(&second).send().await.unwrap().status(), 401);
    assert!(app.sign_in(&user.name, &user.password).await.is_err());
}

/// Admins manage users; every change is in the audit log without the password; the last
/// admin cannot be demoted; only admins reach the users page.
async fn admins_manage_users_and_every_change_is_audited(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let (status, created) = app
        .post_json("/api/v1/users", &json!({"name": "ana", "password": "a long enough passphrase", "role": "app_team", "scopes": "namespace:cd-service"}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["role"], "app_team");
    assert_eq!(created["scopes"], "namespace:cd-service");
    let (status, body) = app.post_json("/api/v1/users", &json!({"name": "Bad Name", "password": "short", "role": "root"})).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["name", "password", "role"]);
    let (status, _) = app.post_json("/api/v1/users", &json!({"name": "ana", "password": "another passphrase", "role": "viewer"})).await;
    assert_eq!(status, 409);

    let (status, body) = app.send_json(Method::PUT, "/api/v1/users/admin", &json!({"role": "viewer"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("last active admin"));

    let (status, _) = app
        .send_json(Method::PUT, "/api/v1/users/ana", &json!({"role": "network_admin", "password": "a brand new passphrase"}))
        .await;
    assert_eq!(status, 200);
    assert!(app.sign_in("ana", "a long enough passphrase").await.is_err());
    let ana = app.sign_in("ana", "a brand new passphrase").await.unwrap();
    let page = app.client_with_session(&ana).get(app.at("/users")).send().await.unwrap();
    assert_eq!(page.status(), 403, "network admins do not manage users");
    let admin = app.sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let page = app.client_with_session(&admin).get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-user=\"ana\""), "{page}");

    let (_, entries) = app.get_json("/api/v1/audit?object=user/ana").await;
    let actions: Vec<&str> = entries.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["user.password_reset", "user.update", "user.create"], "newest first");
    let update = &entries[1];
    assert_eq!(update["actor"], crate::harness::ADMIN_ACTOR);
    assert_eq!(update["before"]["role"], "app_team");
    assert_eq!(update["after"]["role"], "network_admin");
    assert!(!entries.to_string().contains("passphrase") && !entries.to_string().contains("argon2"), "{entries}");
}

/// The audit page filters and exports; the database refuses to change or delete entries.
async fn the_audit_log_is_filterable_exportable_and_append_only(kind: DbKind) {
    let app = portal_without_demo_sign_in(kind).await;
    let user = app.user(Role::NetworkAdmin, "").await;
    let session = app.sign_in(&user.name, &user.password).await.unwrap();
    let browser = app.client_with_session(&session);
    let (_, dev) = app.get_json("/api/v1/environments/dev").await;
    let mut changed = dev.clone();
    changed["protected"] = json!(true);
    let saved = browser.put(app.at("/api/v1/environments/dev")).json(&changed).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let (_, entries) = app.get_json(&format!("/api/v1/audit?actor={}", user.name)).await;
    let entries = entries.as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], user.name.as_str(), "the signed-in user, not a placeholder");
    assert_eq!(entries[0]["object"], "environment/dev");
    assert_eq!(entries[0]["before"]["protected"], json!(false));
    assert_eq!(entries[0]["after"]["protected"], json!(true));
    let (status, body) = app.get_json("/api/v1/audit?from=tomorrow").await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "from");
    let (_, today) = app.get_json("/api/v1/audit?action=user.create&to=2000-01-01").await;
    assert_eq!(today, json!([]));

    let csv = app.get("/api/v1/audit.csv?action=user.create").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("id,at,actor,action,object,before,after\r\n"), "{text}");
    assert!(text.contains(&format!("user/{}", user.name)));
    let page = browser.get(app.at("/audit?action=user.create")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("user/{}", user.name)) && page.contains("href=\"/audit.csv?action=user.create\""), "{page}");

    for statement in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"] {
        let error = sqlx::query(statement).execute(app.db.pool()).await.expect_err("the database refuses");
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    let (_, after) = app.get_json("/api/v1/audit").await;
    assert!(after.as_array().unwrap().len() >= entries.len());
}

/// Writes carried by a browser's cookie must come from the portal's own pages; bearer
/// tokens are not ambient and are exempt.
async fn cross_site_writes_are_refused(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let user = app.user(Role::NetworkAdmin, "").await;
    let cookie = app.sign_in(&user.name, &user.password).await.unwrap();
    let body = json!({"name": "staging"});
    let post = |headers: &[(&str, &str)]| {
        let mut request = app.anonymous().post(app.at("/api/v1/environments")).header("cookie", &cookie).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("sec-fetch-site", "cross-site"), ("origin", app.url.as_str())],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let refused = post(&headers).await.unwrap();
        assert_eq!(refused.status(), 403, "{headers:?}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "cross_site_request", "{headers:?}");
    }
    let same_origin = post(&[("origin", app.url.as_str()), ("sec-fetch-site", "same-origin")]).await.unwrap();
    assert_eq!(same_origin.status(), 422, "past the check, the body is judged");
    let not_a_browser = post(&[]).await.unwrap();
    assert_eq!(not_a_browser.status(), 422, "neither header: not a browser, so no forged cookie");

    // Forms and server functions too, and the sign-in form itself (login CSRF).
    let form = app.anonymous().post(app.at("/sign-out-everywhere")).header("cookie", &cookie).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(form.status(), 403);
    let server_fn = app.rules.iter().find(|rule| rule.surface == Surface::ServerFn && rule.path.contains("delete_environment")).unwrap();
    let call = app.anonymous().post(app.at(&server_fn.path)).header("cookie", &cookie).header("origin", "http://evil.example").form(&[("name", "dev")]).send().await.unwrap();
    assert_eq!(call.status(), 403);
    let login = app.anonymous().post(app.at("/sign-in")).header("origin", "http://evil.example").form(&[("name", "admin"), ("password", ADMIN_PASSWORD)]).send().await.unwrap();
    assert_eq!(login.status(), 403);
    assert!(session_cookie(&login).is_none());

    let token = app.client.post(app.at("/api/v1/environments")).header("origin", "http://evil.example").json(&body).send().await.unwrap();
    assert_eq!(token.status(), 422, "a bearer token is exempt");
}

/// Passwords, session ids and tokens are never in the database in the clear.
async fn secrets_are_never_stored_in_the_clear(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let user = app.user(Role::AppTeam, "namespace:cd-service").await;
    let session = app.sign_in(&user.name, &user.password).await.unwrap();
    let session_id = session.trim_start_matches("gatehouse-session=").to_owned();
    let token = basic_auth_token(&app.anonymous(), &app.url, &user.name, &user.password, "ci").await;
    let secrets = [user.password.as_str(), ADMIN_PASSWORD, session_id.as_str(), token.as_str(), &app.admin_token];

    let mut stored = String::new();
    for table in ["users", "sessions", "api_tokens", "audit_log"] {
        let sql = match kind {
            DbKind::Postgres => format!("SELECT t::text AS row_text FROM {table} t"),
            DbKind::Sqlite => format!("SELECT * FROM {table}"),
        };
        let rows = sqlx::query(&sql).fetch_all(app.db.pool()).await.unwrap();
        for row in rows {
            use sqlx::{Column, Row};
            for column in row.columns() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(column.ordinal()) {
                    stored.push_str(&text);
                    stored.push('\n');
                }
            }
        }
    }
    assert!(stored.contains("$argon2id$"), "password hashes are stored");
    for secret in secrets {
        assert!(!stored.contains(secret), "a secret is stored in the clear");
    }
    if kind == DbKind::Sqlite {
        let path = app.database.url.trim_start_matches("sqlite://").to_owned();
        for file in [path.clone(), format!("{path}-wal")] {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            for secret in secrets {
                assert!(!bytes.windows(secret.len()).any(|window| window == secret.as_bytes()), "{file} holds a secret");
            }
        }
    }
}

crate::on_both_databases!(
    every_route_answers_each_role_as_its_rule_says,
    roles_see_what_they_may,
    app_teams_change_only_applications_in_their_scopes,
    sign_in_starts_a_new_session_and_sign_out_ends_it,
    sessions_expire_when_idle_and_after_their_absolute_limit,
    wrong_passwords_lock_the_account_until_the_lockout_ends,
    api_tokens_are_scoped_shown_once_and_revocable,
    admins_manage_users_and_every_change_is_audited,
    the_audit_log_is_filterable_exportable_and_append_only,
    cross_site_writes_are_refused,
    secrets_are_never_stored_in_the_clear,
);

/// The real binary, with debug logs: a password given in the environment, the ones typed
/// at sign-in, session ids and tokens never appear in its output.
#[test]
fn secrets_never_reach_the_log() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let admin_password = "the admin password in the environment";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("gatehouse.db").display()))
        .env("GATEHOUSE_ADMIN_PASSWORD", admin_password)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // Drain both pipes while the portal runs, so debug logging never blocks it.
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let readers: Vec<_> = [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        .into_iter()
        .map(|pipe| {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = lines.send(line);
                }
            })
        })
        .collect();
    drop(lines);
    let mut seen = String::new();
    let url = loop {
        let line = received.recv_timeout(std::time::Duration::from_secs(30)).expect("a 'listening' line in time");
        seen.push_str(&line);
        seen.push('\n');
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && let Some(url) = entry["url"].as_str()
        {
            break url.to_owned();
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (session, token) = runtime.block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let wrong = client.post(format!("{url}/sign-in")).header("origin", &url).form(&[("name", "admin"), ("password", "a wrong password typed")]).send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let signed_in = client.post(format!("{url}/sign-in")).header("origin", &url).form(&[("name", "admin"), ("password", admin_password)]).send().await.unwrap();
        let session = session_cookie(&signed_in).expect("signed in");
        let token = basic_auth_token(&client, &url, "admin", admin_password, "ci").await;
        let me = client.get(format!("{url}/api/v1/me")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(me.status(), 200);
        let me = client.get(format!("{url}/api/v1/me")).header("cookie", &session).send().await.unwrap();
        assert_eq!(me.status(), 200);
        (session.trim_start_matches("gatehouse-session=").to_owned(), token)
    });
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    let log: String = seen + &received.iter().collect::<Vec<_>>().join("\n");
    assert!(log.contains("failed sign-in") && log.contains("signed in"), "the log records sign-ins: {log}");
    for secret in [admin_password, "a wrong password typed", session.as_str(), token.as_str()] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
}
