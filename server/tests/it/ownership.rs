//! Gatehouse touches only what it made (issue 17, finding 2: "teardown deletes the Namespace
//! and same-named objects without checking that Gatehouse created them"). Someone else's
//! objects — another field manager, no `app.kubernetes.io/managed-by: gatehouse` label — in
//! the application's namespace, or the Namespace itself, survive a teardown; an apply onto
//! one of them is refused with a sentence that says what to do and changes nothing; a network
//! admin's adopt (audited) lets the next apply take it over. Real HTTP to the portal, the real
//! kube client to the simulated cluster, both databases.
use domain::access::Role;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::{
    cluster::{DEV_NAMESPACE, Fixture, settled, submit},
    harness::{DbKind, TestApp},
    on_both_databases,
};

/// What another team (or a person with kubectl) makes, as field manager `kubectl`.
async fn made_by_someone_else<K>(api: &Api<K>, name: &str, object: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.patch(name, &PatchParams::apply("kubectl"), &Patch::Apply(&object)).await.expect("someone else's object is applied");
}

fn someones_service(port: u16) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": DEV_NAMESPACE, "labels": {"team": "payments"}},
           "spec": {"selector": {"app": "payments"}, "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}]}})
}

fn someones_config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "payments-settings", "namespace": DEV_NAMESPACE},
           "data": {"owner": "payments"}})
}

fn row<'a>(submission: &'a Value, kind: &str) -> &'a Value {
    submission["objects"]
        .as_array()
        .and_then(|objects| objects.iter().find(|object| object["kind"] == kind))
        .unwrap_or_else(|| panic!("a {kind} row: {submission:#}"))
}

fn states(submission: &Value) -> Vec<String> {
    submission["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|object| format!("{}:{}", object["kind"].as_str().unwrap_or_default(), object["state"].as_str().unwrap_or_default()))
        .collect()
}

async fn tear_down(app: &TestApp) -> Value {
    let response = app.client.delete(app.at("/api/v1/applications/api/environments/dev")).send().await.expect("answers");
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id");
    settled(app, id).await
}

async fn adopt(client: &reqwest::Client, app: &TestApp, objects: Value) -> (u16, Value) {
    let response = client
        .post(app.at("/api/v1/applications/api/environments/dev/adopt"))
        .json(&json!({"objects": objects}))
        .send()
        .await
        .expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn managers(object: &impl kube::Resource) -> Vec<String> {
    object.meta().managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect()
}

fn exists<T>(found: Result<Option<T>, kube::Error>) -> bool {
    found.expect("the cluster answers").is_some()
}

/// A teardown deletes Gatehouse's objects and leaves someone else's: a Service of the same
/// name made by another team after Gatehouse's was deleted, and the Namespace Gatehouse
/// created while it holds that Service and another team's ConfigMap. Once those are gone,
/// the next teardown deletes the Namespace too.
async fn a_teardown_leaves_what_gatehouse_did_not_create(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
    let client: Client = fixture.client().await;
    let services: Api<Service> = Api::namespaced(client.clone(), DEV_NAMESPACE);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), DEV_NAMESPACE);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    services.delete("api", &DeleteParams::default()).await.expect("Gatehouse's Service is deleted by hand");
    made_by_someone_else(&services, "api", someones_service(9090)).await;
    made_by_someone_else(&config_maps, "payments-settings", someones_config_map()).await;

    let done = tear_down(app).await;
    assert_eq!(done["status"], "torn_down", "{done:#}");
    assert_eq!(
        states(&done),
        ["HTTPRoute:deleted", "Gateway:deleted", "Service:kept", "Deployment:deleted", "Secret:deleted", "ConfigMap:deleted", "Namespace:kept"]
    );
    let service = row(&done, "Service");
    assert_eq!(
        service["message"],
        "Service cd-service-dev/api is left in place: Gatehouse did not create it (no app.kubernetes.io/managed-by: gatehouse label)"
    );
    let namespace = row(&done, "Namespace")["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        namespace.starts_with("Namespace cd-service-dev is left in place: it still holds objects Gatehouse did not create (")
            && namespace.contains("ConfigMap cd-service-dev/payments-settings")
            && namespace.contains("Service cd-service-dev/api"),
        "{namespace}"
    );
    assert!(done["message"].as_str().is_some_and(|m| m.contains("left 2 in place")), "{done:#}");
    let kept = services.get("api").await.expect("someone else's Service is still there");
    assert_eq!(managers(&kept), ["kubectl"]);
    assert!(exists(config_maps.get_opt("payments-settings").await), "the other team's ConfigMap is still there");
    assert!(exists(namespaces.get_opt(DEV_NAMESPACE).await), "the Namespace is still there");

    // Their objects gone, the Namespace Gatehouse created goes at the next teardown.
    services.delete("api", &DeleteParams::default()).await.expect("deleted by its owner");
    config_maps.delete("payments-settings", &DeleteParams::default()).await.expect("deleted by its owner");
    let again = tear_down(app).await;
    assert_eq!(again["status"], "torn_down", "{again:#}");
    assert_eq!(row(&again, "Namespace")["state"], "deleted", "{again:#}");
    assert!(!exists(namespaces.get_opt(DEV_NAMESPACE).await), "Gatehouse created it, and nothing of anyone else's is in it");
}

/// A Namespace someone else made is never Gatehouse's: the submission is refused on it until
/// a network admin adopts it, and even then a teardown leaves it, since Gatehouse did not
/// create it.
async fn a_namespace_gatehouse_did_not_create_is_never_deleted(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let namespaces: Api<Namespace> = Api::all(fixture.client().await);
    made_by_someone_else(&namespaces, DEV_NAMESPACE, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEV_NAMESPACE}})).await;

    let refused = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(refused["status"], "failed", "{refused:#}");
    assert_eq!(row(&refused, "Namespace")["state"], "unmanaged");
    assert!(states(&refused).iter().skip(1).all(|state| state.ends_with(":skipped")), "nothing was applied: {refused:#}");
    assert_eq!(
        refused["message"],
        "Namespace cd-service-dev exists and Gatehouse did not create it (no app.kubernetes.io/managed-by: gatehouse label); a network admin can adopt it with POST /api/v1/applications/api/environments/dev/adopt {\"objects\": [{\"kind\": \"Namespace\", \"name\": \"cd-service-dev\"}]} (Adopt on the Applications page), or give the application another namespace (its namespace, or the environment's namespace template) (unmanaged_object); nothing was applied"
    );

    let network_admin = app.client_as(Role::NetworkAdmin, "").await;
    let (status, answer) = adopt(&network_admin, app, json!([{"kind": "Namespace", "name": DEV_NAMESPACE}])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["adopted"][0]["outcome"], "adopted");
    let done = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");

    let torn_down = tear_down(app).await;
    assert_eq!(torn_down["status"], "torn_down", "{torn_down:#}");
    let namespace = row(&torn_down, "Namespace");
    assert_eq!(namespace["state"], "kept");
    assert!(namespace["message"].as_str().is_some_and(|m| m.contains("Gatehouse has no record of creating it")), "{namespace}");
    assert!(exists(namespaces.get_opt(DEV_NAMESPACE).await));
}

/// An apply onto an existing object of the same name that Gatehouse did not create is
/// refused, with the sentence saying how to adopt it, and the object is left exactly as it
/// was. Only a network admin may adopt (403 for the roles below, whatever the route); the
/// adoption is audited, and the next submission takes the object over.
async fn an_apply_onto_someone_elses_object_is_refused_until_a_network_admin_adopts_it(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
    let services: Api<Service> = Api::namespaced(fixture.client().await, DEV_NAMESPACE);
    services.delete("api", &DeleteParams::default()).await.expect("Gatehouse's Service is deleted by hand");
    made_by_someone_else(&services, "api", someones_service(9090)).await;
    let before = services.get("api").await.expect("their Service");

    let refused = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(refused["status"], "failed", "{refused:#}");
    let service = row(&refused, "Service");
    assert_eq!(service["state"], "unmanaged");
    assert_eq!(
        service["message"],
        "Service cd-service-dev/api exists and Gatehouse did not create it (no app.kubernetes.io/managed-by: gatehouse label); a network admin can adopt it with POST /api/v1/applications/api/environments/dev/adopt {\"objects\": [{\"kind\": \"Service\", \"name\": \"api\"}]} (Adopt on the Applications page), or rename the application"
    );
    assert!(service["answer"].as_str().is_some_and(|a| a.contains("field managers kubectl")), "{service}");
    assert!(refused["objects"].as_array().expect("rows").iter().filter(|o| o["kind"] != "Service" || o["name"] != "api").all(|o| o["state"] == "skipped"));
    let after = services.get("api").await.expect("their Service");
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version, "the Service was not written");
    assert_eq!(after.spec, before.spec);

    // The preview says so too.
    let (status, preview) = app.get_json("/api/v1/applications/api/preview?environment=dev").await;
    assert_eq!(status, 200);
    let note = preview.as_array().and_then(|p| p.iter().find(|o| o["kind"] == "Service" && o["name"] == "api")).map(|o| o["note"].clone());
    assert!(note.as_ref().and_then(Value::as_str).is_some_and(|n| n.contains("exists and Gatehouse did not create it")), "{note:?}");

    // The Applications page shows the refusal on the object's row, with Adopt for network
    // admins only.
    let page = |client: reqwest::Client| async move {
        client.get(app.at("/applications")).send().await.expect("the page").text().await.expect("HTML")
    };
    let as_network_admin = page(app.client_as(Role::NetworkAdmin, "").await).await;
    assert!(as_network_admin.contains("data-state=\"unmanaged\"") && as_network_admin.contains("exists and Gatehouse did not create it"));
    assert!(as_network_admin.contains("data-testid=\"adopt-button\""), "network admins may adopt");
    let as_app_team = page(app.client_as(Role::AppTeam, "namespace:cd-service, namespace:cd-service-*").await).await;
    assert!(as_app_team.contains("data-state=\"unmanaged\"") && !as_app_team.contains("data-testid=\"adopt-button\""));

    // Below network admin: refused, with the role's reason; nothing changes.
    for role in [Role::Viewer, Role::AppTeam] {
        let client = app.client_as(role, "namespace:cd-service, namespace:cd-service-*").await;
        let (status, body) = adopt(&client, app, json!([{"kind": "Service", "name": "api"}])).await;
        assert_eq!(status, 403, "{role:?}: {body}");
    }
    let network_admin = app.client_as(Role::NetworkAdmin, "").await;
    let (status, body) = adopt(&network_admin, app, json!([{"kind": "Service", "name": "payments"}])).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!((body["error"]["code"].clone(), body["error"]["field"].clone()), (json!("not_in_bundle"), json!("objects[0]")), "{body}");
    let (status, body) = adopt(&network_admin, app, json!([])).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(services.get("api").await.expect("their Service").metadata.resource_version, before.metadata.resource_version);

    let (status, answer) = adopt(&network_admin, app, json!([{"kind": "Service", "name": "api"}])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["adopted"][0]["outcome"], "adopted", "{answer}");
    let labelled = services.get("api").await.expect("the Service");
    let labels = labelled.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("gatehouse"));
    assert_eq!(labelled.spec, before.spec, "adopting labels it; the next submission applies Gatehouse's version");
    let (status, again) = adopt(&network_admin, app, json!([{"kind": "Service", "name": "api", "namespace": DEV_NAMESPACE}])).await;
    assert_eq!(status, 200);
    assert_eq!(again["adopted"][0]["outcome"], "already_managed", "{again}");
    let (_, audit) = app.get_json("/api/v1/audit?action=cluster.adopt").await;
    let entries = audit.as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit:#}");
    assert_eq!(entries[0]["object"], "Service cd-service-dev/api");
    assert!(entries[0]["actor"].as_str().is_some_and(|a| a.starts_with("network-admin-")), "{audit:#}");

    let done = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let taken = services.get("api").await.expect("the Service");
    let selector = taken.spec.as_ref().and_then(|spec| spec.selector.clone()).unwrap_or_default();
    assert_eq!(selector.get("app.kubernetes.io/name").map(String::as_str), Some("api"), "Gatehouse's version: {selector:?}");
    assert!(managers(&taken).contains(&"gatehouse".to_owned()), "{:?}", managers(&taken));
    // Taken over once: the submission after it is an ordinary apply, and still ready.
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
}

/// The adopt use case checks the role itself: whatever adapter calls it, an app team is
/// refused before anything is read or written.
async fn the_adopt_service_refuses_an_app_team_whatever_calls_it(kind: DbKind) {
    use std::sync::Arc;

    use backend::{
        auth::{Principal, Via},
        certificates::SecretKey,
        cluster::{
            Clusters,
            submissions::{AdoptError, ObjectRef, Submitter},
        },
        db::Database,
    };

    let database = crate::harness::FreshDatabase::new(kind).await;
    let db = Database::connect(&database.url).await.expect("the database");
    let submitter = Submitter {
        clusters: Clusters::new(None, Vec::new()),
        db: db.clone(),
        secret_key: Arc::new(SecretKey::generate().expect("a key")),
        timeout: std::time::Duration::from_secs(1),
        tenancy: Default::default(),
        jobs: Default::default(),
    };
    let app_team = Principal {
        user_id: 7,
        name: "team-a".to_owned(),
        role: Role::AppTeam,
        scopes: Default::default(),
        via: Via::Password,
    };
    let objects = [ObjectRef { kind: "Service".to_owned(), name: "api".to_owned(), namespace: None }];
    match submitter.adopt(&app_team, "api", "dev", &objects).await {
        Err(AdoptError::Denied(denied)) => {
            assert_eq!(denied.code, "forbidden");
            assert_eq!(denied.message, "only the network admin role or above may adopt objects Gatehouse did not create; you are app team");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let entries = backend::audit::list(&db, None).await.expect("the audit log");
    assert!(entries.iter().all(|entry| entry.action != "cluster.adopt"), "nothing recorded");
}

on_both_databases!(
    the_adopt_service_refuses_an_app_team_whatever_calls_it,
    a_teardown_leaves_what_gatehouse_did_not_create,
    a_namespace_gatehouse_did_not_create_is_never_deleted,
    an_apply_onto_someone_elses_object_is_refused_until_a_network_admin_adopts_it,
);
