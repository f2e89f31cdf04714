//! Certificates have owners (issue 17): an application may terminate TLS only with a
//! certificate whose owners include the namespace its environment places it in — at save,
//! and again whenever a key would leave the database (bundle, preview, submission, approval),
//! where GH-CERT-SAN blocks too. Over real HTTP, on both databases, against the simulated
//! cluster; and a property test over random teams, certificates and applications.
#![expect(clippy::unwrap_used, reason = "in tests a failure is a failed test")]
use backend::certificates::testing::{Encoding, TestKey, Validity, self_signed};
use domain::access::Role;
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::{
    cluster::Fixture,
    harness::{ADMIN_ACTOR, DbKind, FreshDatabase, TestApp},
};

/// One answer: status, `Cache-Control`, body.
struct Answer {
    status: u16,
    cache_control: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Whether a `kubernetes.io/tls` Secret's key is in it.
    fn carries_a_key(&self) -> bool {
        self.body.contains("tls.key")
    }

    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

async fn call(client: &Client, app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let mut request = client.request(method, app.at(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the portal answers");
    let status = response.status().as_u16();
    let cache_control =
        response.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Answer { status, cache_control, body: response.text().await.unwrap_or_default() }
}

async fn get(client: &Client, app: &TestApp, path: &str) -> Answer {
    call(client, app, Method::GET, path, None).await
}

fn bundle_path(application: &str, environment: &str) -> String {
    format!("/api/v1/applications/{application}/bundle.yaml?environment={environment}")
}

fn preview_path(application: &str, environment: &str) -> String {
    format!("/api/v1/applications/{application}/preview?environment={environment}")
}

/// An application of `namespace` in prod (which places it in that namespace), naming `certificate`.
fn prod_application(name: &str, namespace: &str, hostname: &str, certificate: &str) -> Value {
    json!({
        "name": name, "namespace": namespace, "image": format!("registry.example/{name}:1.0.0"), "replicas": 2, "port": 8080,
        "readiness_path": "/ready", "liveness_path": "/live",
        "environments": {"prod": {"hostnames": [hostname], "certificate": certificate, "vip": "auto"}}
    })
}

/// The id of the current certificate `name` in `environment`, as the admin sees it.
async fn certificate_id(app: &TestApp, environment: &str, name: &str) -> i64 {
    let (_, all) = app.get_json(&format!("/api/v1/environments/{environment}/certificates")).await;
    all.as_array().unwrap().iter().find(|c| c["name"] == name).and_then(|c| c["id"].as_i64()).expect("the certificate")
}

async fn set_owners(app: &TestApp, id: i64, owners: &[&str]) -> Value {
    let (status, body) = app.send_json(Method::PUT, &format!("/api/v1/certificates/{id}/owners"), &json!({"owners": owners})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The finding: an app team with `namespace:team-x` names another team's production
/// certificate in an application of its own and asks for the bundle. No answer carries the key,
/// neither then nor after its owners change under an application saved while it was allowed,
/// and none of it reaches the cluster in team-x's namespace.
async fn an_app_team_never_obtains_another_teams_private_key(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let team_x = app.client_as(Role::AppTeam, "namespace:team-x").await;
    // The demo's api goes to cd-service-dev in dev: the team's scopes cover every placement.
    let cd_service = app.client_as(Role::AppTeam, "namespace:cd-service, namespace:cd-service-*").await;
    let evil = prod_application("evil", "team-x", "evil.mdhlabs.com", "api-tls");

    // The attack, as the issue writes it: save, then read the bundle.
    let created = call(&team_x, app, Method::POST, "/api/v1/applications", Some(&evil)).await;
    let bundle = get(&team_x, app, &bundle_path("evil", "prod")).await;
    assert!(!bundle.carries_a_key(), "another team's key in the bundle: {} {}", bundle.status, bundle.body);
    assert_ne!(bundle.status, 200, "{}", bundle.body);
    assert_eq!(created.status, 422, "{}", created.body);
    let error = &created.json()["error"];
    assert_eq!(error["code"], "certificate_not_allowed", "{error}");
    assert_eq!(error["field"], "environments.prod.certificate");
    let message = error["message"].as_str().unwrap();
    for part in ["api-tls", "belongs to namespaces cd-service", "namespace team-x", "network admin"] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    // A network admin cannot save it either: owners are about the namespace, not the caller.
    let (status, body) = app.post_json("/api/v1/applications", &evil).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(get(&team_x, app, "/api/v1/applications/evil").await.status, 404, "nothing was stored");

    // The network admin lets team-x use it; the application is saved, but a certificate that
    // does not cover its hostname blocks the bundle, the preview and a submission.
    let prod_tls = certificate_id(app, "prod", "api-tls").await;
    let granted = set_owners(app, prod_tls, &["team-x", "cd-service"]).await;
    assert_eq!(granted["owners"], json!(["cd-service", "team-x"]));
    let created = call(&team_x, app, Method::POST, "/api/v1/applications", Some(&evil)).await;
    assert_eq!(created.status, 201, "readiness does not block a save: {}", created.body);
    for answer in [
        get(&team_x, app, &bundle_path("evil", "prod")).await,
        get(&team_x, app, &preview_path("evil", "prod")).await,
        call(&team_x, app, Method::POST, "/api/v1/applications/evil/submissions", Some(&json!({"environment": "prod"}))).await,
    ] {
        assert_eq!(answer.status, 422, "{}", answer.body);
        assert_eq!(answer.json()["error"]["rule"], "GH-CERT-SAN", "{}", answer.body);
        assert!(!answer.carries_a_key());
        assert_eq!(answer.cache_control, "no-store");
    }

    // Covered and allowed: the bundle carries the key, and is never cached.
    let mut covered = evil.clone();
    covered["environments"]["prod"]["hostnames"] = json!(["api.mdhlabs.com"]);
    assert_eq!(call(&team_x, app, Method::PUT, "/api/v1/applications/evil", Some(&covered)).await.status, 200);
    let allowed = get(&team_x, app, &bundle_path("evil", "prod")).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert!(allowed.carries_a_key());
    assert_eq!(allowed.cache_control, "no-store");
    // prod is protected: the submission waits for a second person.
    let waiting = call(&team_x, app, Method::POST, "/api/v1/applications/evil/submissions", Some(&json!({"environment": "prod"}))).await;
    assert_eq!(waiting.status, 202, "{}", waiting.body);
    let waiting = waiting.json()["id"].as_i64().unwrap();

    // The owners change back after the save: every way to the key is closed again.
    set_owners(app, prod_tls, &["cd-service"]).await;
    let admin = app.new_client();
    for (who, answer) in [
        ("team-x's bundle", get(&team_x, app, &bundle_path("evil", "prod")).await),
        ("a network admin's bundle of evil", get(&admin, app, &bundle_path("evil", "prod")).await),
        ("the preview", get(&team_x, app, &preview_path("evil", "prod")).await),
        ("a dry run", call(&team_x, app, Method::POST, "/api/v1/applications/evil/submissions", Some(&json!({"environment": "prod", "dry_run": true}))).await),
        ("a submission", call(&team_x, app, Method::POST, "/api/v1/applications/evil/submissions", Some(&json!({"environment": "prod"}))).await),
        ("approving the submission made while it was allowed", call(&admin, app, Method::POST, &format!("/api/v1/submissions/{waiting}/approve"), Some(&json!({}))).await),
    ] {
        assert_eq!((answer.status, answer.code().as_str()), (403, "certificate_not_allowed"), "{who}: {}", answer.body);
        assert!(!answer.carries_a_key(), "{who}");
        assert!(answer.json()["error"]["message"].as_str().unwrap().contains("cd-service"), "{who} names the owners: {}", answer.body);
    }
    let (status, body) = app.get_json(&format!("/api/v1/submissions/{waiting}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("awaiting_approval")), "nothing was applied: {body}");
    // Saving it again is refused until it names a certificate of its own.
    let resaved = call(&team_x, app, Method::PUT, "/api/v1/applications/evil", Some(&covered)).await;
    assert_eq!((resaved.status, resaved.code().as_str()), (422, "certificate_not_allowed"), "{}", resaved.body);
    let (_, listed) = app.get_json(&format!("/api/v1/certificates/{prod_tls}")).await;
    let evil_use = listed["used_by"].as_array().unwrap().iter().find(|u| u["application"] == "evil").cloned().unwrap();
    assert_eq!(evil_use["allowed"], false, "{listed}");

    // The owning team still gets its bundle, and its key reaches its own namespace only.
    for environment in ["dev", "prod"] {
        let own = get(&cd_service, app, &bundle_path("api", environment)).await;
        assert_eq!((own.status, own.carries_a_key()), (200, true), "{environment}: {}", own.body);
    }
    let (status, body) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev"})).await;
    assert_eq!(status, 202, "{body}");
    let done = crate::cluster::settled(app, body["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let client = fixture.client().await;
    let dev_secret = Api::<Secret>::namespaced(client.clone(), "cd-service-dev").get_opt("api-tls").await.unwrap();
    assert!(dev_secret.is_some_and(|s| s.data.is_some_and(|d| d.contains_key("tls.key"))), "the owner's namespace has its key");
    assert!(Api::<Secret>::namespaced(client, "team-x").get_opt("api-tls").await.unwrap().is_none(), "team-x never got it");

    let (_, audit) = app.get_json("/api/v1/audit?action=certificate.owners").await;
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!(entries[0]["actor"], ADMIN_ACTOR);
    assert_eq!(entries[0]["after"]["owners"], json!(["cd-service"]), "newest first: {audit}");
}

/// App teams list only the certificates whose owners overlap their scopes; viewers and the
/// roles above see every one with its owners. Uploads say who owns them, a replacement keeps
/// them, and only network admins change them.
async fn owners_decide_who_sees_a_certificate_and_only_network_admins_change_them(kind: DbKind) {
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.demo = true;
        config.demo_sign_in = false;
    })
    .await;
    let names = |list: &Value| -> Vec<String> {
        list.as_array().unwrap().iter().map(|c| format!("{}/{}", c["environment"].as_str().unwrap(), c["name"].as_str().unwrap())).collect()
    };
    let (_, all) = app.get_json("/api/v1/certificates").await;
    assert_eq!(names(&all), ["dev/api-tls", "prod/api-tls"]);
    assert_eq!(all[0]["owners"], json!(["cd-service-dev"]), "the demo's certificates belong to where dev and prod put api");
    assert_eq!(all[1]["owners"], json!(["cd-service"]));

    let key = TestKey::p256();
    let upload = json!({
        "name": "ledger-tls", "certificate_pem": self_signed(&["ledger-dev.mdhlabs.com"], &key, Validity::YEAR),
        "private_key_pem": key.pem(Encoding::Pkcs8), "owners": ["ledger-*", " "]
    });
    let (status, stored) = app.post_json("/api/v1/environments/dev/certificates", &upload).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["owners"], json!(["ledger-*"]));
    let ledger = stored["id"].as_i64().unwrap();

    let sees = |client: Client| {
        let app = &app;
        async move { names(&get(&client, app, "/api/v1/certificates").await.json()) }
    };
    assert_eq!(sees(app.client_as(Role::AppTeam, "namespace:cd-service").await).await, ["prod/api-tls"]);
    assert_eq!(sees(app.client_as(Role::AppTeam, "namespace:cd-service-*").await).await, ["dev/api-tls"]);
    assert_eq!(sees(app.client_as(Role::AppTeam, "namespace:ledger-dev, application:books").await).await, ["dev/ledger-tls"]);
    assert!(sees(app.client_as(Role::AppTeam, "namespace:team-x").await).await.is_empty());
    assert_eq!(sees(app.client_as(Role::Viewer, "").await).await.len(), 3, "viewers see every certificate");
    let outsider = app.client_as(Role::AppTeam, "namespace:team-x").await;
    let hidden = get(&outsider, &app, &format!("/api/v1/certificates/{ledger}")).await;
    assert_eq!((hidden.status, hidden.code().as_str()), (404, "certificate_not_found"));
    let visible = get(&outsider, &app, "/api/v1/environments/dev/certificates").await;
    assert_eq!(visible.json(), json!([]));

    // Only network admins change owners (the route's rule, and the backend's own check).
    let change = json!({"owners": ["ledger-dev", "books"]});
    let path = format!("/api/v1/certificates/{ledger}/owners");
    let refused = call(&app.client_as(Role::AppTeam, "namespace:ledger-*").await, &app, Method::PUT, &path, Some(&change)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let network_admin = app.client_as(Role::NetworkAdmin, "").await;
    let changed = call(&network_admin, &app, Method::PUT, &path, Some(&change)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["owners"], json!(["books", "ledger-dev"]));
    let bad = call(&network_admin, &app, Method::PUT, &path, Some(&json!({"owners": ["ledger", "Ledger_Dev"]}))).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!((bad.json()["error"]["field"].as_str(), bad.code().as_str()), (Some("owners[1]"), "invalid_namespace_pattern"));
    let unknown = call(&network_admin, &app, Method::PUT, "/api/v1/certificates/999/owners", Some(&change)).await;
    assert_eq!(unknown.status, 404);

    // A renewal without owners keeps them; the earlier version's owners cannot be changed.
    let renewed = json!({
        "name": "ledger-tls", "certificate_pem": self_signed(&["ledger-dev.mdhlabs.com"], &key, Validity::YEAR),
        "private_key_pem": key.pem(Encoding::Pkcs8)
    });
    let (status, stored) = app.post_json("/api/v1/environments/dev/certificates", &renewed).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["owners"], json!(["books", "ledger-dev"]));
    let old = call(&network_admin, &app, Method::PUT, &path, Some(&change)).await;
    assert_eq!((old.status, old.code().as_str()), (409, "earlier_version"), "{}", old.body);
    assert!(old.json()["error"]["message"].as_str().unwrap().contains(&format!("id {}", stored["id"])), "{}", old.body);

    let (_, audit) = app.get_json("/api/v1/audit?action=certificate.owners").await;
    let entry = &audit.as_array().unwrap()[0];
    assert_eq!(entry["object"], "certificate/dev/ledger-tls");
    assert_eq!((entry["before"]["owners"].clone(), entry["after"]["owners"].clone()), (json!(["ledger-*"]), json!(["books", "ledger-dev"])));
    assert!(entry["actor"].as_str().unwrap().starts_with("network-admin-"), "{entry}");
}

/// A database from before owners: the first start grants each current certificate to the
/// namespaces of the applications that use it then — and nothing else, audited — and later
/// starts change nothing.
async fn certificates_from_before_owners_are_granted_to_their_users_once(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let key = TestKey::p256();
    let unused = json!({
        "name": "spare-tls", "certificate_pem": self_signed(&["spare.mdhlabs.com"], &key, Validity::YEAR),
        "private_key_pem": key.pem(Encoding::Pkcs8), "owners": ["spare"]
    });
    assert_eq!(app.post_json("/api/v1/environments/prod/certificates", &unused).await.0, 201);
    sqlx::query("UPDATE certificates SET owners = NULL").execute(app.db.pool()).await.unwrap();
    let database = app.stop().await;

    let app = TestApp::spawn_with(database, |config| config.demo = true).await;
    let (_, all) = app.get_json("/api/v1/certificates").await;
    let owners: Vec<(String, Value)> =
        all.as_array().unwrap().iter().map(|c| (format!("{}/{}", c["environment"].as_str().unwrap(), c["name"].as_str().unwrap()), c["owners"].clone())).collect();
    assert_eq!(
        owners,
        [
            ("dev/api-tls".to_owned(), json!(["cd-service-dev"])),
            ("prod/api-tls".to_owned(), json!(["cd-service"])),
            ("prod/spare-tls".to_owned(), json!([])),
        ],
        "granted to the applications' namespaces, nothing to a certificate nobody used"
    );
    let (_, audit) = app.get_json("/api/v1/audit?action=certificate.owners_granted").await;
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{audit}");
    assert!(entries.iter().all(|e| e["actor"] == "gatehouse (certificate owners upgrade)" && e["before"]["owners"].is_null()), "{audit}");
    let bundle = app.get(&bundle_path("api", "prod")).await;
    assert_eq!(bundle.status(), 200, "the application that used it keeps its bundle");

    let database = app.stop().await;
    let app = TestApp::spawn_with(database, |config| config.demo = true).await;
    let (_, audit) = app.get_json("/api/v1/audit?action=certificate.owners_granted").await;
    assert_eq!(audit.as_array().unwrap().len(), 3, "a later start grants nothing: {audit}");
}

crate::on_both_databases!(
    an_app_team_never_obtains_another_teams_private_key,
    owners_decide_who_sees_a_certificate_and_only_network_admins_change_them,
    certificates_from_before_owners_are_granted_to_their_users_once,
);

// =============================================================================================
// The property: whatever the teams, certificates, applications and owner changes, no answer
// and no cluster namespace ever holds a key of a certificate the namespace may not use.

mod property {
    use std::collections::BTreeMap;

    use proptest::{prelude::*, test_runner::{Config as RunnerConfig, TestRunner}};

    use super::*;

    /// Namespaces and patterns from a small alphabet, so that owners, scopes and placements
    /// meet often.
    const NAMESPACES: [&str; 4] = ["team-a", "team-a-dev", "team-b", "team-b-dev"];
    const PATTERNS: [&str; 7] = ["team-a", "team-a-dev", "team-b", "team-b-dev", "team-a*", "team-b-*", "team-*"];

    #[derive(Debug, Clone)]
    struct World {
        /// Per certificate `cert-i` in dev (SAN `*.mdhlabs.com`): its owners.
        owners: Vec<Vec<usize>>,
        /// Per application `app-i`: its namespace and the certificate it names in dev.
        applications: Vec<(usize, usize)>,
        /// Per caller: its scopes (app teams) — a network admin is always there too.
        teams: Vec<Vec<usize>>,
        /// Per certificate, its new owners between the first and the second round, if they change.
        changes: Vec<Option<Vec<usize>>>,
    }

    fn world() -> impl Strategy<Value = World> {
        let owners = || prop::collection::vec(0..PATTERNS.len(), 0..3);
        (
            prop::collection::vec(owners(), 1..4),
            prop::collection::vec((0..NAMESPACES.len(), 0..4usize), 1..4),
            prop::collection::vec(prop::collection::vec(0..PATTERNS.len(), 1..3), 1..3),
            prop::collection::vec(prop::option::weighted(0.6, owners()), 3),
        )
            .prop_map(|(owners, applications, teams, changes)| World { owners, applications, teams, changes })
    }

    fn patterns(indices: &[usize]) -> Vec<String> {
        indices.iter().map(|i| PATTERNS[*i].to_owned()).collect()
    }

    /// The demo's dev puts an application of namespace `n` in `n-dev`.
    fn placed(namespace: usize) -> String {
        format!("{}-dev", NAMESPACES[namespace])
    }

    struct Certificate {
        name: String,
        id: i64,
        /// As uploaded or last set: namespace names and `prefix*` patterns.
        owners: Owners,
        /// What of its key would show in an answer: the Secret's base64 value, the PEM body.
        needles: Vec<String>,
        /// Namespaces whose Secret got the key in an earlier round, while they were owners.
        placed_before: Vec<String>,
    }

    impl Certificate {
        fn found_in(&self, text: &str) -> bool {
            self.needles.iter().any(|needle| text.contains(needle.as_str()))
        }
    }

    /// The test's own reading of owners, independent of the portal's code: a pattern ending
    /// in `*` admits every namespace starting with what comes before it, any other only itself.
    #[derive(Debug, Clone)]
    struct Owners(Vec<&'static str>);

    impl Owners {
        fn admit(&self, namespace: &str) -> bool {
            self.0.iter().any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => namespace.starts_with(prefix),
                None => namespace == *pattern,
            })
        }
    }

    impl std::fmt::Display for Owners {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    fn owners_of(indices: &[usize]) -> Owners {
        Owners(indices.iter().map(|i| PATTERNS[*i]).collect())
    }

    /// Asks for everything that could carry a key, as every caller, for every application of
    /// the rounds so far, and checks each answer; submits each application for real once (as
    /// the network admin); then checks every Secret in the cluster.
    async fn probe(fixture: &Fixture, world: &World, certificates: &BTreeMap<String, Certificate>, callers: &[Client], round: usize) -> Result<(), String> {
        let app = &fixture.app;
        let check = |what: &str, answer: &Answer, certificate: Option<(&Certificate, bool)>| -> Result<(), String> {
            for other in certificates.values() {
                let may = certificate.is_some_and(|(c, allowed)| allowed && c.name == other.name);
                if other.found_in(&answer.body) && !may {
                    return Err(format!("{what} answered {} with {}'s key: {}", answer.status, other.name, answer.body));
                }
            }
            if answer.carries_a_key() && answer.cache_control != "no-store" {
                return Err(format!("{what}: an answer with a key may be cached ({:?})", answer.cache_control));
            }
            Ok(())
        };
        for caller in callers {
            check("the whole plan's bundle", &get(caller, app, "/api/v1/bundle.yaml").await, None)?;
            check("the certificates", &get(caller, app, "/api/v1/certificates").await, None)?;
        }
        for r in 0..=round {
            for (i, (namespace, certificate)) in world.applications.iter().enumerate() {
                let name = format!("round{r}-app-{i}");
                let certificate = &certificates[&format!("cert-{}", certificate % certificates.len())];
                let allowed = certificate.owners.admit(&placed(*namespace));
                let exists = get(&callers[0], app, &format!("/api/v1/applications/{name}")).await.status == 200;
                for caller in callers {
                    let answers = [
                        ("bundle", get(caller, app, &bundle_path(&name, "dev")).await),
                        ("preview", get(caller, app, &preview_path(&name, "dev")).await),
                        ("dry run", call(caller, app, Method::POST, &format!("/api/v1/applications/{name}/submissions"), Some(&json!({"environment": "dev", "dry_run": true}))).await),
                        ("certificate", get(caller, app, &format!("/api/v1/certificates/{}", certificate.id)).await),
                    ];
                    for (what, answer) in &answers {
                        check(&format!("{what} of {name} in {}", placed(*namespace)), answer, Some((certificate, allowed)))?;
                        if !allowed && (200..300).contains(&answer.status) && *what != "certificate" {
                            return Err(format!("{what} of {name} in {} went ahead with {}, whose owners are {}: {}", placed(*namespace), certificate.name, certificate.owners, answer.body));
                        }
                    }
                    if let Some(id) = answers[2].1.json()["id"].as_i64() {
                        let done = crate::cluster::settled(app, id).await;
                        check(&format!("the dry run of {name}"), &Answer { status: 200, cache_control: "no-store".to_owned(), body: done.to_string() }, None)?;
                    }
                }
                // Not vacuous: an application that may use its certificate gets its key.
                let bundle = get(&callers[0], app, &bundle_path(&name, "dev")).await;
                if exists && allowed && !(bundle.status == 200 && certificate.found_in(&bundle.body)) {
                    return Err(format!("{name} may use {} but its bundle is {} {}", certificate.name, bundle.status, bundle.body));
                }
                let submitted = call(&callers[0], app, Method::POST, &format!("/api/v1/applications/{name}/submissions"), Some(&json!({"environment": "dev"}))).await;
                if let Some(id) = submitted.json()["id"].as_i64() {
                    if !allowed {
                        return Err(format!("{name} was submitted with {}, whose owners are {}", certificate.name, certificate.owners));
                    }
                    let done = crate::cluster::settled(app, id).await;
                    check(&format!("the submission of {name}"), &Answer { status: 200, cache_control: "no-store".to_owned(), body: done.to_string() }, None)?;
                }
            }
        }
        // A key in the cluster sits only where its certificate's owners allowed it when it
        // was put there: a Secret not seen in an earlier round must be allowed now.
        let secrets = Api::<Secret>::all(fixture.client().await).list(&Default::default()).await.map_err(|e| e.to_string())?;
        for secret in secrets {
            let namespace = secret.metadata.namespace.clone().unwrap_or_default();
            let data = serde_json::to_string(&secret.data).unwrap_or_default();
            for certificate in certificates.values() {
                if certificate.found_in(&data) && !certificate.owners.admit(&namespace) && !certificate.placed_before.contains(&namespace) {
                    return Err(format!("{}'s key is in namespace {namespace}, which is not among its owners {}", certificate.name, certificate.owners));
                }
            }
        }
        Ok(())
    }

    /// Notes where each certificate's key is in the cluster now (allowed then).
    async fn remember_placements(fixture: &Fixture, certificates: &mut BTreeMap<String, Certificate>) -> Result<(), String> {
        let secrets = Api::<Secret>::all(fixture.client().await).list(&Default::default()).await.map_err(|e| e.to_string())?;
        for secret in secrets {
            let namespace = secret.metadata.namespace.clone().unwrap_or_default();
            let data = serde_json::to_string(&secret.data).unwrap_or_default();
            for certificate in certificates.values_mut().filter(|c| c.found_in(&data)) {
                certificate.placed_before.push(namespace.clone());
            }
        }
        Ok(())
    }

    /// Builds the world in a fresh portal (through the API, as the network admin and the
    /// teams), probes, changes owners, builds the second round's applications, probes again.
    async fn holds(world: World) -> Result<(), String> {
        let fixture = Fixture::start(DbKind::Sqlite).await;
        let app = &fixture.app;
        let mut certificates = BTreeMap::new();
        for (i, owners) in world.owners.iter().enumerate() {
            let name = format!("cert-{i}");
            let key = TestKey::p256();
            let pem = key.pem(Encoding::Pkcs8);
            let upload = json!({"name": name, "certificate_pem": self_signed(&["*.mdhlabs.com"], &key, Validity::YEAR), "private_key_pem": pem, "owners": patterns(owners)});
            let (status, stored) = app.post_json("/api/v1/environments/dev/certificates", &upload).await;
            if status != 201 {
                return Err(format!("upload: {status} {stored}"));
            }
            let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
            let needles = vec![base64::engine::general_purpose::STANDARD.encode(pem.as_bytes()), body];
            certificates.insert(name.clone(), Certificate { name, id: stored["id"].as_i64().unwrap_or_default(), owners: owners_of(owners), needles, placed_before: Vec::new() });
        }
        let mut callers = vec![app.new_client(), app.client_as(Role::Viewer, "").await];
        for team in &world.teams {
            let scopes: Vec<String> = team.iter().map(|i| format!("namespace:{}", PATTERNS[*i])).collect();
            callers.push(app.client_as(Role::AppTeam, &scopes.join(", ")).await);
        }
        for round in 0..2 {
            if round == 1 {
                remember_placements(&fixture, &mut certificates).await?;
                for (certificate, owners) in world.changes.iter().enumerate().filter_map(|(i, owners)| Some((i, owners.as_ref()?))) {
                    let Some(certificate) = certificates.get_mut(&format!("cert-{certificate}")) else { continue };
                    set_owners(app, certificate.id, &patterns(owners).iter().map(String::as_str).collect::<Vec<_>>()).await;
                    certificate.owners = owners_of(owners);
                }
            }
            for (i, (namespace, certificate)) in world.applications.iter().enumerate() {
                let application = json!({
                    "name": format!("round{round}-app-{i}"), "namespace": NAMESPACES[*namespace], "image": "registry.example/app:1", "replicas": 1, "port": 8080,
                    "environments": {"dev": {"hostnames": [format!("round{round}-app-{i}.mdhlabs.com")], "certificate": format!("cert-{}", certificate % world.owners.len()), "vip": "auto"}}
                });
                // Saved by whoever may: every team tries, then the network admin.
                for caller in callers.iter().skip(2).chain(callers.first()) {
                    let answer = call(caller, app, Method::POST, "/api/v1/applications", Some(&application)).await;
                    let allowed = certificates[&format!("cert-{}", certificate % world.owners.len())].owners.admit(&placed(*namespace));
                    match answer.status {
                        201 if allowed => break,
                        201 => return Err(format!("saved with a certificate its namespace may not use: {application}")),
                        422 if !allowed && answer.code() == "certificate_not_allowed" => break,
                        403 => {}
                        _ => return Err(format!("save: {} {}", answer.status, answer.body)),
                    }
                }
            }
            probe(&fixture, &world, &certificates, &callers, round).await?;
        }
        Ok(())
    }

    /// Random worlds, a fresh portal each; few cases, as each runs a portal and a cluster.
    /// First, always, a world where the owners change under saved applications: team-a's
    /// application keeps naming cert-0 after it is given to team-b-dev alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_caller_ever_obtains_a_key_its_namespace_may_not_use() {
        let revoked = World {
            owners: vec![vec![4]],
            applications: vec![(0, 0), (2, 0)],
            teams: vec![vec![4], vec![2]],
            changes: vec![Some(vec![3])],
        };
        if let Err(failure) = holds(revoked).await {
            panic!("owners changed under a saved application: {failure}");
        }
        let handle = tokio::runtime::Handle::current();
        let cases = std::env::var("GATEHOUSE_OWNER_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(6);
        let mut runner = TestRunner::new(RunnerConfig { cases, max_shrink_iters: 16, failure_persistence: None, ..RunnerConfig::default() });
        let result = tokio::task::block_in_place(|| {
            runner.run(&world(), |world| {
                handle.block_on(holds(world)).map_err(TestCaseError::fail)
            })
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }
}
