//! The drift report (`GET /api/v1/drift` and the VIPs page) against the simulated cluster,
//! read through the real kube client: both ways, before and after a submission, and with a
//! pool and a LoadBalancer Service made in the cluster behind the plan's back.
use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams},
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

    // dev submitted: its pool matches; its Gateway's VIP came from LB-IPAM, which the plan does not record.
    assert_eq!(settled(app, submit(app, "dev", false).await).await["status"], "ready");
    let (_, drift) = app.get_json("/api/v1/drift").await;
    assert_eq!(rows(&drift, "pools", "name"), [("prod-vips", "plan_only")]);
    let addresses = rows(&drift, "addresses", "address");
    assert_eq!(addresses.len(), 2, "{drift:#}");
    assert!(addresses[0].0.starts_with("192.168.101.19") && addresses[0].1 == "cluster_only", "{drift:#}");
    assert_eq!(drift["addresses"][0]["service"], "cd-service/cilium-gateway-api-dev");

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
}

on_both_databases!(drift_is_reported_both_ways);
