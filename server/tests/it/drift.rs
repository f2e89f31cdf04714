//! The drift report (`GET /api/v1/drift` and the VIPs page) against the simulated cluster,
//! read through the real kube client: both ways, before and after a submission, and with a
//! pool and a LoadBalancer Service made in the cluster behind the plan's back.
use domain::access::Role;
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::{Value, json};

use crate::{
    cluster::{Fixture, settled, submit},
    harness::DbKind,
    on_both_databases,
};

fn rows<'a>(drift: &'a Value, list: &str, key: &str) -> Vec<(&'a str, &'a str)> {
    drift[list].as_array().expect("a list").iter().map(|row| (row[key].as_str().unwrap_or_default(), row["drift"].as_str().unwrap_or_default())).collect()
}

async fn drift_is_reported_both_ways(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;

    // Nothing submitted: the plan's pools and prod's fixed VIP are not in the cluster.
    let (status, drift) = app.get_json("/api/v1/drift").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(rows(&drift, "pools", "name"), [("dev-vips", "plan_only"), ("prod-vips", "plan_only")]);
    assert_eq!(rows(&drift, "addresses", "address"), [("192.168.101.240", "plan_only")]);

    // dev submitted: its pool matches, and its Gateway's VIP is the one the plan holds for it.
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
    let (_, drift) = app.get_json("/api/v1/drift").await;
    assert_eq!(rows(&drift, "pools", "name"), [("prod-vips", "plan_only")]);
    assert_eq!(rows(&drift, "addresses", "address"), [("192.168.101.240", "plan_only")], "{drift:#}");

    // Forgotten by the plan, the Gateway's VIP is the cluster's alone.
    let response = app.client.delete(app.at("/api/v1/allocations/192.168.101.192")).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 204);
    let (_, drift) = app.get_json("/api/v1/drift").await;
    assert_eq!(rows(&drift, "addresses", "address"), [("192.168.101.192", "cluster_only"), ("192.168.101.240", "plan_only")]);
    assert_eq!(drift["addresses"][0]["service"], "cd-service-dev/cilium-gateway-api-dev");

    // A pool and a Service made in the cluster by hand.
    let client = fixture.client().await;
    let pools: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("cilium.io", "v2", "CiliumLoadBalancerIPPool")),
    );
    let legacy = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": "legacy"},
        "spec": {"blocks": [{"cidr": "192.168.101.160/29"}], "serviceSelector": {"matchLabels": {"gatehouse.io/advertise": "prod"}}}});
    pools.patch("legacy", &PatchParams::apply("someone-else"), &Patch::Apply(&legacy)).await.expect("the pool is applied");
    let services: Api<DynamicObject> = Api::namespaced_with(client, "default", &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Service")));
    let old = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "old", "namespace": "default", "labels": {"gatehouse.io/advertise": "prod"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP"}], "selector": {"app": "old"}}});
    services.patch("old", &PatchParams::apply("someone-else"), &Patch::Apply(&old)).await.expect("the Service is applied");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let drift = loop {
        let (_, drift) = app.get_json("/api/v1/drift").await;
        if rows(&drift, "addresses", "service").iter().any(|(service, _)| *service == "default/old") {
            break drift;
        }
        assert!(std::time::Instant::now() < deadline, "LB-IPAM gives the Service an address: {drift:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let legacy = drift["pools"].as_array().and_then(|p| p.iter().find(|p| p["name"] == "legacy")).expect("the cluster's own pool").clone();
    assert_eq!(legacy, json!({"name": "legacy", "drift": "cluster_only", "environment": "prod", "plan_blocks": [],
        "cluster_blocks": ["192.168.101.160/29"], "message": "pool legacy is in the cluster but not in the plan; it serves prod: add it to the plan"}));
    let old = drift["addresses"].as_array().and_then(|a| a.iter().find(|a| a["service"] == "default/old")).expect("the Service's VIP").clone();
    assert_eq!((old["address"].clone(), old["drift"].clone()), (json!("192.168.101.160"), json!("cluster_only")), "{old}");

    // The VIPs page shows the same.
    let html = app.get("/vips").await.text().await.unwrap_or_default();
    assert!(html.contains("data-pool=\"legacy\" data-drift=\"cluster_only\"") && html.contains("data-address=\"192.168.101.160\""), "{html}");
    assert!(html.contains("data-pool=\"prod-vips\" data-drift=\"plan_only\""));
    assert!(html.contains("data-import-pool=\"legacy\"") && html.contains("data-testid=\"import-button\""), "network admins may import");
}

/// A CiliumLoadBalancerIPPool made in the cluster by hand, selecting `environment`.
async fn pool_in_cluster(fixture: &Fixture, name: &str, cidr: &str, environment: &str) -> Api<DynamicObject> {
    let pools: Api<DynamicObject> = Api::all_with(
        fixture.client().await,
        &ApiResource::from_gvk(&GroupVersionKind::gvk("cilium.io", "v2", "CiliumLoadBalancerIPPool")),
    );
    let pool = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": name},
        "spec": {"blocks": [{"cidr": cidr}], "serviceSelector": {"matchLabels": {"gatehouse.io/advertise": environment}}}});
    pools.patch(name, &PatchParams::apply("someone-else"), &Patch::Apply(&pool)).await.expect("the pool is applied");
    pools
}

async fn import_takes_the_clusters_pools_and_vips_into_the_plan(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
    // The plan forgets the Gateway's VIP, as before Gatehouse held `auto` VIPs.
    let response = app.client.delete(app.at("/api/v1/allocations/192.168.101.192")).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 204);
    pool_in_cluster(&fixture, "legacy", "192.168.101.160/29", "prod").await;

    let (status, preview) = app.get_json("/api/v1/import").await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["pools"], json!([{"name": "legacy", "environment": "prod", "blocks": ["192.168.101.160/29"]}]));
    let gateway_vip = preview["addresses"][0].clone();
    assert_eq!((gateway_vip["pool"].clone(), gateway_vip["owner"].clone(), gateway_vip["application"].clone()),
        (json!("dev-vips"), json!("cd-service-dev/cilium-gateway-api-dev"), json!("api")), "{preview}");

    // Only network admins import.
    for role in [Role::Viewer, Role::AppTeam] {
        let client = app.client_as(role, "namespace:cd-service").await;
        let response = client.post(app.at("/api/v1/import")).send().await.expect("answers");
        assert_eq!(response.status(), 403, "{role:?}");
    }

    // A pool overlapping dev's makes the whole import refused: nothing is written.
    let pools = pool_in_cluster(&fixture, "overlap", "192.168.101.200/29", "dev").await;
    let (status, refused) = app.post_json("/api/v1/import", &json!({})).await;
    assert!(status == 409 || status == 422, "{status} {refused}");
    assert!(refused.to_string().contains("overlap"), "{refused}");
    let (_, listed) = app.get_json("/api/v1/environments/prod/pools").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "no pool was added: {listed}");
    pools.delete("overlap", &DeleteParams::default()).await.expect("the overlapping pool is deleted");

    let (status, imported) = app.post_json("/api/v1/import", &json!({})).await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["pools"], preview["pools"]);
    let (_, listed) = app.get_json("/api/v1/environments/prod/pools").await;
    assert!(listed.as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "legacy" && p["blocks"] == json!([{"cidr": "192.168.101.160/29"}]))), "{listed}");
    let address = gateway_vip["address"].as_str().expect("an address");
    let (_, held) = app.get_json(&format!("/api/v1/addresses/{address}")).await;
    assert_eq!((held["state"].clone(), held["owner"].clone()), (json!("allocated"), json!("Gateway cd-service-dev/api-dev")), "api's `auto` VIP again: {held}");

    // Nothing drifts from the cluster's side any more, and a second import finds nothing.
    let (_, drift) = app.get_json("/api/v1/drift").await;
    assert!(rows(&drift, "pools", "name").iter().chain(rows(&drift, "addresses", "address").iter()).all(|(_, d)| *d != "cluster_only"), "{drift:#}");
    let (_, again) = app.post_json("/api/v1/import", &json!({})).await;
    assert_eq!(again, json!({"pools": [], "addresses": [], "left_out": [], "unreadable": []}));
    let entries = backend::audit::list(&app.db, Some("cluster")).await.expect("the audit log");
    assert_eq!(entries.iter().filter(|e| e.action == "plan.import").count(), 1);
}

on_both_databases!(drift_is_reported_both_ways, import_takes_the_clusters_pools_and_vips_into_the_plan);
