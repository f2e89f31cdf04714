//! Tenancy: an app team reaches only the applications of its namespaces — in every placement
//! — through every route, no application goes to a reserved namespace, and scopes name
//! namespaces (stored bare scopes are rewritten at start).
use leptos::server_fn::ServerFn;
use reqwest::Client;
use serde_json::{Value, json};

use crate::{
    harness::{DbKind, FreshDatabase, TestApp},
    on_both_databases,
};
use domain::access::Role;

const CD_SERVICE: &str = "namespace:cd-service, namespace:cd-service-*";

async fn portal(database: FreshDatabase) -> TestApp {
    TestApp::spawn_with(database, |config| {
        config.demo = true;
        config.demo_sign_in = false;
        config.reserved_namespaces = vec![domain::access::NamespacePattern::parse("legacy-*").unwrap()];
    })
    .await
}

async fn status(client: &Client, app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client.request(method, app.at(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the portal answers");
    let code = response.status().as_u16();
    (code, response.json().await.unwrap_or(Value::Null))
}

fn shop(namespace: &str) -> Value {
    json!({
        "name": format!("shop-{namespace}"), "namespace": namespace, "image": "registry.example/shop:1.0.0",
        "replicas": 1, "port": 8080,
        "environments": {"dev": {"hostnames": [format!("{namespace}.dev.example")], "paths": ["/"], "certificate": format!("{namespace}-tls")}}
    })
}

/// A network admin uploads dev's certificate for `shop(namespace)`.
pub(crate) async fn certificate_for(app: &TestApp, namespace: &str) {
    use backend::certificates::testing::{Encoding, TestKey, Validity, self_signed};
    let key = TestKey::p256();
    let host = format!("{namespace}.dev.example");
    let body = json!({
        "name": format!("{namespace}-tls"),
        "certificate_pem": self_signed(&[host.as_str()], &key, Validity::YEAR),
        "private_key_pem": key.pem(Encoding::Pkcs8),
        "owners": [namespace, format!("{namespace}-*")],
    });
    let (code, answer) = app.post_json("/api/v1/environments/dev/certificates", &body).await;
    assert_eq!(code, 201, "{answer}");
}

/// Another team's application is not there for an app team — not in the list, not by name,
/// not its checklist, bundle, preview, submissions or teardown — while its own team reaches it.
async fn an_app_team_reaches_only_applications_in_its_namespaces(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    let ours = app.client_as(Role::AppTeam, CD_SERVICE).await;
    let theirs = app.client_as(Role::AppTeam, "namespace:team-x, namespace:team-x-*").await;
    let (_, submitted) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev", "dry_run": true})).await;
    let id = submitted["id"].as_i64().expect("a submission id");

    let (_, listed) = status(&ours, &app, reqwest::Method::GET, "/api/v1/applications", None).await;
    assert!(listed.as_array().unwrap().iter().any(|a| a["name"] == "api"), "{listed}");
    let (_, listed) = status(&theirs, &app, reqwest::Method::GET, "/api/v1/applications", None).await;
    assert_eq!(listed, json!([]), "another team's applications are not listed");

    use reqwest::Method as M;
    let routes: [(M, String, Option<Value>); 9] = [
        (M::GET, "/api/v1/applications/api".into(), None),
        (M::GET, "/api/v1/applications/api/checklist".into(), None),
        (M::GET, "/api/v1/applications/api/bundle.yaml?environment=dev".into(), None),
        (M::GET, "/api/v1/applications/api/preview?environment=dev".into(), None),
        (M::GET, "/api/v1/applications/api/submissions".into(), None),
        (M::GET, format!("/api/v1/submissions/{id}"), None),
        (M::POST, "/api/v1/applications/api/submissions".into(), Some(json!({"environment": "dev", "dry_run": true}))),
        (M::DELETE, "/api/v1/applications/api/environments/dev".into(), None),
        (M::DELETE, "/api/v1/applications/api".into(), None),
    ];
    for (method, path, body) in routes.iter().cloned() {
        let (code, answer) = status(&theirs, &app, method.clone(), &path, body).await;
        assert_eq!(code, 404, "{method} {path} from another team: {answer}");
        assert!(!answer.to_string().contains("PRIVATE KEY"));
    }
    for (method, path, body) in routes.into_iter().filter(|(m, p, _)| *m == M::GET || p.ends_with("/submissions")) {
        let (code, answer) = status(&ours, &app, method.clone(), &path, body).await;
        assert!(code == 200 || code == 202, "{method} {path} from its own team: {code} {answer}");
    }
}

/// A team works only where every placement of its application is inside its scopes: the
/// namespace it names, and the namespace each environment's template puts it in.
async fn every_placement_must_be_inside_the_scopes(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    let whole = app.client_as(Role::AppTeam, "namespace:team-x, namespace:team-x-*").await;
    certificate_for(&app, "team-x").await;
    let (code, body) = status(&whole, &app, reqwest::Method::POST, "/api/v1/applications", Some(shop("team-x"))).await;
    assert_eq!(code, 201, "{body}");

    // Scoped to team-x alone, dev's `{namespace}-dev` puts the application outside it.
    let half = app.client_as(Role::AppTeam, "namespace:team-x").await;
    let mut other = shop("team-x");
    other["name"] = json!("other");
    let (code, body) = status(&half, &app, reqwest::Method::POST, "/api/v1/applications", Some(other)).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"]["code"], "outside_your_scopes");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"team-x-dev\" (where dev puts it)") && message.contains("namespace:team-x"), "{message}");

    // Nor can a team reach into a namespace it does not own, reserved or not.
    for namespace in ["kube-system", "cd-service"] {
        let (code, body) = status(&whole, &app, reqwest::Method::POST, "/api/v1/applications", Some(shop(namespace))).await;
        assert_eq!((code, body["error"]["code"].as_str()), (403, Some("outside_your_scopes")), "{namespace}: {body}");
    }
    // Application scopes narrow within the namespace scopes.
    let narrow = app.client_as(Role::AppTeam, "namespace:team-x, namespace:team-x-*, application:other").await;
    let (code, _) = status(&narrow, &app, reqwest::Method::GET, "/api/v1/applications/shop-team-x", None).await;
    assert_eq!(code, 404);
}

/// No application goes to a reserved namespace — Kubernetes', Cilium's, `default`,
/// Gatehouse's own or the deny-list's — not even a network admin's, and not through an
/// environment's template changed after the application was saved.
async fn applications_never_go_to_reserved_namespaces(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    for (namespace, why) in [
        ("kube-system", "Kubernetes' own namespaces"),
        ("default", "(default)"),
        ("cilium-secrets", "Cilium's namespaces"),
        ("gatehouse", "Gatehouse's own namespace"),
        ("legacy-billing", "--reserved-namespaces deny-list (legacy-*)"),
    ] {
        let (code, body) = app.post_json("/api/v1/applications", &shop(namespace)).await;
        assert_eq!(code, 422, "{namespace}: {body}");
        let error = &body["errors"].as_array().and_then(|e| e.first().cloned()).unwrap_or(body["error"].clone());
        assert_eq!(error["code"], "reserved_namespace", "{body}");
        assert_eq!(error["field"], "namespace", "{body}");
        assert!(error["message"].as_str().unwrap().contains(why), "{namespace}: {body}");
    }

    // dev's template now puts every application into kube-*: submissions there are refused.
    let (_, mut dev) = app.get_json("/api/v1/environments/dev").await;
    dev["namespace_template"] = json!("kube-{namespace}");
    let (code, body) = app.send_json(reqwest::Method::PUT, "/api/v1/environments/dev", &dev).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev"})).await;
    assert_eq!(code, 422, "{body}");
    assert!(body.to_string().contains("reserved_namespace") && body.to_string().contains("kube-cd-service"), "{body}");
}

/// Scopes say what they name; users stored with bare scopes before keep their access as
/// `namespace:` scopes after a restart, and an application-only scope gains its namespace.
async fn scopes_name_namespaces_and_old_ones_are_rewritten_at_start(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    for (scopes, expected) in [("billing", "write namespace:billing"), ("application:api", "only narrow a namespace: scope")] {
        let user = json!({"name": "team", "password": "a long enough password", "role": "app_team", "scopes": scopes});
        let (code, body) = app.post_json("/api/v1/users", &user).await;
        assert_eq!(code, 422, "{body}");
        assert!(body.to_string().contains("invalid_scope") && body.to_string().contains(expected), "{body}");
    }
    let bare = app.user(Role::AppTeam, "namespace:x").await;
    let narrow = app.user(Role::AppTeam, "namespace:x").await;
    for (user, stored) in [(&bare, "cd-service cd-service-dev"), (&narrow, "application:api")] {
        sqlx::query("UPDATE users SET scopes = $1 WHERE name = $2").bind(stored).bind(&user.name).execute(app.db.pool()).await.unwrap();
    }
    let database = app.stop().await;
    let app = portal(database).await;
    let (_, users) = app.get_json("/api/v1/users").await;
    let scopes = |name: &str| users.as_array().unwrap().iter().find(|u| u["name"] == name).map(|u| u["scopes"].clone());
    assert_eq!(scopes(&bare.name), Some(json!("namespace:cd-service, namespace:cd-service-dev")));
    assert_eq!(scopes(&narrow.name), Some(json!("application:api, namespace:cd-service")));
    let (_, audit) = app.get_json("/api/v1/audit?action=user.scopes_migrated").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(2), "{audit}");
    // The rewritten scopes still reach what they reached.
    let session = app.sign_in(&bare.name, &bare.password).await.expect("signs in");
    let (code, _) = status(&app.client_with_session(&session), &app, reqwest::Method::GET, "/api/v1/applications/api", None).await;
    assert_eq!(code, 200);
}

/// The scope dimension of the route matrix: every registered page and /api/v1 route about one
/// application or submission, and every server function that takes one, called by a team
/// whose namespaces hold the application and by a team whose namespaces do not. Routes come
/// from the router, so a route added later is in this test.
async fn every_route_about_an_application_keeps_other_teams_out(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    let inside = app.client_as(Role::AppTeam, CD_SERVICE).await;
    let outside = app.client_as(Role::AppTeam, "namespace:team-x, namespace:team-x-*").await;
    let (_, submitted) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev", "dry_run": true})).await;
    let id = submitted["id"].as_i64().expect("a submission id").to_string();
    let (_, api) = app.get_json("/api/v1/applications/api").await;
    let image = api["image"].as_str().expect("the image").to_owned();

    let about_one = |path: &str| path.contains("{app}") || path.starts_with("/applications/{name}") || path.contains("/submissions/{id}");
    let rules: Vec<_> = app.rules.iter().filter(|rule| about_one(&rule.path)).collect();
    assert!(rules.len() >= 10, "only {} routes about one application", rules.len());
    let mut wrong = Vec::new();
    for rule in rules {
        let path = rule.path.replace("{app}", "api").replace("{name}", "api").replace("{env}", "dev").replace("{id}", &id);
        let query = if path.contains('?') { "" } else { "?environment=dev" };
        let url = app.at(&format!("{path}{query}"));
        let body = match (&rule.method, rule.path.as_str()) {
            (&reqwest::Method::PUT, _) => api.clone(),
            (_, path) if path.ends_with("/reject") => json!({"reason": "no"}),
            (_, path) if path.ends_with("/approve") => json!({}),
            (_, path) if path.ends_with("/verifications/reports") => json!({"reporter": "client (192.0.2.1)", "checks": []}),
            _ => json!({"environment": "dev", "dry_run": true}),
        };
        let call = |client: &Client| {
            let request = client.request(rule.method.clone(), &url);
            if rule.method == reqwest::Method::GET { request } else { request.json(&body) }
        };
        let response = call(&outside).send().await.expect("the route answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !(status == 403 || status == 404) || text.contains(&image) || text.contains("PRIVATE KEY") {
            wrong.push(format!("{} {} from outside: {status}", rule.method, rule.path));
        }
        if rule.method == reqwest::Method::GET && !rule.path.contains("approve") {
            let status = call(&inside).send().await.expect("the route answers").status();
            if !status.is_success() {
                wrong.push(format!("{} {} from inside: {status}", rule.method, rule.path));
            }
        }
    }

    // Server functions, called as the pages call them.
    use app::api::{applications as forms, cluster};
    let dev = [("application", "api"), ("environment", "dev")];
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (forms::GetApplication::PATH, vec![("name", "api")]),
        (cluster::GetApplicationGlance::PATH, vec![("name", "api")]),
        (forms::PreviewApplication::PATH, dev.to_vec()),
        (cluster::SubmitToCluster::PATH, vec![("application", "api"), ("environment", "dev"), ("dry_run", "true")]),
        (cluster::TearDown::PATH, dev.to_vec()),
        (cluster::GetSubmissionProgress::PATH, vec![("id", id.as_str())]),
    ];
    for (path, form) in calls {
        let response = outside.post(app.at(path)).form(&form).send().await.expect("the server function answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !(status == 403 || status == 404) || text.contains(&image) {
            wrong.push(format!("server function {path} from outside: {status} {text}"));
        }
        if path == forms::GetApplication::PATH || path == cluster::GetApplicationGlance::PATH {
            let status = inside.post(app.at(path)).form(&form).send().await.expect("answers").status();
            if !status.is_success() {
                wrong.push(format!("server function {path} from inside: {status}"));
            }
        }
    }
    let mut moved = api.clone();
    moved["namespace"] = json!("team-x");
    let save = outside
        .post(app.at(forms::SaveApplication::PATH))
        .json(&json!({"input": moved, "create": false}))
        .send()
        .await
        .expect("answers");
    if !(save.status() == 403 || save.status() == 404) {
        wrong.push(format!("save_application of another team's application: {}", save.status()));
    }
    let (_, still) = app.get_json("/api/v1/applications/api").await;
    assert_eq!(still, api, "nothing changed");
    assert!(wrong.is_empty(), "{} answers reach across teams:\n{}", wrong.len(), wrong.join("\n"));
}


/// `GET /api/v1/applications` pages by name with a `Link` to the next page, filters by
/// namespace and environment, and pages only what the caller may read.
async fn the_applications_list_pages_and_filters(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    for (name, namespace) in [("a1", "team-x"), ("a2", "team-y"), ("a3", "team-x"), ("a4", "team-x"), ("a5", "team-y")] {
        let body = json!({"name": name, "namespace": namespace, "image": "registry.example/a:1", "replicas": 1, "port": 8080, "environments": {}});
        let (code, answer) = app.post_json("/api/v1/applications", &body).await;
        assert_eq!(code, 201, "{answer}");
    }
    let names = |page: &Value| page.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/applications?limit=2".to_owned());
    while let Some(path) = next.take() {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        next = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link.trim_start_matches('<').split('>').next().unwrap().to_owned()
        });
        let page: Value = response.json().await.unwrap();
        assert!(page.as_array().unwrap().len() <= 2);
        seen.extend(names(&page));
    }
    assert_eq!(seen, ["a1", "a2", "a3", "a4", "a5", "api"], "every application once, by name");

    let (_, team_x) = app.get_json("/api/v1/applications?namespace=team-x").await;
    assert_eq!(names(&team_x), ["a1", "a3", "a4"]);
    let (_, in_prod) = app.get_json("/api/v1/applications?environment=prod").await;
    assert_eq!(names(&in_prod), ["api"]);
    let (code, body) = app.get_json("/api/v1/applications?limit=0").await;
    assert_eq!((code, body["error"]["code"].as_str(), body["error"]["field"].as_str()), (422, Some("invalid_limit"), Some("limit")));

    let team = app.client_as(Role::AppTeam, "namespace:team-y").await;
    let (_, page) = status(&team, &app, reqwest::Method::GET, "/api/v1/applications?limit=1", None).await;
    assert_eq!(names(&page), ["a2"]);
    let (_, page) = status(&team, &app, reqwest::Method::GET, "/api/v1/applications?limit=1&after=a2", None).await;
    assert_eq!(names(&page), ["a5"]);
}

/// `/applications/{name}` shows one application — its workload and each environment — to
/// those who may read it, and is not found (the portal's 404 page) for an unknown name and for
/// a team whose namespaces do not hold it.
async fn an_application_page_shows_it_to_those_who_may_read_it(kind: DbKind) {
    let app = portal(FreshDatabase::new(kind).await).await;
    let (_, api) = app.get_json("/api/v1/applications/api").await;
    let image = api["image"].as_str().expect("the image").to_owned();

    let response = app.get("/applications/api").await;
    let code = response.status();
    let html = response.text().await.unwrap();
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("Application api"), "the heading names it");
    assert!(html.contains(&image), "the image is on the page");
    for environment in ["dev", "prod"] {
        assert!(html.contains(&format!("data-glance=\"{environment}\"")), "{environment} has its card");
        assert!(html.contains(&format!("Environment {environment}")), "{environment} is named");
        assert!(html.contains(&format!("data-environment=\"{environment}\"")), "{environment} has its submission panel");
    }
    assert!(html.contains("href=\"/applications/api/edit\""), "it links to the form");
    assert!(html.contains("href=\"/topology/applications/api\""), "it links to its topology");

    let listed = app.get("/applications").await.text().await.unwrap();
    assert!(listed.contains("href=\"/applications/api\""), "the list links to the page");

    let response = app.get("/applications/nope").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));

    let outside = app.client_as(Role::AppTeam, "namespace:team-x, namespace:team-x-*").await;
    let response = outside.get(app.at("/applications/api")).send().await.expect("the page answers");
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found") && !html.contains(&image), "nothing of it shows");

    let inside = app.client_as(Role::AppTeam, CD_SERVICE).await;
    let response = inside.get(app.at("/applications/api")).send().await.expect("the page answers");
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Application api"));
}

on_both_databases!(
    an_application_page_shows_it_to_those_who_may_read_it,
    the_applications_list_pages_and_filters,
    every_route_about_an_application_keeps_other_teams_out,
    an_app_team_reaches_only_applications_in_its_namespaces,
    every_placement_must_be_inside_the_scopes,
    applications_never_go_to_reserved_namespaces,
    scopes_name_namespaces_and_old_ones_are_rewritten_at_start,
);
