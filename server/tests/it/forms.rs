//! The application form's server functions and pages, the preview page and the VIP status
//! page: an app team saves through the same validation, plan guard and audit as
//! `/api/v1/applications`, within its scopes; the pages render from the simulated cluster.
use domain::access::Role;
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};

use crate::{
    cluster::{settled, submit},
    harness::{DbKind, TestApp},
    on_both_databases,
};

/// The demo's dev pool is 192.168.101.192/28. The shop's certificate is not uploaded yet (a
/// readiness finding: it blocks submitting, not saving).
fn shop(dev_hostname: &str, dev_vip: &str) -> Value {
    json!({
        "name": "shop", "namespace": "shop", "image": "registry.example/shop:2.0.1",
        "replicas": "2", "port": "8080", "readiness_path": "/ready", "liveness_path": "/live",
        "environments": {"dev": {"hostnames": [dev_hostname], "paths": ["/"], "config": {"MODE": "dev"},
                                  "certificate": "shop-tls", "vip": dev_vip}}
    })
}

/// Calls `save_application` as the browser does; answers the status and the JSON body.
async fn save(client: &reqwest::Client, app: &TestApp, input: Value, create: bool) -> (u16, Value) {
    let response = client
        .post(app.at(app::api::applications::SaveApplication::PATH))
        .header("accept", "application/json")
        .json(&json!({"input": input, "create": create}))
        .send()
        .await
        .expect("the server function answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn app_team_saves_through_the_form_within_its_scopes(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let client = app.client_as(Role::AppTeam, "namespace:shop, namespace:shop-*").await;

    // Fields that do not parse come back one by one, each with its path.
    let mut bad = shop("not a hostname", "auto");
    bad["port"] = json!("80800");
    let (status, body) = save(&client, &app, bad, true).await;
    assert_eq!(status, 422, "a mistake is answered as one, not as a server fault: {body}");
    let fields: Vec<&str> = body["Fields"].as_array().expect("field errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["port", "environments.dev.hostnames[0]"], "{body}");

    // A hostname prod already routes and a VIP outside dev's pool: the checklist refuses it.
    let (_, body) = save(&client, &app, shop("api.mdhlabs.com", "192.168.101.100"), true).await;
    let rules: Vec<&str> = body["Rejected"].as_array().expect("findings").iter().filter_map(|f| f["rule"].as_str()).collect();
    assert!(rules.contains(&"GH-HOSTNAME-DISTINCT") && rules.contains(&"GH-VIP-OUTSIDE-POOL"), "{body}");
    assert_eq!(app.get_json("/api/v1/applications/shop").await.0, 404, "nothing was saved");

    // Outside the team's scopes: refused, whether created there or moved there.
    let mut theirs = shop("shop-dev.mdhlabs.com", "auto");
    theirs["namespace"] = json!("cd-service");
    let (_, body) = save(&client, &app, theirs, true).await;
    assert!(body["Forbidden"].as_str().is_some_and(|m| m.contains("outside your scopes")), "{body}");

    // Another team's certificate (the demo's api-tls belongs to cd-service-dev): refused on
    // its field, naming the certificate and its owners.
    let mut borrowed = shop("shop-dev.mdhlabs.com", "auto");
    borrowed["environments"]["dev"]["certificate"] = json!("api-tls");
    let (_, body) = save(&client, &app, borrowed, true).await;
    let refusal = &body["Fields"][0];
    assert_eq!((refusal["field"].as_str(), refusal["code"].as_str()), (Some("environments.dev.certificate"), Some("certificate_not_allowed")), "{body}");
    assert!(refusal["message"].as_str().is_some_and(|m| m.contains("api-tls") && m.contains("cd-service-dev")), "{body}");
    assert_eq!(app.get_json("/api/v1/applications/shop").await.0, 404, "nothing was saved");

    // Fixed: saved, with the team's name in the audit log.
    let (status, body) = save(&client, &app, shop("shop-dev.mdhlabs.com", "192.168.101.200"), true).await;
    assert_eq!((status, body), (200, json!("shop")));
    let (_, stored) = app.get_json("/api/v1/applications/shop").await;
    assert_eq!(stored["environments"]["dev"]["vip"], "192.168.101.200");
    assert_eq!(stored["replicas"], 2);
    let (status, body) = save(&client, &app, shop("shop-dev.mdhlabs.com", "192.168.101.200"), true).await;
    assert!(status != 200 && body["Fields"][0]["code"] == "application_exists", "{body}");

    // Edited: the next free VIP instead.
    let (status, _) = save(&client, &app, shop("shop-dev.mdhlabs.com", "auto"), false).await;
    assert_eq!(status, 200);
    let entries = backend::audit::list(&app.db, Some("application/shop")).await.expect("the audit log");
    let actions: Vec<(&str, bool)> = entries.iter().map(|e| (e.action.as_str(), e.actor.contains("app-team"))).collect();
    assert!(actions.contains(&("application.create", true)) && actions.contains(&("application.update", true)), "{actions:?}");

    // The seed's api is another team's: neither editable nor previewable by this team.
    let (_, api) = app.get_json("/api/v1/applications/api").await;
    let (_, body) = save(&client, &app, api, false).await;
    assert!(body["NotFound"].is_string(), "another team's application is not there for them: {body}");
    let preview = client
        .post(app.at(app::api::applications::PreviewApplication::PATH))
        .form(&[("application", "api"), ("environment", "dev")])
        .send()
        .await
        .expect("answers");
    assert_ne!(preview.status(), 200);
}

/// A browser-like session of a new user with this role and scopes.
async fn session(app: &TestApp, role: Role, scopes: &str) -> reqwest::Client {
    let user = app.user(role, scopes).await;
    let cookie = app.sign_in(&user.name, &user.password).await.unwrap_or_else(|_| panic!("{} signs in", user.name));
    app.client_with_session(&cookie)
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let response = client.get(app.at(path)).send().await.expect("the page answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

async fn form_preview_and_vip_pages_render_from_the_plan_and_the_cluster(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let team = session(&app, Role::AppTeam, "namespace:cd-service, namespace:cd-service-*").await;

    let (status, html) = page(&team, &app, "/applications/new").await;
    assert_eq!(status, 200);
    for expected in ["id=\"app-name\"", "data-environment=\"dev\"", "data-environment=\"prod\"", "Deploy to prod", "api-dev.mdhlabs.com", "dev-vips (192.168.101.192/28)"] {
        assert!(html.contains(expected), "the new form shows {expected}");
    }
    let (status, html) = page(&team, &app, "/applications/api/edit").await;
    assert_eq!(status, 200);
    assert!(html.contains("Edit application api") && html.contains("cd-service") && html.contains("192.168.101.240"));
    assert_eq!(page(&team, &app, "/applications/nothing/edit").await.0, 404);

    // Nothing is live yet: every field of the Deployment is added.
    let (status, html) = page(&team, &app, "/applications/api/preview?environment=dev").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Deployment cd-service-dev/api") && html.contains("new: not in the cluster yet"), "{html}");
    assert!(html.contains("data-change=\"added\"") && !html.contains("data-change=\"changed\""));
    assert!(!html.contains("<details open"), "with nothing changed the field lists start folded");
    assert!(html.contains("apiVersion: apps/v1") && !html.contains("PRIVATE KEY"));
    assert!(html.contains("Submit to dev"));
    assert_eq!(page(&team, &app, "/applications/api/preview?environment=staging").await.0, 404);

    assert_eq!(settled(&app, submit(&app, "dev", false).await).await["status"], "ready");

    // Live now: the preview compares with it, and the VIP page shows the Gateway's VIP.
    let (_, html) = page(&team, &app, "/applications/api/preview?environment=dev").await;
    assert!(html.contains("live in the cluster") && html.contains("data-change=\"unchanged\""), "{html}");
    let viewer = session(&app, Role::Viewer, "").await;
    let (status, html) = page(&viewer, &app, "/vips").await;
    assert_eq!(status, 200);
    let row = html.split("data-service=\"cd-service-dev/cilium-gateway-api-dev\"").nth(1).expect("the Gateway's Service is listed");
    let row = row.split("</tr>").next().unwrap_or_default();
    assert!(row.contains("data-announced=\"true\""), "{row}");
    assert!(row.contains("gatehouse.io/advertise=dev") && row.contains("192.168.101.19") && row.contains("L2 policy"), "{row}");
    assert!(html.contains("data-testid=\"nothing-to-import\""), "the plan holds the Gateway's VIP: nothing to import");
    assert!(!html.contains("import-button"), "viewers never get the button");
    assert_eq!(page(&viewer, &app, "/applications/new").await.0, 403, "viewers do not get the form");
}

on_both_databases!(app_team_saves_through_the_form_within_its_scopes, form_preview_and_vip_pages_render_from_the_plan_and_the_cluster);
