//! Submissions, the label fix and the failure answers, through the real kube client against
//! the simulated Cilium cluster — and against a real cluster when GATEHOUSE_TEST_KUBECONFIG
//! names one.
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use gatehouse::{ClusterSpec, Config};
use simcluster::{Access, Admission, CiliumBehaviour, SimCluster};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::{
    harness::{DbKind, FreshDatabase, TestApp},
    on_both_databases,
};

/// How long a test waits for the label fix before it fails: a bound on being stuck, not a
/// latency target (that is measured in `benches/submission.rs`, and recorded in the README).
const PATIENCE: Duration = Duration::from_secs(30);

/// A portal with the demo plan, submitting to its own simulated cluster through a kubeconfig.
pub(crate) struct Fixture {
    pub(crate) app: TestApp,
    pub(crate) sim: Arc<SimCluster>,
    pub(crate) _kubeconfig: tempfile::TempDir,
}

pub(crate) async fn simulated(behaviour: CiliumBehaviour, token: Option<&str>) -> Arc<SimCluster> {
    let config = Config::for_tests("sqlite::memory:", "");
    let schemas = gatehouse::cluster::schemas(&config.schemas_dir)
        .await
        .expect("the shared schemas load");
    let sim = SimCluster::start_seeded(schemas)
        .await
        .expect("the simulated cluster starts");
    sim.set_behaviour(behaviour);
    if let Some(token) = token {
        sim.set_access(Access { token: Some(token.to_owned()), ..Access::default() });
    }
    Arc::new(sim)
}

async fn portal(kind: DbKind, kubeconfig_text: &str) -> (TestApp, tempfile::TempDir) {
    portal_with(kind, kubeconfig_text, |_| {}).await
}

/// A portal with the demo plan submitting through `kubeconfig_text`, its configuration
/// changed by `tweak` last.
pub(crate) async fn portal_with(kind: DbKind, kubeconfig_text: &str, tweak: impl FnOnce(&mut Config)) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig_text).expect("the kubeconfig is written");
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.demo = true;
        config.kubeconfig = Some(path);
        config.apply_timeout_secs = 5;
        tweak(config);
    })
    .await;
    (app, dir)
}

impl Fixture {
    pub(crate) async fn start(kind: DbKind) -> Fixture {
        Fixture::with(kind, CiliumBehaviour::default(), None).await
    }

    pub(crate) async fn with(kind: DbKind, behaviour: CiliumBehaviour, token: Option<&str>) -> Fixture {
        let sim = simulated(behaviour, token).await;
        let (app, kubeconfig) = portal(kind, &sim.kubeconfig(token)).await;
        Fixture { app, sim, _kubeconfig: kubeconfig }
    }

    pub(crate) async fn client(&self) -> Client {
        kube_client(&self.sim.kubeconfig(None)).await
    }
}

pub(crate) async fn kube_client(kubeconfig: &str) -> Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(kubeconfig).expect("a kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("a client configuration");
    Client::try_from(config).expect("a kube client")
}

/// Submits and returns the id.
pub(crate) async fn submit(app: &TestApp, environment: &str, dry_run: bool) -> i64 {
    let (status, body) =
        app.post_json("/api/v1/applications/api/submissions", &json!({"environment": environment, "dry_run": dry_run})).await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_i64().expect("an id")
}

/// Polls a submission until it leaves `applying`/`tearing_down`.
pub(crate) async fn settled(app: &TestApp, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = app.get_json(&format!("/api/v1/submissions/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let state = body["status"].as_str().unwrap_or_default().to_owned();
        if state != "applying" && state != "tearing_down" {
            return body;
        }
        assert!(Instant::now() < deadline, "submission {id} did not settle: {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it holds or `within` passes.
pub(crate) async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn objects(submission: &Value) -> Vec<(String, String, String)> {
    submission["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_owned(),
                o["name"].as_str().unwrap_or_default().to_owned(),
                o["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(crate) const GATEWAY_SERVICE: &str = "cilium-gateway-api-dev";
/// The seed's dev environment puts `api` (namespace cd-service) in `{namespace}-dev`.
pub(crate) const DEV_NAMESPACE: &str = "cd-service-dev";

/// The applications page shows each environment's latest submission with its objects: after a
/// dry run and then a submission to dev, dev shows the submission; prod, never submitted, none.
async fn the_applications_page_shows_each_targets_latest_submission(kind: DbKind) {
    use leptos::server_fn::ServerFn;
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let dry = settled(app, submit(app, "dev", true).await).await;
    let real = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(real["status"], "ready", "{real:#}");
    // A second team's application, so that a team reads some applications of the plan, not all.
    crate::tenancy::certificate_for(app, "shop").await;
    let (status, body) = app
        .post_json(
            "/api/v1/applications",
            &json!({"name": "shop", "namespace": "shop", "image": "registry.example/shop:1.0.0", "replicas": 1, "port": 8080,
                    "environments": {"dev": {"hostnames": ["shop.dev.example"], "paths": ["/"], "certificate": "shop-tls"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let listed = |client: reqwest::Client| async move {
        let response = client
            .post(app.at(app::api::cluster::ListApplicationTargets::PATH))
            .header("accept", "application/json")
            .json(&json!({}))
            .send()
            .await
            .expect("the server function answers");
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.expect("JSON")
    };
    let api_team = app.client_as(domain::access::Role::AppTeam, "namespace:cd-service, namespace:cd-service-*").await;
    let shop_team = app.client_as(domain::access::Role::AppTeam, "namespace:shop, namespace:shop-*").await;
    for (who, listed) in [("an admin", listed(app.client.clone()).await), ("api's team", listed(api_team).await)] {
        let api = listed.as_array().and_then(|apps| apps.iter().find(|a| a["name"] == "api")).expect("api is listed");
        let target = |environment: &str| api["targets"].as_array().and_then(|t| t.iter().find(|t| t["environment"] == environment)).cloned();
        let dev = target("dev").expect("dev");
        assert_eq!(dev["latest"]["id"], real["id"], "{who}: the newest of dev's submissions, not the dry run {}: {dev:#}", dry["id"]);
        assert_eq!(dev["latest"]["objects"].as_array().map(Vec::len), real["objects"].as_array().map(Vec::len), "{who}: with its objects");
        assert!(target("prod").is_some_and(|prod| prod["latest"].is_null()), "{who}: prod was never submitted: {api:#}");
    }
    let shops = listed(shop_team).await;
    let names: Vec<&str> = shops.as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["shop"], "{shops:#}");
    assert!(shops[0]["targets"][0]["latest"].is_null(), "shop was never submitted: {shops:#}");
}

async fn seed_example_reaches_ready(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let id = submit(app, "dev", false).await;
    let done = settled(app, id).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let kinds: Vec<String> = objects(&done).iter().map(|(k, _, _)| k.clone()).collect();
    assert_eq!(
        kinds,
        ["Namespace", "ConfigMap", "Secret", "Deployment", "Service", "CiliumLoadBalancerIPPool", "CiliumL2AnnouncementPolicy",
         "Gateway", "HTTPRoute", "Service"],
        "dependency order, then the Service Cilium generated"
    );
    assert!(objects(&done).iter().all(|(_, _, state)| state == "ready"), "{done:#}");
    assert_eq!(done["requested_by"], crate::harness::ADMIN_ACTOR);
    let bundle = done["bundle"].as_str().expect("the recorded bundle");
    assert!(bundle.contains("kind: Deployment") && bundle.contains("(not recorded)"));
    assert!(!bundle.contains("PRIVATE KEY"), "no key reaches the database");
    let gateway = done["objects"].as_array().and_then(|o| o.iter().find(|o| o["kind"] == "Gateway")).expect("the Gateway");
    assert!(gateway["message"].as_str().is_some_and(|m| m.starts_with("Programmed at 192.168.101.19")), "{gateway}");

    let vip = fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).expect("Cilium generated the Gateway's Service");
    assert_eq!(vip.address.as_deref(), Some("192.168.101.192"), "the lowest address of dev-vips");
    assert_eq!(vip.announcement.l2_policies, ["gatehouse-dev"]);
    assert!(vip.is_announced());
    assert_eq!(vip.labels.get("gatehouse.io/advertise").map(String::as_str), Some("dev"));

    let (status, vips) = app.get_json("/api/v1/vips").await;
    assert_eq!(status, 200);
    let listed = vips.as_array().and_then(|v| v.iter().find(|v| v["service"] == GATEWAY_SERVICE)).expect("listed").clone();
    assert_eq!((listed["labelled"].clone(), listed["assigned"].clone(), listed["announced"].clone()), (json!(true), json!(true), json!(true)));

    // Applied with field manager gatehouse.
    let deployments: Api<Deployment> = Api::namespaced(fixture.client().await, DEV_NAMESPACE);
    let deployment = deployments.get("api").await.expect("the Deployment exists");
    let managers: Vec<String> = deployment.metadata.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
    assert_eq!(managers, ["gatehouse"]);

    // Re-apply: the same objects, ready again, nothing conflicts.
    let again = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(again["status"], "ready", "{again:#}");
    let (status, listed) = app.get_json("/api/v1/applications/api/submissions").await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}

async fn dry_run_changes_nothing(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let done = settled(&fixture.app, submit(&fixture.app, "dev", true).await).await;
    assert_eq!(done["status"], "validated", "{done:#}");
    // The namespace does not exist yet: what lives in it cannot be dry-run, and says so.
    assert_eq!(
        states(&done),
        ["Namespace:applied", "ConfigMap:skipped", "Secret:skipped", "Deployment:skipped", "Service:skipped",
         "CiliumLoadBalancerIPPool:applied", "CiliumL2AnnouncementPolicy:applied", "Gateway:skipped", "HTTPRoute:skipped"]
    );
    assert!(done["objects"][1]["message"].as_str().is_some_and(|m| m.contains("namespace cd-service-dev does not exist yet")));
    let deployments: Api<Deployment> = Api::namespaced(fixture.client().await, DEV_NAMESPACE);
    assert!(deployments.get_opt("api").await.expect("the cluster answers").is_none(), "a dry run creates nothing");
    // Once applied, a dry run checks every object.
    assert_eq!(settled(&fixture.app, submit(&fixture.app, "dev", false).await).await["status"], "ready");
    let again = settled(&fixture.app, submit(&fixture.app, "dev", true).await).await;
    assert_eq!(again["status"], "validated", "{again:#}");
    assert!(objects(&again).iter().all(|(_, _, state)| state == "applied"), "{again:#}");
}

async fn preview_diffs_against_the_cluster(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let (status, before) = app.get_json("/api/v1/applications/api/preview?environment=dev").await;
    assert_eq!(status, 200, "{before}");
    let deployment = before.as_array().and_then(|o| o.iter().find(|o| o["kind"] == "Deployment")).expect("the Deployment").clone();
    assert_eq!(deployment["live"], false);
    assert!(deployment["added"].as_u64().is_some_and(|n| n > 5) && deployment["changed"] == 0, "{deployment:#}");
    assert!(deployment["yaml"].as_str().is_some_and(|y| y.starts_with("apiVersion: apps/v1")));
    let secret = before.as_array().and_then(|o| o.iter().find(|o| o["kind"] == "Secret")).expect("the Secret").clone();
    assert!(!secret.to_string().contains("PRIVATE KEY") && !secret.to_string().contains("LS0t"), "no key in a preview");

    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
    let mut scaled = deployment_from_bundle(app).await;
    scaled["spec"]["replicas"] = json!(5);
    let deployments: Api<Deployment> = Api::namespaced(fixture.client().await, DEV_NAMESPACE);
    deployments.patch("api", &PatchParams::apply("gatehouse"), &Patch::Apply(&scaled)).await.expect("scaled");
    let (_, after) = app.get_json("/api/v1/applications/api/preview?environment=dev").await;
    let deployment = after.as_array().and_then(|o| o.iter().find(|o| o["kind"] == "Deployment")).expect("the Deployment").clone();
    assert_eq!((deployment["live"].clone(), deployment["added"].clone(), deployment["changed"].clone()), (json!(true), json!(0), json!(1)), "{deployment:#}");
    let replicas = deployment["fields"].as_array().and_then(|f| f.iter().find(|f| f["field"] == ".spec.replicas")).expect("replicas").clone();
    assert_eq!(replicas, json!({"field": ".spec.replicas", "change": "changed", "live": 5, "desired": 3}));
    let (status, _) = app.get_json("/api/v1/applications/api/preview").await;
    assert_eq!(status, 400);
}

/// A first preview: the application's Namespace is new, and a dry run creates nothing, so
/// the API server answers a dry run inside it 404 — as the simulated cluster does. The
/// objects inside are shown as added and left to the apply, with no refusal; a refusal the
/// cluster really makes (here an admission policy's) is still reported.
async fn a_first_preview_accounts_for_the_namespace_it_creates(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let url = format!("{}/api/v1/namespaces/{DEV_NAMESPACE}/configmaps?dryRun=All", fixture.sim.url());
    let probe = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}});
    let answer = reqwest::Client::new().post(&url).json(&probe).send().await.expect("the simulated cluster answers");
    assert_eq!(answer.status(), 404);
    let status: Value = answer.json().await.expect("a Status");
    assert_eq!(
        (&status["kind"], &status["reason"], &status["code"], &status["message"], &status["details"]),
        (&json!("Status"), &json!("NotFound"), &json!(404), &json!(format!("namespaces \"{DEV_NAMESPACE}\" not found")), &json!({"name": DEV_NAMESPACE, "kind": "namespaces"})),
        "{status:#}"
    );

    let (status, preview) = app.get_json("/api/v1/applications/api/preview?environment=dev").await;
    assert_eq!(status, 200, "{preview}");
    let objects = preview.as_array().expect("a list of objects");
    let namespace = objects.iter().find(|o| o["kind"] == "Namespace").expect("the Namespace");
    assert_eq!((&namespace["name"], &namespace["live"], namespace.get("note")), (&json!(DEV_NAMESPACE), &json!(false), None), "{namespace:#}");
    let inside: Vec<&Value> = objects.iter().filter(|o| o["namespace"] == DEV_NAMESPACE).collect();
    assert!(inside.len() >= 5, "{preview:#}");
    for object in inside {
        assert_eq!(object.get("note"), None, "no refusal: {object:#}");
        assert_eq!(
            object["info"],
            json!(format!("new: its namespace {DEV_NAMESPACE} is created by this submission; the server checks it when it is applied"))
        );
        let fields = object["fields"].as_array().map_or(0, Vec::len);
        assert!(fields > 0 && object["added"] == fields && object["changed"] == 0 && object["unchanged"] == 0, "{object:#}");
    }

    let policy = [
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "approved-namespaces"},
               "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["namespaces"], "operations": ["CREATE"]}]},
                        "validations": [{"expression": "object.metadata.name == 'approved'", "message": "ask for a namespace first", "reason": "Forbidden"}]}}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "approved-namespaces"},
               "spec": {"policyName": "approved-namespaces", "validationActions": ["Deny"]}}),
    ];
    let admission = Admission::from_objects(&policy).expect("the policy loads");
    fixture.sim.set_access(Access { admission: Some(admission), ..Access::default() });
    let (status, preview) = app.get_json("/api/v1/applications/api/preview?environment=dev").await;
    assert_eq!(status, 200, "{preview}");
    let namespace = preview.as_array().and_then(|o| o.iter().find(|o| o["kind"] == "Namespace")).expect("the Namespace");
    let note = namespace["note"].as_str().unwrap_or_default();
    assert!(note.starts_with("the dry run was refused") && note.contains("ask for a namespace first"), "{namespace:#}");
}

async fn checklist_errors_block_a_submission(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let (_, mut api) = app.get_json("/api/v1/applications/api").await;
    // A hostname the dev certificate does not cover: GH-CERT-COVERS blocks the submission.
    api["environments"]["dev"]["hostnames"] = json!(["elsewhere.example.org"]);
    let (status, body) = app.send_json(reqwest::Method::PUT, "/api/v1/applications/api", &api).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev"})).await;
    assert!(status == 422 || status == 409, "{status} {body}");
    assert!(body["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["rule"].as_str().is_some_and(|r| r.starts_with("GH-")))), "{body}");
    let (status, body) = app.post_json("/api/v1/applications/nope/submissions", &json!({"environment": "dev"})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev", "extra": 1})).await;
    assert_eq!(status, 400, "{body}");
}

/// Cilium before 1.15 does not copy spec.infrastructure.labels: only the reconciler labels
/// the generated Service, within a second of its appearing, of its recreation, and of the
/// label's removal.
async fn label_fix_labels_the_generated_service(kind: DbKind) {
    let fixture = Fixture::with(kind, CiliumBehaviour { copies_infrastructure_labels: false, ..CiliumBehaviour::default() }, None).await;
    let id = submit(&fixture.app, "dev", false).await;
    let sim = fixture.sim.clone();
    let labelled = move || {
        sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE)
            .is_some_and(|vip| vip.labels.get("gatehouse.io/advertise").map(String::as_str) == Some("dev"))
    };
    let sim = fixture.sim.clone();
    eventually(Duration::from_secs(10), "Cilium generates the Gateway's Service", || sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some()).await;
    eventually(PATIENCE, "the generated Service is labelled", labelled.clone()).await;
    let done = settled(&fixture.app, id).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    assert!(fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|vip| vip.is_announced()));

    let services: Api<Service> = Api::namespaced(fixture.client().await, DEV_NAMESPACE);
    services.delete(GATEWAY_SERVICE, &DeleteParams::default()).await.expect("the Service is deleted");
    // Cilium recreates it at once, without the label; the reconciler labels it again.
    eventually(PATIENCE, "the recreated Service is labelled", labelled.clone()).await;

    let unlabel = json!({"metadata": {"labels": {"gatehouse.io/advertise": null}}});
    services.patch(GATEWAY_SERVICE, &PatchParams::default(), &Patch::Merge(&unlabel)).await.expect("the label is removed");
    eventually(PATIENCE, "the label comes back", labelled).await;
}

async fn label_fix_switch_turns_the_vip_dark_and_back(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let done = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let sim = fixture.sim.clone();
    let announced = move || sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|vip| vip.is_announced());
    assert!(announced());

    let (status, body) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": false})).await;
    assert_eq!(status, 200, "{body}");
    let dark = announced.clone();
    eventually(Duration::from_secs(5), "the VIP goes dark", move || !dark()).await;
    let (_, vips) = app.get_json("/api/v1/vips").await;
    let listed = vips.as_array().and_then(|v| v.iter().find(|v| v["service"] == GATEWAY_SERVICE)).expect("listed").clone();
    assert_eq!((listed["labelled"].clone(), listed["announced"].clone()), (json!(false), json!(false)), "{listed}");
    assert_eq!(app.get_json("/api/v1/label-fix").await.1, json!({"enabled": false}));

    let (status, _) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": true})).await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(5), "the VIP comes back", announced).await;
}

async fn teardown_deletes_in_reverse_and_releases_vips(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let (_, pools) = app.get_json("/api/v1/environments/dev/pools").await;
    let pool = pools[0]["id"].as_i64().expect("the dev pool");
    let (status, allocation) =
        app.post_json(&format!("/api/v1/pools/{pool}/allocations"), &json!({"owner": "team-a", "application": "api"})).await;
    assert_eq!(status, 201, "{allocation}");
    let address = allocation["address"].as_str().expect("an address").to_owned();
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");

    let response = app.client.delete(app.at("/api/v1/applications/api/environments/dev")).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 202);
    let id = response.json::<Value>().await.expect("json")["id"].as_i64().expect("an id");
    let done = settled(app, id).await;
    assert_eq!(done["status"], "torn_down", "{done:#}");
    assert_eq!(done["operation"], "teardown");
    let order: Vec<String> = objects(&done).iter().map(|(k, _, _)| k.clone()).collect();
    assert_eq!(order, ["HTTPRoute", "Gateway", "Service", "Deployment", "Secret", "ConfigMap", "Namespace"]);
    assert!(objects(&done).iter().all(|(_, _, state)| state == "deleted"), "{done:#}");
    assert!(done["message"].as_str().is_some_and(|m| m.contains(&address)), "{done:#}");
    assert!(fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_none(), "the generated Service went with its Gateway");
    let (status, _) = app.get_json(&format!("/api/v1/allocations/{address}")).await;
    assert_eq!(status, 404, "the VIP is released");
    let pools: Api<kube::api::DynamicObject> = Api::all_with(
        fixture.client().await,
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("cilium.io", "v2", "CiliumLoadBalancerIPPool"),
            "ciliumloadbalancerippools",
        ),
    );
    assert!(pools.get_opt("dev-vips").await.expect("answers").is_some(), "the environment's pool stays for other applications");
}

fn failed_object(submission: &Value) -> Value {
    submission["objects"].as_array().and_then(|o| o.iter().find(|o| o["state"] == "failed")).cloned().unwrap_or(Value::Null)
}

fn states(submission: &Value) -> Vec<String> {
    objects(submission).into_iter().map(|(kind, _, state)| format!("{kind}:{state}")).collect()
}

async fn unreachable_cluster_is_explained(kind: DbKind) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("an address").port();
    drop(closed);
    let kubeconfig = json!({"apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": format!("http://127.0.0.1:{port}")}}],
        "users": [{"name": "u", "user": {}}], "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]});
    let (app, _dir) = portal(kind, &kubeconfig.to_string()).await;
    let done = settled(&app, submit(&app, "dev", false).await).await;
    assert_eq!(done["status"], "failed");
    assert!(done["message"].as_str().is_some_and(|m| m.contains("cluster_unreachable") && m.contains("nothing was applied")), "{done:#}");
    assert_eq!(failed_object(&done)["kind"], "Namespace");
    let (status, clusters) = app.get_json("/api/v1/clusters").await;
    assert_eq!(status, 200);
    assert_eq!(clusters[0]["reachable"], false);
    assert_eq!(clusters[0]["failure"]["code"], "cluster_unreachable");
}

async fn expired_credentials_are_explained(kind: DbKind) {
    let fixture = Fixture::with(kind, CiliumBehaviour::default(), Some("s3cret")).await;
    let (_, clusters) = fixture.app.get_json("/api/v1/clusters").await;
    assert_eq!(clusters[0]["reachable"], true, "{clusters:#}");
    fixture.sim.set_access(Access { token: Some("s3cret".into()), expired: true, ..Access::default() });
    let done = settled(&fixture.app, submit(&fixture.app, "dev", false).await).await;
    assert_eq!(done["status"], "failed");
    let failed = failed_object(&done);
    assert_eq!(failed["kind"], "Namespace");
    assert!(failed["message"].as_str().is_some_and(|m| m.contains("Unauthorized") && m.contains("renew")), "{failed}");
    assert!(done["message"].as_str().is_some_and(|m| m.contains("credentials_rejected")), "{done:#}");
}

async fn rbac_forbidden_records_what_was_applied(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    fixture.sim.set_access(Access { forbidden: vec![("patch".into(), "deployments".into())], ..Access::default() });
    let done = settled(&fixture.app, submit(&fixture.app, "dev", false).await).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(
        states(&done),
        ["Namespace:applied", "ConfigMap:applied", "Secret:applied", "Deployment:failed", "Service:skipped",
         "CiliumLoadBalancerIPPool:skipped", "CiliumL2AnnouncementPolicy:skipped", "Gateway:skipped", "HTTPRoute:skipped"]
    );
    let failed = failed_object(&done);
    assert!(failed["answer"].as_str().is_some_and(|m| m.contains("cannot patch resource \"deployments\"")), "{failed}");
    assert!(failed["message"].as_str().is_some_and(|m| m.contains("RBAC")), "{failed}");
    assert!(done["message"].as_str().is_some_and(|m| m.contains("forbidden") && m.contains("Secret cd-service-dev/api-tls")), "{done:#}");
}

/// A Deployment from the bundle, as another tool would have applied it.
async fn deployment_from_bundle(app: &TestApp) -> Value {
    let yaml = app.get("/api/v1/applications/api/bundle.yaml?environment=dev").await.text().await.expect("the bundle");
    yaml.split("---\n")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| serde_yaml::from_str::<Value>(doc).expect("YAML"))
        .find(|doc| doc["kind"] == "Deployment")
        .expect("a Deployment")
}

async fn apply(client: &Client, manager: &str, object: &Value) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), DEV_NAMESPACE);
    deployments.patch("api", &PatchParams::apply(manager).force(), &Patch::Apply(object)).await.expect("the Deployment is applied");
}

/// Gatehouse's Deployment, then someone scales it with kubectl: the next submission finds
/// `kubectl` owning `.spec.replicas` with another value (the object is still Gatehouse's, so
/// the apply goes ahead and the API server answers the conflict).
async fn field_manager_conflict_is_explained(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    assert_eq!(settled(&fixture.app, submit(&fixture.app, "dev", false).await).await["status"], "ready");
    let scaled = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": DEV_NAMESPACE},
                        "spec": {"replicas": 1}});
    apply(&fixture.client().await, "kubectl", &scaled).await;
    let done = settled(&fixture.app, submit(&fixture.app, "dev", false).await).await;
    assert_eq!(done["status"], "failed");
    let failed = failed_object(&done);
    assert_eq!(failed["kind"], "Deployment");
    assert!(failed["answer"].as_str().is_some_and(|m| m.contains("conflict with \"kubectl\"") && m.contains(".spec.replicas")), "{failed}");
    assert!(done["message"].as_str().is_some_and(|m| m.contains("field_manager_conflict")), "{done:#}");
}

async fn rejected_object_is_explained(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let mut deployment = deployment_from_bundle(&fixture.app).await;
    // An earlier apply with another selector: selectors are immutable, so the API server
    // rejects Gatehouse's Deployment with 422.
    deployment["spec"]["selector"] = json!({"matchLabels": {"app": "api"}});
    deployment["spec"]["template"]["metadata"]["labels"]["app"] = json!("api");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(fixture.client().await);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": DEV_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "gatehouse"}}});
    namespaces.patch(DEV_NAMESPACE, &PatchParams::apply("gatehouse"), &Patch::Apply(&namespace)).await.expect("namespace");
    apply(&fixture.client().await, "gatehouse", &deployment).await;
    let done = settled(&fixture.app, submit(&fixture.app, "dev", false).await).await;
    assert_eq!(done["status"], "failed");
    let failed = failed_object(&done);
    assert_eq!(failed["kind"], "Deployment");
    assert!(failed["answer"].as_str().is_some_and(|m| m.contains("field is immutable")), "{failed}");
    assert!(done["message"].as_str().is_some_and(|m| m.contains("object_rejected")), "{done:#}");
}

async fn approvals_need_someone_else(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let id = submit(app, "prod", false).await;
    let (_, waiting) = app.get_json(&format!("/api/v1/submissions/{id}")).await;
    assert_eq!(waiting["status"], "awaiting_approval", "prod is protected");
    assert!(objects(&waiting).iter().all(|(_, _, state)| state == "pending"));
    let (status, body) = app.post_json(&format!("/api/v1/submissions/{id}/approve"), &json!({})).await;
    assert_eq!(status, 403, "the requester cannot approve their own: {body}");
    assert_eq!(body["error"]["code"], "own_submission");

    // A viewer may not approve; another network admin may.
    let approve = format!("/api/v1/submissions/{id}/approve");
    let viewer = app.client_as(domain::access::Role::Viewer, "").await;
    let response = viewer.post(app.at(&approve)).json(&json!({})).send().await.expect("the request");
    assert_eq!(response.status(), 403, "viewers do not approve");
    let network_admin = app.client_as(domain::access::Role::NetworkAdmin, "").await;
    let response = network_admin.post(app.at(&approve)).json(&json!({})).send().await.expect("the request");
    assert_eq!(response.status(), 202, "another person approves");
    let done = settled(app, id).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let approver = done["approved_by"].as_str().expect("who approved");
    assert!(approver.starts_with("network-admin-") && approver.ends_with("(token:tests)"), "{approver}");
    assert_eq!(done["requested_by"], crate::harness::ADMIN_ACTOR);
    let vip = fixture.sim.vip("cd-service", "cilium-gateway-api-prod").expect("the prod Gateway's Service");
    assert_eq!(vip.address.as_deref(), Some("192.168.101.240"), "the requested VIP");
    assert!(!vip.announcement.bgp_advertisements.is_empty() && !vip.announcement.l2_policies.is_empty(), "{vip:?}");
    let (status, _) = app.post_json(&format!("/api/v1/submissions/{id}/approve"), &json!({})).await;
    assert_eq!(status, 409, "approved once");
}

async fn capabilities_of_the_simulated_cluster(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let (status, clusters) = fixture.app.get_json("/api/v1/clusters").await;
    assert_eq!(status, 200);
    let cluster = &clusters[0];
    assert_eq!(cluster["server_version"], "v1.32.0-gatehouse-sim");
    let capabilities = cluster["capabilities"].as_array().expect("capabilities");
    assert!(capabilities.iter().all(|c| c["present"] == true), "{cluster:#}");
    assert!(capabilities.iter().any(|c| c["name"] == "GatewayClass cilium, accepted"));
}

async fn a_rejected_submission_applies_nothing(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let id = submit(app, "prod", false).await;
    let (status, waiting) = app.get_json("/api/v1/approvals").await;
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(
        waiting
            .as_array()
            .map(|list| list.iter().map(|s| s["id"].as_i64()).collect::<Vec<_>>()),
        Some(vec![Some(id)])
    );

    let reject = format!("/api/v1/submissions/{id}/reject");
    let (status, body) = app.post_json(&reject, &json!({"reason": "  "})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "reason");
    let viewer = app.client_as(domain::access::Role::Viewer, "").await;
    let response = viewer
        .post(app.at(&reject))
        .json(&json!({"reason": "no"}))
        .send()
        .await
        .expect("the request");
    assert_eq!(response.status(), 403, "viewers do not reject");

    // The requester may withdraw their own.
    let (status, rejected) = app
        .post_json(&reject, &json!({"reason": "wrong hostname for prod"}))
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["message"],
        format!(
            "rejected by {}: wrong hostname for prod",
            crate::harness::ADMIN_ACTOR
        )
    );
    assert!(
        objects(&rejected)
            .iter()
            .all(|(_, _, state)| state == "skipped"),
        "{rejected:#}"
    );
    let (_, waiting) = app.get_json("/api/v1/approvals").await;
    assert_eq!(waiting, json!([]));
    let (status, body) = app.post_json(&reject, &json!({"reason": "again"})).await;
    assert_eq!(status, 409, "{body}");
    let network_admin = app
        .client_as(domain::access::Role::NetworkAdmin, "")
        .await;
    let response = network_admin
        .post(app.at(&format!("/api/v1/submissions/{id}/approve")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        409,
        "a rejected submission is not approved"
    );
    assert!(
        fixture
            .sim
            .vip("cd-service", "cilium-gateway-api-prod")
            .is_none(),
        "nothing reached the cluster"
    );
    let (_, audit) = app.get_json("/api/v1/audit?action=submission.reject").await;
    assert!(
        audit.to_string().contains(&format!("submission/{id}")),
        "{audit}"
    );
}

async fn live_view_shows_pods_and_whether_each_vip_is_announced(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let done = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let page = || async {
        let response = app.get("/topology/live/api?environment=dev").await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    let html = page().await;
    for expected in [
        "api: live from the cluster",
        "Node node-1",
        "192.168.101.11 · Ready",
        "Gateway api-dev",
        "Service cilium-gateway-api-dev",
        "announced by L2 policy",
        "Text version",
    ] {
        assert!(html.contains(expected), "{expected} in the live page");
    }
    // Every replica is a pod on a node, with an address from that node's pod CIDR.
    assert!(
        html.contains("3 nodes, 3 pods, 1 Gateway,"),
        "the summary counts them"
    );
    for (node, ip) in [
        ("node-1", "10.0.1.10"),
        ("node-2", "10.0.2.10"),
        ("node-3", "10.0.3.10"),
    ] {
        assert!(
            html.contains(&format!("Node {node} at 192.168.101."))
                && html.contains(&format!("{ip} · Ready")),
            "{node}"
        );
    }

    let response = app
        .get("/api/v1/topology/live/api.svg?environment=dev")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "image/svg+xml; charset=utf-8"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("announced by L2 policy")
    );

    // Without the label fix the generated Service loses its label, and the view says so.
    let (status, _) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/label-fix",
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let html = page().await;
        if html.contains("NO VIP: without the advertisement label")
            && html.contains("NOT announced: Service cilium-gateway-api-dev")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the live view shows the VIP dark: {}",
            &html[html.find("aria-label=\"Service cilium").unwrap_or(0)..][..600]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, body) = app.get_json("/api/v1/topology/live/nope.svg").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("application_not_found")),
        "{body}"
    );
}

/// Sends `environment` to `cluster` in the application's own namespace, unprotected.
async fn place(app: &TestApp, environment: &str, cluster: &str) {
    let path = format!("/api/v1/environments/{environment}");
    let (_, mut stored) = app.get_json(&path).await;
    stored["cluster"] = json!(cluster);
    stored.as_object_mut().expect("an environment").remove("namespace_template");
    stored["protected"] = json!(false);
    let (status, body) = app.send_json(reqwest::Method::PUT, &path, &stored).await;
    assert_eq!(status, 200, "{body}");
}

/// Each VIP of `GET /api/v1/vips` as (cluster, Service).
async fn vip_clusters(app: &TestApp) -> Vec<[String; 2]> {
    let (_, vips) = app.get_json("/api/v1/vips").await;
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    vips.as_array().expect("a list").iter().map(|v| [text(v, "cluster"), text(v, "service")]).collect()
}

/// `--simulated-cluster prod-sim` starts a second simulated cluster beside the default one,
/// so a demo can send prod to a cluster of its own.
async fn simulated_clusters_stand_beside_the_default(kind: DbKind) {
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.demo = true;
        config.apply_timeout_secs = 5;
        config.simulated_clusters = vec!["prod-sim".to_owned()];
    })
    .await;
    place(&app, "prod", "prod-sim").await;
    let (_, clusters) = app.get_json("/api/v1/clusters").await;
    let placement: Vec<(&str, &str, &Value)> = clusters
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| (c["cluster"].as_str().unwrap_or_default(), c["source"].as_str().unwrap_or_default(), &c["environments"]))
        .collect();
    assert_eq!(placement, [("default", "simulated", &json!(["dev"])), ("prod-sim", "simulated", &json!(["prod"]))]);
    assert!(clusters.as_array().is_some_and(|c| c.iter().all(|c| c["reachable"] == true)), "{clusters}");

    for environment in ["dev", "prod"] {
        let done = settled(&app, submit(&app, environment, false).await).await;
        assert_eq!(done["status"], "ready", "{done:#}");
    }
    assert_eq!(vip_clusters(&app).await, [["default", "cilium-gateway-api-dev"], ["prod-sim", "cilium-gateway-api-prod"]]);
}

/// Dev goes to cluster `east`, prod to `west` (a Cilium that does not copy infrastructure
/// labels, so only the reconciler announces prod's VIP); the default cluster gets nothing.
/// In clusters of their own both keep the application's namespace. An environment moved to
/// a cluster Gatehouse does not know is refused with what to configure.
async fn environments_go_to_their_own_clusters(kind: DbKind) {
    let default = simulated(CiliumBehaviour::default(), None).await;
    let east = simulated(CiliumBehaviour::default(), None).await;
    let west = simulated(CiliumBehaviour { copies_infrastructure_labels: false, ..CiliumBehaviour::default() }, None).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = |name: &str, sim: &SimCluster| {
        let path = dir.path().join(name);
        std::fs::write(&path, sim.kubeconfig(None)).expect("the kubeconfig is written");
        path
    };
    let (default_path, east_path, west_path) = (kubeconfig("default", &default), kubeconfig("east", &east), kubeconfig("west", &west));
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.demo = true;
        config.kubeconfig = Some(default_path);
        config.apply_timeout_secs = 5;
        config.clusters = vec![
            ClusterSpec { name: "east".to_owned(), kubeconfig: east_path, context: None },
            ClusterSpec { name: "west".to_owned(), kubeconfig: west_path, context: Some("simulated".to_owned()) },
        ];
    })
    .await;

    place(&app, "dev", "east").await;
    place(&app, "prod", "west").await;
    // Without its template dev puts api in cd-service, which must own dev's certificate too.
    let (_, certificates) = app.get_json("/api/v1/environments/dev/certificates").await;
    let dev_tls = certificates[0]["id"].as_i64().expect("dev's certificate");
    let owners = json!({"owners": ["cd-service", "cd-service-dev"]});
    assert_eq!(app.send_json(reqwest::Method::PUT, &format!("/api/v1/certificates/{dev_tls}/owners"), &owners).await.0, 200);
    let (_, checklist) = app.get_json("/api/v1/applications/api/checklist").await;
    assert!(checklist["passed"].as_array().is_some_and(|p| p.contains(&json!("GH-ENV-NAMESPACE"))), "{checklist}");

    let (status, clusters) = app.get_json("/api/v1/clusters").await;
    assert_eq!(status, 200, "{clusters}");
    let placement: Vec<(&str, Vec<&str>, bool)> = clusters
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            let environments = c["environments"].as_array().expect("environments").iter().filter_map(Value::as_str).collect();
            (c["cluster"].as_str().unwrap_or_default(), environments, c["reachable"] == true)
        })
        .collect();
    assert_eq!(placement, [("default", vec![], true), ("east", vec!["dev"], true), ("west", vec!["prod"], true)]);
    assert!(clusters[2]["source"].as_str().is_some_and(|s| s.contains("context simulated")), "{clusters}");

    for (environment, sim, other, cluster) in [("dev", &east, &west, "east"), ("prod", &west, &east, "west")] {
        let done = settled(&app, submit(&app, environment, false).await).await;
        assert_eq!((done["status"].as_str(), done["cluster"].as_str()), (Some("ready"), Some(cluster)), "{done:#}");
        let service = format!("cilium-gateway-api-{environment}");
        let announced = || sim.vip("cd-service", &service).is_some_and(|vip| vip.is_announced());
        eventually(Duration::from_secs(5), "the Gateway's VIP is announced in its own cluster", announced).await;
        assert!(other.vip("cd-service", &service).is_none(), "{environment} reached only its own cluster");
    }
    assert!(default.vips().is_empty(), "nothing went to the default cluster");
    let prod = west.vip("cd-service", "cilium-gateway-api-prod").expect("prod's generated Service");
    assert_eq!(prod.address.as_deref(), Some("192.168.101.240"), "prod's fixed VIP");

    assert_eq!(vip_clusters(&app).await, [["east", "cilium-gateway-api-dev"], ["west", "cilium-gateway-api-prod"]]);
    let (status, drift) = app.get_json("/api/v1/drift").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(drift["pools"], json!([]), "each cluster has its own environment's pool: {drift}");
    let live = app.get("/api/v1/topology/live/api.svg?environment=prod").await.text().await.expect("the live view");
    assert!(live.contains("Cluster west"), "the live view reads prod's cluster");

    place(&app, "dev", "nowhere").await;
    let (status, body) =
        app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev", "dry_run": false})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("cluster_not_configured")), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("--cluster nowhere=KUBECONFIG")), "{body}");
    let (_, clusters) = app.get_json("/api/v1/clusters").await;
    let missing = clusters.as_array().and_then(|c| c.iter().find(|c| c["cluster"] == "nowhere")).expect("the missing cluster is listed");
    assert_eq!((missing["source"].as_str(), missing["environments"].clone()), (Some("not configured"), json!(["dev"])), "{missing}");
    assert_eq!(missing["failure"]["code"], "cluster_not_configured");
}

/// A portal started with no kubeconfig, no in-cluster account and no `--demo` submits to no
/// stand-in: the default cluster is not configured, a submission is refused with what to
/// configure, and the Clusters page and API say so.
async fn without_a_configured_cluster_nothing_is_simulated(kind: DbKind) {
    let database = TestApp::spawn_demo(kind).await.stop().await;
    let app = TestApp::spawn_with(database, |config| config.demo = false).await;
    let (status, body) =
        app.post_json("/api/v1/applications/api/submissions", &json!({"environment": "dev", "dry_run": false})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("cluster_not_configured")), "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("--kubeconfig") && message.contains("--in-cluster") && message.contains("--demo"), "{message}");
    let (status, clusters) = app.get_json("/api/v1/clusters").await;
    assert_eq!(status, 200, "{clusters}");
    let clusters = clusters.as_array().expect("a list");
    assert!(clusters.iter().all(|c| c["source"] != "simulated"), "no simulated cluster: {clusters:?}");
    let default = clusters.iter().find(|c| c["cluster"] == "default").expect("the default cluster is listed");
    assert_eq!((default["source"].as_str(), default["reachable"].as_bool()), (Some("not configured"), Some(false)), "{default}");
    assert_eq!(default["environments"], json!(["dev", "prod"]));
    assert!(default["failure"]["hint"].as_str().is_some_and(|hint| hint.contains("--kubeconfig")), "{default}");
    let page = app.get("/clusters").await.text().await.expect("the page");
    assert!(page.contains("not configured") && page.contains("--kubeconfig"), "the Clusters page says what to add");
    app.stop().await;
}

/// One cluster that cannot be reached does not blind Gatehouse to the others: the VIP report,
/// drift and import answer with the healthy cluster's data and the dead one's failure, and the
/// pages show both.
async fn one_dead_cluster_does_not_hide_the_others(kind: DbKind) {
    let healthy = simulated(CiliumBehaviour::default(), None).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let default_path = dir.path().join("default");
    std::fs::write(&default_path, healthy.kubeconfig(None)).expect("the kubeconfig is written");
    // A port nothing listens on any more: the API server is gone.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let dead_path = dir.path().join("west");
    let dead = json!({"apiVersion": "v1", "kind": "Config", "current-context": "west",
        "clusters": [{"name": "west", "cluster": {"server": format!("http://127.0.0.1:{dead_port}")}}],
        "users": [{"name": "gatehouse", "user": {}}],
        "contexts": [{"name": "west", "context": {"cluster": "west", "user": "gatehouse"}}]});
    std::fs::write(&dead_path, dead.to_string()).expect("the kubeconfig is written");
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| {
        config.demo = true;
        config.kubeconfig = Some(default_path);
        config.apply_timeout_secs = 5;
        config.clusters = vec![ClusterSpec { name: "west".to_owned(), kubeconfig: dead_path, context: None }];
    })
    .await;
    place(&app, "prod", "west").await;
    assert_eq!(settled(&app, submit(&app, "dev", false).await).await["status"], "ready");

    let (status, report) = app.get_json("/api/v1/vips/report").await;
    assert_eq!(status, 200, "{report}");
    let vips = report["vips"].as_array().expect("the VIPs");
    assert!(vips.iter().any(|v| v["cluster"] == "default" && v["service"] == GATEWAY_SERVICE), "the healthy cluster's VIPs: {report:#}");
    let unreadable = report["unreadable"].as_array().expect("the unreadable clusters");
    assert_eq!(unreadable.len(), 1, "{report:#}");
    assert!(unreadable[0].as_str().is_some_and(|m| m.contains("cluster west") && m.contains("cannot reach")), "{report:#}");
    assert_eq!(app.get_json("/api/v1/vips").await.0, 502, "the plain list still answers only whole");

    for path in ["/api/v1/drift", "/api/v1/import"] {
        let (status, answer) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}: {answer}");
        let unreadable = answer["unreadable"].as_array().expect("the unreadable clusters");
        assert!(unreadable.len() == 1 && unreadable[0].as_str().is_some_and(|m| m.contains("cluster west")), "{path}: {answer:#}");
    }
    let page = app.get("/vips").await.text().await.expect("the VIPs page");
    assert!(page.contains("Not every cluster could be read") && page.contains(GATEWAY_SERVICE), "the VIPs page shows both");
    app.stop().await;
}

on_both_databases!(
    the_applications_page_shows_each_targets_latest_submission,
    a_first_preview_accounts_for_the_namespace_it_creates,
    one_dead_cluster_does_not_hide_the_others,
    without_a_configured_cluster_nothing_is_simulated,
    environments_go_to_their_own_clusters,
    simulated_clusters_stand_beside_the_default,
    seed_example_reaches_ready,
    dry_run_changes_nothing,
    preview_diffs_against_the_cluster,
    checklist_errors_block_a_submission,
    label_fix_labels_the_generated_service,
    label_fix_switch_turns_the_vip_dark_and_back,
    teardown_deletes_in_reverse_and_releases_vips,
    unreachable_cluster_is_explained,
    expired_credentials_are_explained,
    rbac_forbidden_records_what_was_applied,
    field_manager_conflict_is_explained,
    rejected_object_is_explained,
    approvals_need_someone_else,
    a_rejected_submission_applies_nothing,
    live_view_shows_pods_and_whether_each_vip_is_announced,
    capabilities_of_the_simulated_cluster,
);

/// The simulated API server refuses what a real one refuses, with a Kubernetes Status.
#[tokio::test]
async fn simulated_cluster_answers_like_an_api_server() {
    let sim = simulated(CiliumBehaviour::default(), None).await;
    let client = kube_client(&sim.kubeconfig(None)).await;
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), "default");
    let unknown_field = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {}});
    match config_maps.patch("c", &PatchParams::apply("test"), &Patch::Apply(&unknown_field)).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"), "{status:?}");
            assert!(status.message.contains("spec"), "{status:?}");
        }
        other => panic!("expected 422, got {other:?}"),
    }
    match config_maps.get("missing").await {
        Err(kube::Error::Api(status)) => assert_eq!((status.code, status.reason.as_str()), (404, "NotFound")),
        other => panic!("expected 404, got {other:?}"),
    }
    let good = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let created = config_maps.patch("c", &PatchParams::apply("one"), &Patch::Apply(&good)).await.expect("applied");
    let changed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
    match config_maps.patch("c", &PatchParams::apply("two"), &Patch::Apply(&changed)).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 409, "{status:?}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = config_maps.patch("c", &PatchParams::apply("two").force(), &Patch::Apply(&changed)).await.expect("forced");
    assert_eq!(forced.data.as_ref().and_then(|d| d.get("a")).map(String::as_str), Some("2"));
    // A stale resourceVersion on update is a conflict.
    let mut stale = created.clone();
    stale.data = Some([("a".to_owned(), "3".to_owned())].into());
    match config_maps.replace("c", &Default::default(), &stale).await {
        Err(kube::Error::Api(status)) => assert_eq!((status.code, status.reason.as_str()), (409, "Conflict")),
        other => panic!("expected a resourceVersion conflict, got {other:?}"),
    }
    let dry = config_maps
        .patch("d", &PatchParams::apply("one").dry_run(), &Patch::Apply(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}})))
        .await
        .expect("a dry run");
    assert_eq!(dry.metadata.name.as_deref(), Some("d"));
    assert!(config_maps.get_opt("d").await.expect("answers").is_none(), "a dry run stores nothing");
}

/// The same flow against a real cluster when GATEHOUSE_TEST_KUBECONFIG names one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cluster_when_configured() {
    let Ok(path) = std::env::var("GATEHOUSE_TEST_KUBECONFIG") else {
        eprintln!("SKIPPED real_cluster_when_configured: GATEHOUSE_TEST_KUBECONFIG is not set (name a kubeconfig of a cluster with Cilium and the Gateway API to run it)");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("the kubeconfig named by GATEHOUSE_TEST_KUBECONFIG");
    let (app, _dir) = portal(DbKind::Sqlite, &text).await;
    let (_, clusters) = app.get_json("/api/v1/clusters").await;
    eprintln!("real cluster capabilities: {clusters:#}");
    let done = settled(&app, submit(&app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let response = app.client.delete(app.at("/api/v1/applications/api/environments/dev")).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 202);
    let id = response.json::<Value>().await.expect("json")["id"].as_i64().expect("an id");
    assert_eq!(settled(&app, id).await["status"], "torn_down");
}
