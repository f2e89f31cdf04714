//! The stored plan: pools, applications, the checklist and conflicts, on both databases.
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{DbKind, FreshDatabase, TestApp};

async fn pools_are_stored_and_overlaps_are_refused(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (status, pools) = app.get_json("/api/v1/environments/dev/pools").await;
    assert_eq!(status, 200);
    assert_eq!(pools[0]["name"], "dev-vips");
    assert_eq!(pools[0]["size"], 16);
    assert_eq!(pools[0]["free"], 16);

    let (status, created) = app
        .post_json(
            "/api/v1/environments/dev/pools",
            &json!({"name": "dev-extra", "blocks": [{"start": "192.168.101.100", "stop": "192.168.101.109"}]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["environment"], "dev");
    assert_eq!(created["size"], 10);
    let id = created["id"].as_i64().unwrap();

    let (status, fetched) = app.get_json(&format!("/api/v1/pools/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["blocks"], json!([{"start": "192.168.101.100", "stop": "192.168.101.109"}]));

    // Overlapping the prod pool: refused with 409, naming the other pool, nothing stored.
    let (status, error) = app
        .post_json(
            "/api/v1/environments/dev/pools",
            &json!({"name": "dev-clash", "blocks": [{"cidr": "192.168.101.240/29"}]}),
        )
        .await;
    assert_eq!(status, 409, "{error}");
    assert!(error["error"]["rule"].as_str().unwrap().starts_with("GH-"), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("prod-vips"), "{error}");
    let (_, pools) = app.get_json("/api/v1/environments/dev/pools").await;
    assert_eq!(pools.as_array().map(Vec::len), Some(2));

    let (status, error) = app
        .post_json("/api/v1/environments/dev/pools", &json!({"name": "Bad_Name", "blocks": [{"cidr": "192.168.101.5/24"}]}))
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = error["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"blocks[0]"), "{error}");

    let (status, _) = app
        .send_json(Method::PUT, &format!("/api/v1/pools/{id}"), &json!({"name": "dev-extra", "blocks": [{"cidr": "192.168.101.96/28"}]}))
        .await;
    assert_eq!(status, 200);
    let (_, fetched) = app.get_json(&format!("/api/v1/pools/{id}")).await;
    assert_eq!(fetched["blocks"], json!([{"cidr": "192.168.101.96/28"}]));

    let response = app.client.delete(app.at(&format!("/api/v1/pools/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = app.get_json(&format!("/api/v1/pools/{id}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("pool_not_found")));
    let (status, _) = app.get_json("/api/v1/environments/staging/pools").await;
    assert_eq!(status, 404);

    // An environment with pools cannot be deleted.
    let response = app.client.delete(app.at("/api/v1/environments/dev")).send().await.unwrap();
    assert_eq!(response.status(), 409);
}

fn application() -> Value {
    json!({
        "name": "ledger", "namespace": "ledger", "image": "registry.example/ledger:2.0.1",
        "replicas": 2, "port": 8080,
        "readiness_path": "/ready", "liveness_path": "/live",
        "environments": {
            "dev": {"hostnames": ["ledger-dev.mdhlabs.com"], "paths": ["/"], "config": {"MODE": "dev"}, "certificate": "ledger-tls", "vip": "auto"},
            "prod": {"hostnames": ["ledger.mdhlabs.com"], "paths": ["/"], "config": {"MODE": "prod"}, "certificate": "ledger-tls", "vip": "192.168.101.245"}
        }
    })
}

async fn applications_are_stored_with_their_checklist(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (status, body) = app.post_json("/api/v1/applications", &application()).await;
    assert_eq!(status, 201, "{body}");
    let (_, list) = app.get_json("/api/v1/applications").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["api", "ledger"]);

    let (status, report) = app.get_json("/api/v1/applications/api/checklist").await;
    assert_eq!(status, 200);
    assert_eq!(report["errors"], 0, "the seed example passes: {report}");
    assert!(report["passed"].as_array().unwrap().iter().any(|r| r == "GH-POD-CIDR-DISTINCT"), "{report}");
    assert!(report["findings"].is_array());

    // The same hostname in both environments: an error finding that names the hostname.
    let mut same_host = application();
    same_host["environments"]["prod"]["hostnames"] = json!(["ledger-dev.mdhlabs.com"]);
    let (status, error) = app.send_json(Method::PUT, "/api/v1/applications/ledger", &same_host).await;
    assert!(status == 409 || status == 422, "{status} {error}");
    assert_eq!(error["error"]["rule"], "GH-HOSTNAME-DISTINCT");

    let mut unknown_env = application();
    unknown_env["environments"]["staging"] = json!({"hostnames": ["ledger-staging.mdhlabs.com"], "vip": "auto"});
    let (status, error) = app.send_json(Method::PUT, "/api/v1/applications/ledger", &unknown_env).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["field"], "environments.staging");

    let mut bad = application();
    bad["image"] = json!("Registry.Example/Ledger");
    bad["port"] = json!(70000);
    let (status, error) = app.post_json("/api/v1/applications", &bad).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = error["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"image") && fields.contains(&"port"), "{error}");

    let (status, _) = app.get_json("/api/v1/applications/nope/checklist").await;
    assert_eq!(status, 404);
    let (status, conflicts) = app.get_json("/api/v1/conflicts").await;
    assert_eq!(status, 200);
    assert!(conflicts["findings"].is_array());

    let response = app.client.delete(app.at("/api/v1/applications/ledger")).send().await.unwrap();
    assert_eq!(response.status(), 204);
}

async fn the_checklist_page_lists_each_application(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let html = app.get("/checklist").await.text().await.unwrap();
    assert!(html.contains("data-testid=\"checklist-api\""), "{html}");
    assert!(html.contains("GH-POD-CIDR-DISTINCT"));
    assert!(html.contains("rules passed"));
}


async fn outputs_are_served_for_the_cluster_and_the_router(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let response = app.get("/api/v1/applications/api/bundle.yaml?environment=prod").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let yaml = response.text().await.unwrap();
    for kind in ["kind: Namespace", "kind: ConfigMap", "kind: Deployment", "kind: Service", "kind: Gateway", "kind: HTTPRoute"] {
        assert!(yaml.contains(kind), "{kind} in the bundle");
    }
    assert!(yaml.contains("api.mdhlabs.com"));
    assert!(yaml.contains("gatehouse.io/advertise: prod"));

    let (status, error) = app.get_json("/api/v1/applications/api/bundle.yaml").await;
    assert_eq!((status, error["error"]["field"].as_str()), (400, Some("environment")));
    let (status, error) = app.get_json("/api/v1/applications/api/bundle.yaml?environment=staging").await;
    assert_eq!(status, 404, "{error}");
    let (status, _) = app.get_json("/api/v1/applications/nope/bundle.yaml?environment=dev").await;
    assert_eq!(status, 404);

    let cilium = app.get("/api/v1/environments/dev/cilium.yaml").await.text().await.unwrap();
    assert!(cilium.contains("kind: CiliumLoadBalancerIPPool") && cilium.contains("kind: CiliumL2AnnouncementPolicy"), "{cilium}");
    assert!(cilium.contains("192.168.101.192/28"));

    // The demo advertises by ARP: FRR is not needed, and the error says how to get it.
    let (status, error) = app.get_json("/api/v1/environments/dev/frr.conf").await;
    assert_eq!(status, 422, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("BGP"));

    let helm = app.get("/api/v1/environments/prod/helm-values.yaml").await.text().await.unwrap();
    assert!(helm.contains("l2announcements:") && helm.contains("gatewayAPI:"), "{helm}");

    let whole = app.get("/api/v1/bundle.yaml").await.text().await.unwrap();
    assert!(whole.contains("name: api-dev") && whole.contains("name: api-prod"));
}

async fn frr_is_generated_for_bgp_environments(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, mut prod) = app.get_json("/api/v1/environments/prod").await;
    prod["advertisement"]["mode"] = json!("both");
    prod["advertisement"]["bgp"] = json!({"local_asn": 65001, "peers": [{"name": "frr", "asn": 65000, "address": "192.168.101.1"}]});
    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/prod", &prod).await;
    assert_eq!(status, 200, "{body}");
    let response = app.get("/api/v1/environments/prod/frr.conf").await;
    assert_eq!(response.status(), 200);
    let config = response.text().await.unwrap();
    assert!(config.contains("router bgp 65000"), "{config}");
    assert!(config.contains("bgp listen range 192.168.101.0/24"), "{config}");
    assert!(config.contains("le 32"), "only /32 routes inside the VIP pools are accepted: {config}");
}

async fn conflicts_and_outputs_pages_render_from_the_plan(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let html = app.get("/pools/conflicts").await.text().await.unwrap();
    assert!(html.contains("Errors (0)"), "the demo plan is clean");
    // A second environment reusing dev's pod range shows up as a conflict.
    let db = backend::db::Database::connect(&app.database.url).await.unwrap();
    let plan = backend::plan::load_from(&db).await.unwrap();
    let mut staging = plan.environments[0].clone();
    staging.name = "staging".parse().unwrap();
    // Stored directly, as an older Gatehouse or a hand edit might have: the page must still
    // tell. A hand edit bumps the plan revision, as the README's Operations section says, so
    // that running portals load the plan again.
    sqlx::query("INSERT INTO environments (name, spec, created_at, updated_at) VALUES ($1, $2, 'x', 'x')")
        .bind("staging")
        .bind(serde_json::to_string(&staging).unwrap())
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE plan_revision SET revision = revision + 1").execute(db.pool()).await.unwrap();
    let html = app.get("/pools/conflicts").await.text().await.unwrap();
    assert!(html.contains("GH-POD-CIDR-DISTINCT"), "{html}");
    assert!(!html.contains("Errors (0)"));

    let html = app.get("/pools/outputs").await.text().await.unwrap();
    assert!(html.contains("data-testid=\"outputs-dev\""));
    assert!(html.contains("kind: CiliumLoadBalancerIPPool"));
    assert!(html.contains("FRR is only needed for BGP"), "the reason stands where the FRR file would");
    assert!(html.contains("href=\"/api/v1/environments/dev/cilium.yaml\""));
}

/// The plan every request reads is one shared snapshot, loaded again only when the stored
/// plan changed — by a save, an allocation or release (which do not bump the plan revision),
/// or another replica on the same database — and its report is checked once per change.
async fn the_shared_plan_snapshot_follows_every_change(kind: DbKind) {
    use std::sync::Arc;

    use backend::{allocations, applications, auth::Principal, db::Database, plan};

    let database = FreshDatabase::new(kind).await;
    let db = Database::connect(&database.url).await.expect("the database connects");
    let key = backend::certificates::SecretKey::parse(&backend::certificates::SecretKey::derived_text_for_tests(&database.url), "the test")
        .expect("a secret key");
    backend::demo::seed(&db, &key).await.expect("the demo is stored");
    let admin = Principal::system("snapshot-test");

    let first = plan::load_from(&db).await.unwrap();
    assert!(Arc::ptr_eq(&first, &plan::load_from(&db).await.unwrap()), "an unchanged plan is shared, not loaded again");
    let (_, report) = plan::checked(&db).await.unwrap();
    assert!(Arc::ptr_eq(&report, &plan::checked(&db).await.unwrap().1), "an unchanged plan is checked once");

    let dev_pool = first.pools.iter().find(|pool| pool.environment.as_str() == "dev").and_then(|pool| pool.id).unwrap();
    let request = allocations::AllocationRequest { address: None, owner: "team-a".to_owned(), application: None, reason: None };
    let held = allocations::allocate(&db, &admin, dev_pool, &request).await.unwrap();
    let after_allocation = plan::load_from(&db).await.unwrap();
    assert_eq!(after_allocation.allocations.len(), first.allocations.len() + 1, "an allocation is seen at once");
    assert!(after_allocation.allocations.iter().any(|a| a.address == held.address));

    allocations::release(&db, &admin, held.address, None).await.unwrap();
    let after_release = plan::load_from(&db).await.unwrap();
    assert_eq!(after_release.allocations.len(), first.allocations.len(), "a release is seen at once");

    // Another replica's save, through its own connection pool.
    let other = Database::connect(&database.url).await.expect("a second replica connects");
    let mut api = applications::get(&other, "api").await.unwrap().unwrap();
    api.replicas += 1;
    applications::update(&other, &Default::default(), &admin, &api).await.unwrap();
    let after_update = plan::load_from(&db).await.unwrap();
    assert_eq!(after_update.application("api").unwrap().replicas, api.replicas, "another replica's save is seen at once");
    let (checked_plan, checked_report) = plan::checked(&db).await.unwrap();
    assert!(Arc::ptr_eq(&checked_plan, &after_update) && !Arc::ptr_eq(&checked_report, &report), "a changed plan is checked again");

    // A save right after a read starts from the shared snapshot and its report, and is still
    // refused when it adds an error: a pool overlapping prod's.
    let mut clash = first.pools.iter().find(|pool| pool.environment.as_str() == "dev").unwrap().clone();
    clash.id = None;
    clash.name = "dev-clash".parse().unwrap();
    clash.blocks = vec![serde_json::from_value(json!({"cidr": "192.168.101.240/29"})).unwrap()];
    let refused = backend::pools::create(&db, &admin, &clash).await;
    assert!(matches!(refused, Err(backend::db::DbError::Rejected(_))), "{refused:?}");
    clash.name = "dev-extra".parse().unwrap();
    clash.blocks = vec![serde_json::from_value(json!({"start": "192.168.101.100", "stop": "192.168.101.109"})).unwrap()];
    backend::pools::create(&db, &admin, &clash).await.expect("a clean pool is stored");
    assert!(plan::load_from(&db).await.unwrap().pools.iter().any(|pool| pool.name.as_str() == "dev-extra"));
    other.close().await;
    db.close().await;
}

/// Many readers at once, more than the database pool has connections: every one answered.
/// (A reader that held a connection while the shared plan waited for another starved the
/// pool: the certificate list answered 503 after the pool's timeout under 16 clients.)
async fn readers_of_the_shared_plan_never_starve_the_pool(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    // A change, so that the first readers all find the snapshot stale at once.
    let (status, _) = app.post_json("/api/v1/pools/1/allocations", &json!({"owner": "team-a"})).await;
    assert!(status == 201 || status == 404, "{status}");
    let paths = ["/api/v1/certificates", "/api/v1/conflicts", "/api/v1/applications/api/checklist", "/certificates", "/checklist"];
    let requests = (0..40).map(|i| {
        let (client, url) = (app.new_client(), app.at(paths[i % paths.len()]));
        async move {
            let response = client.get(&url).timeout(std::time::Duration::from_secs(60)).send().await.expect("an answer");
            (url, response.status().as_u16())
        }
    });
    for (url, status) in futures_util::future::join_all(requests).await {
        assert_eq!(status, 200, "GET {url}");
    }
}

crate::on_both_databases!(
    readers_of_the_shared_plan_never_starve_the_pool,
    the_shared_plan_snapshot_follows_every_change,
    conflicts_and_outputs_pages_render_from_the_plan,
    pools_are_stored_and_overlaps_are_refused,
    applications_are_stored_with_their_checklist,
    the_checklist_page_lists_each_application,
    outputs_are_served_for_the_cluster_and_the_router,
    frr_is_generated_for_bgp_environments,
);

/// A write that finds SQLite still locked by another writer is "busy" — answered 503 with
/// `Retry-After`, not a 500: the same request succeeds a moment later.
#[tokio::test]
async fn a_locked_sqlite_database_is_busy_not_a_fault() {
    use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new().filename(dir.path().join("busy.db")).create_if_missing(true);
    let mut holder = options.clone().connect().await.unwrap();
    sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut holder).await.unwrap();
    let mut writer = options.busy_timeout(std::time::Duration::ZERO).connect().await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("INSERT INTO t VALUES (1)").execute(&mut *held).await.unwrap();
    let error = sqlx::query("INSERT INTO t VALUES (2)").execute(&mut writer).await.unwrap_err();
    let error = backend::db::DbError::Sqlx(error);
    assert!(error.is_busy(), "{error}");
    let answer = axum::response::IntoResponse::into_response(gatehouse::api::ApiError::from(error));
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    held.rollback().await.unwrap();
    assert!(!backend::db::DbError::NotFound("x".into()).is_busy());
}
