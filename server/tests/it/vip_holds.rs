//! The plan holds every VIP: an application's `auto` VIP is allocated from the plan when it
//! is submitted and requested from LB-IPAM by address, so the cluster and the plan never give
//! one address to two holders — under concurrent submissions and manual allocations, on both
//! databases — and the drift report names an address the two disagree on.
use std::collections::BTreeMap;

use backend::{
    allocations::AUTO_VIP_REASON,
    certificates::testing::{Encoding, TestKey, Validity, self_signed},
};
use futures_util::future::join_all;
use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::{Value, json};

use crate::{
    cluster::{DEV_NAMESPACE, Fixture, GATEWAY_SERVICE, settled},
    harness::{DbKind, TestApp},
    on_both_databases,
};

async fn dev_pool(app: &TestApp) -> i64 {
    let (status, pools) = app.get_json("/api/v1/environments/dev/pools").await;
    assert_eq!(status, 200, "{pools}");
    pools[0]["id"].as_i64().expect("the dev pool")
}

async fn submit(app: &TestApp, application: &str) -> i64 {
    let (status, body) = app
        .post_json(&format!("/api/v1/applications/{application}/submissions"), &json!({"environment": "dev"}))
        .await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_i64().expect("an id")
}

async fn next_free(app: &TestApp, pool: i64, owner: &str) -> String {
    let (status, body) = app.post_json(&format!("/api/v1/pools/{pool}/allocations"), &json!({"owner": owner})).await;
    assert_eq!(status, 201, "{body}");
    body["address"].as_str().expect("an address").to_owned()
}

/// The plan's allocated addresses of a pool: address → (owner, application, reason).
async fn plan_holders(app: &TestApp, pool: i64) -> BTreeMap<String, (String, String, String)> {
    let (status, rows) = app.get_json(&format!("/api/v1/pools/{pool}/allocations")).await;
    assert_eq!(status, 200, "{rows}");
    let text = |row: &Value, key: &str| row[key].as_str().unwrap_or_default().to_owned();
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|row| (text(row, "address"), (text(row, "owner"), text(row, "application"), text(row, "reason"))))
        .collect()
}

/// A second application, `shop`, with `vip: auto` in dev and its own certificate there.
async fn add_shop(app: &TestApp) {
    const HOST: &str = "shop-dev.mdhlabs.com";
    let shop = json!({
        "name": "shop", "namespace": "shop", "image": "registry.example/shop:2.0.1", "replicas": 1, "port": 8080,
        "environments": {"dev": {"hostnames": [HOST], "certificate": "shop-tls", "vip": "auto"}}
    });
    let (status, body) = app.post_json("/api/v1/applications", &shop).await;
    assert_eq!(status, 201, "{body}");
    let key = TestKey::p256();
    let certificate = self_signed(&[HOST], &key, Validity::YEAR);
    let (status, body) = app
        .post_json(
            "/api/v1/environments/dev/certificates",
            &json!({"name": "shop-tls", "certificate_pem": certificate, "private_key_pem": key.pem(Encoding::Pkcs8), "owners": ["shop-dev"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn an_auto_vip_is_held_by_the_plan_and_never_handed_out_again(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    let pool = dev_pool(app).await;

    let done = settled(app, submit(app, "api").await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let vip = fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).and_then(|v| v.address).expect("LB-IPAM assigned a VIP");
    assert_eq!(vip, "192.168.101.192", "the lowest free address of dev-vips, chosen by the plan");
    assert!(
        done["bundle"].as_str().is_some_and(|b| b.contains(&format!("addresses:\n    - type: IPAddress\n      value: \"{vip}\"\n"))),
        "the Gateway asks LB-IPAM for the plan's address: {}",
        done["bundle"]
    );
    let (status, held) = app.get_json(&format!("/api/v1/allocations/{vip}")).await;
    assert_eq!(status, 200, "the plan holds the VIP the cluster assigned: {held}");
    assert_eq!(
        (held["owner"].clone(), held["application"].clone(), held["reason"].clone()),
        (json!(format!("Gateway {DEV_NAMESPACE}/api-dev")), json!("api"), json!(AUTO_VIP_REASON))
    );

    // A network admin's next free is never the application's address.
    let team_b = next_free(app, pool, "team-b").await;
    assert_ne!(team_b, vip);

    // Submitting again keeps the hold, and the cluster keeps the address.
    assert_eq!(settled(app, submit(app, "api").await).await["status"], "ready");
    let holders = plan_holders(app, pool).await;
    assert_eq!(holders.values().filter(|(_, application, _)| application == "api").count(), 1, "{holders:?}");
    assert_eq!(fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).and_then(|v| v.address).as_deref(), Some(vip.as_str()));

    // The preview and the downloaded bundle show the held address.
    let (_, preview) = app.get_json("/api/v1/applications/api/preview?environment=dev").await;
    let gateway = preview.as_array().and_then(|o| o.iter().find(|o| o["kind"] == "Gateway")).expect("the Gateway").clone();
    assert!(gateway["yaml"].as_str().is_some_and(|y| y.contains(&format!("value: \"{vip}\""))), "{gateway:#}");
    let bundle = app.get("/api/v1/applications/api/bundle.yaml?environment=dev").await.text().await.expect("the bundle");
    assert!(bundle.contains(&format!("value: \"{vip}\"")), "{bundle}");

    // A teardown gives the address back.
    let response = app.client.delete(app.at("/api/v1/applications/api/environments/dev")).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 202);
    let id = response.json::<Value>().await.expect("json")["id"].as_i64().expect("an id");
    assert_eq!(settled(app, id).await["status"], "torn_down");
    let (status, _) = app.get_json(&format!("/api/v1/allocations/{vip}")).await;
    assert_eq!(status, 404, "the teardown released the VIP");
}

/// An address LB-IPAM assigned before the plan held it is taken into the plan at the next
/// submission, and by the import, as the application's own: the cluster keeps its address.
async fn an_address_the_cluster_assigned_is_taken_into_the_plan(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    assert_eq!(settled(app, submit(app, "api").await).await["status"], "ready");
    let vip = fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).and_then(|v| v.address).expect("a VIP");

    // The plan forgets it (as before Gatehouse held `auto` VIPs); the next submission takes
    // the cluster's address back rather than moving the Gateway to another one.
    let response = app.client.delete(app.at(&format!("/api/v1/allocations/{vip}"))).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(settled(app, submit(app, "api").await).await["status"], "ready");
    let (status, held) = app.get_json(&format!("/api/v1/allocations/{vip}")).await;
    assert_eq!((status, held["reason"].clone()), (200, json!(AUTO_VIP_REASON)), "{held}");
    assert_eq!(fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).and_then(|v| v.address), Some(vip.clone()));

    // Forgotten again, the import takes it in as api's `auto` VIP.
    let response = app.client.delete(app.at(&format!("/api/v1/allocations/{vip}"))).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 204);
    let (status, imported) = app.post_json("/api/v1/import", &json!({})).await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["addresses"][0]["address"], json!(vip), "{imported}");
    let (_, held) = app.get_json(&format!("/api/v1/allocations/{vip}")).await;
    assert_eq!(
        (held["owner"].clone(), held["application"].clone(), held["reason"].clone()),
        (json!(format!("Gateway {DEV_NAMESPACE}/api-dev")), json!("api"), json!(AUTO_VIP_REASON)),
        "{held}"
    );
    let (_, drift) = app.get_json("/api/v1/drift").await;
    assert!(drift["addresses"].as_array().is_some_and(|a| a.iter().all(|a| a["address"] != json!(vip))), "{drift:#}");
}

async fn submissions_and_manual_allocations_interleaved_never_share_a_vip(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    add_shop(app).await;
    let pool = dev_pool(app).await;

    enum Done {
        Submitted(i64),
        Allocated(String),
    }
    let work = (0..10).map(|i| async move {
        match i {
            0 | 5 => Done::Submitted(submit(app, "api").await),
            2 | 7 => Done::Submitted(submit(app, "shop").await),
            _ => Done::Allocated(next_free(app, pool, &format!("team-{i}")).await),
        }
    });
    let mut manual = Vec::new();
    for done in join_all(work).await {
        match done {
            Done::Submitted(id) => assert_eq!(settled(app, id).await["status"], "ready"),
            Done::Allocated(address) => manual.push(address),
        }
    }

    let holders = plan_holders(app, pool).await;
    for application in ["api", "shop"] {
        let held: Vec<&String> = holders.iter().filter(|(_, (_, a, _))| a == application).map(|(address, _)| address).collect();
        assert_eq!(held.len(), 1, "{application} holds one VIP however often it is submitted: {holders:?}");
    }
    // Every VIP the cluster assigned is held by the plan for that very Service.
    let assigned: Vec<(String, String)> = fixture
        .sim
        .vips()
        .into_iter()
        .filter_map(|v| Some((v.address?, format!("{}/{}", v.namespace, v.service))))
        .collect();
    assert_eq!(assigned.len(), 2, "{assigned:?}");
    for (address, service) in &assigned {
        let (owner, _, _) = holders.get(address).unwrap_or_else(|| panic!("{address} of {service} is not in the plan: {holders:?}"));
        let gateway = owner.strip_prefix("Gateway ").expect("an application's Gateway");
        assert_eq!(service.replace("cilium-gateway-", ""), gateway, "{address}: plan and cluster agree on the holder");
        assert!(!manual.contains(address), "{address} was handed out by hand too: {manual:?}");
    }
    let (_, drift) = app.get_json("/api/v1/drift").await;
    assert!(
        drift["addresses"].as_array().is_some_and(|a| a.iter().all(|a| a["drift"] == "plan_only")),
        "only the manual allocations and prod's VIP are not in the cluster: {drift:#}"
    );
}

/// A LoadBalancer Service of dev made in the cluster by hand, asking LB-IPAM for `address`.
async fn asks_for(services: &Api<DynamicObject>, name: &str, address: &str) {
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"gatehouse.io/advertise": "dev"},
                     "annotations": {"lbipam.cilium.io/ips": address}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP"}], "selector": {"app": name}}});
    services.patch(name, &PatchParams::apply("someone-else"), &Patch::Apply(&service)).await.expect("the Service is applied");
}

async fn drift_names_an_address_with_two_holders(kind: DbKind) {
    let fixture = Fixture::start(kind).await;
    let app = &fixture.app;
    assert_eq!(settled(app, submit(app, "api").await).await["status"], "ready");
    let pool = dev_pool(app).await;
    let team_b = next_free(app, pool, "team-b").await;

    // Someone asks LB-IPAM for team-b's address behind the plan's back.
    let services: Api<DynamicObject> = Api::namespaced_with(
        fixture.client().await,
        "default",
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Service")),
    );
    asks_for(&services, "rogue", &team_b).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let conflict = loop {
        let (status, drift) = app.get_json("/api/v1/drift").await;
        assert_eq!(status, 200, "{drift}");
        if let Some(row) = drift["addresses"].as_array().and_then(|a| a.iter().find(|a| a["drift"] == "conflict")) {
            break row.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the drift names the address with two holders: {drift:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(conflict["address"], json!(team_b));
    assert_eq!(conflict["service"], "default/rogue", "the cluster's holder");
    assert_eq!(conflict["plan_owner"], "allocation to team-b in dev", "the plan's holder");
    assert_eq!(conflict["plan_environment"], "dev");
    assert_eq!(conflict["plan_service"], Value::Null, "team-b is no Service");
    assert!(conflict["message"].as_str().is_some_and(|m| m.contains("two holders")), "{conflict}");

    // Asking for the application's address gets nothing: LB-IPAM gave it to the application.
    let api_vip = fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).and_then(|v| v.address).expect("a VIP");
    asks_for(&services, "copycat", &api_vip).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let refused = loop {
        let copycat = services.get("copycat").await.expect("the Service exists");
        if let Some(condition) = copycat.data.pointer("/status/conditions/0").filter(|c| c["status"] == "False") {
            break condition.clone();
        }
        assert!(std::time::Instant::now() < deadline, "LB-IPAM answers the request: {:?}", copycat.data);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(refused["reason"], "already_allocated", "{refused}");
    assert_eq!(refused["message"], format!("The IP '{api_vip}' is already allocated to another service"));
    assert_eq!(fixture.sim.vip("default", "copycat").map(|v| v.address), Some(None), "not assigned");
}

on_both_databases!(
    an_auto_vip_is_held_by_the_plan_and_never_handed_out_again,
    an_address_the_cluster_assigned_is_taken_into_the_plan,
    submissions_and_manual_allocations_interleaved_never_share_a_vip,
    drift_names_an_address_with_two_holders,
);
