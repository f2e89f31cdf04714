//! VIP allocations and reservations through /api/v1, on both databases; and the concurrency
//! guarantee: many clients (and, on PostgreSQL, two servers) never get the same address.
#![expect(clippy::unwrap_used, reason = "in tests a failed request is a failed test")]

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{DbKind, TestApp};


/// An environment `lab` whose node subnet holds `pool` (so ARP can announce it), and the pool.
async fn lab_pool(app: &TestApp, pool: &str) -> i64 {
    let environment = json!({
        "name": "lab",
        "node_subnets": ["10.30.0.0/16"], "node_addresses": ["10.30.255.11"],
        "pod_cidrs": ["10.31.0.0/16"], "service_cidr": "10.32.0.0/16",
        "advertisement": {"mode": "arp", "label": {"key": "gatehouse.io/advertise", "value": "lab"},
                          "arp": {"interfaces": ["^eth[0-9]+$"]}},
        "protected": false,
        "namespace_template": "{namespace}-lab"
    });
    let (status, body) = app.post_json("/api/v1/environments", &environment).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        app.post_json("/api/v1/environments/lab/pools", &json!({"name": "lab-vips", "blocks": [{"cidr": pool}]})).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("the pool has an id")
}

async fn allocate(app: &TestApp, pool: i64, body: Value) -> (u16, Value) {
    app.post_json(&format!("/api/v1/pools/{pool}/allocations"), &body).await
}

async fn next_free(app: &TestApp, pool: i64, owner: &str) -> String {
    let (status, body) = allocate(app, pool, json!({"owner": owner})).await;
    assert_eq!(status, 201, "{body}");
    body["address"].as_str().expect("an address").to_owned()
}

/// Changes the demo application `api` to ask for `vip` in prod.
async fn ask_for_prod_vip(app: &TestApp, vip: &str) -> reqwest::Response {
    let (status, mut api) = app.get_json("/api/v1/applications/api").await;
    assert_eq!(status, 200, "{api}");
    api["environments"]["prod"]["vip"] = json!(vip);
    app.client.put(app.at("/api/v1/applications/api")).json(&api).send().await.expect("PUT answers")
}

async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.client.delete(app.at(path)).send().await.expect("DELETE answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn counts(app: &TestApp, pool: i64) -> (u64, u64, u64) {
    let (status, body) = app.get_json(&format!("/api/v1/pools/{pool}")).await;
    assert_eq!(status, 200, "{body}");
    let n = |field: &str| body[field].as_u64().unwrap_or_else(|| panic!("{field} in {body}"));
    (n("allocated"), n("reserved"), n("free"))
}

async fn next_free_is_the_lowest_and_comes_back_after_release(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let dev = app.pool_id("dev", "dev-vips").await;

    let response = app
        .client
        .post(app.at(&format!("/api/v1/pools/{dev}/allocations")))
        .json(&json!({"owner": "team-a", "application": "api", "reason": "public API"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/api/v1/allocations/192.168.101.192")
    );
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["address"], "192.168.101.192");
    assert_eq!(first["pool"], dev);
    assert_eq!(first["owner"], "team-a");
    assert_eq!(first["application"], "api");
    assert_eq!(first["reason"], "public API");
    assert_eq!(first["state"], "allocated");
    assert_eq!(first["by"], crate::harness::ADMIN_ACTOR);
    assert!(first["since"].as_str().is_some_and(|s| s.ends_with('Z')), "{first}");

    assert_eq!(next_free(&app, dev, "team-a").await, "192.168.101.193");
    assert_eq!(next_free(&app, dev, "team-b").await, "192.168.101.194");

    // Releasing a low address makes it the next one handed out.
    let (status, _) = delete(&app, "/api/v1/allocations/192.168.101.193?reason=decommissioned").await;
    assert_eq!(status, 204);
    assert_eq!(next_free(&app, dev, "team-c").await, "192.168.101.193");
    assert_eq!(next_free(&app, dev, "team-c").await, "192.168.101.195");

    // A given address.
    let (status, body) = allocate(&app, dev, json!({"address": "192.168.101.200", "owner": "team-b"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["address"], "192.168.101.200");
    let (status, body) = app.get_json("/api/v1/allocations/192.168.101.200").await;
    assert_eq!((status, body["owner"].as_str()), (200, Some("team-b")));

    // Taken: 409 that says who holds it.
    let (status, body) = allocate(&app, dev, json!({"address": "192.168.101.200", "owner": "team-c"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "address_taken");
    assert_eq!(body["error"]["field"], "address");
    assert!(body["error"]["message"].as_str().unwrap().contains("team-b"), "{body}");

    // Outside the pool, not an address, no owner: 422 naming the field.
    let (status, body) = allocate(&app, dev, json!({"address": "192.168.101.10", "owner": "team-c"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!((body["error"]["field"].as_str(), body["error"]["code"].as_str()), (Some("address"), Some("outside_pool")));
    assert!(body["error"]["message"].as_str().unwrap().contains("192.168.101.192/28"), "{body}");
    let (status, body) = allocate(&app, dev, json!({"address": "fd00::1", "owner": "team-c"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("address")), "{body}");
    let (status, body) = allocate(&app, dev, json!({"address": "nope", "owner": "team-c"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_ip")), "{body}");
    let (status, body) = allocate(&app, dev, json!({"application": "Not A Name"})).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["owner", "application"], "{body}");
    let (status, body) = allocate(&app, dev, json!({"owner": "team-a", "colour": "blue"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = allocate(&app, 999, json!({"owner": "team-a"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("pool_not_found")), "{body}");

    assert_eq!(counts(&app, dev).await, (5, 0, 11));
    let (_, listed) = app.get_json(&format!("/api/v1/pools/{dev}/allocations")).await;
    let listed: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|h| h["address"].as_str()).collect();
    assert_eq!(listed, ["192.168.101.192", "192.168.101.193", "192.168.101.194", "192.168.101.195", "192.168.101.200"]);

    // Release: 204, then 404 (not allocated); bad addresses are 400, not 500.
    let (status, _) = delete(&app, "/api/v1/allocations/192.168.101.200").await;
    assert_eq!(status, 204);
    let (status, body) = delete(&app, "/api/v1/allocations/192.168.101.200").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_allocated")), "{body}");
    let (status, body) = delete(&app, "/api/v1/allocations/not-an-ip").await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("address")), "{body}");

    // The history: allocate, release (with why), allocate again — who and when each time.
    let (status, history) = app.get_json("/api/v1/addresses/192.168.101.193/history").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["state"], "allocated");
    assert_eq!(history["owner"], "team-c");
    let events = history["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["allocate", "release", "allocate"], "{history}");
    assert_eq!(events[0]["owner"], "team-a");
    assert_eq!(events[1]["owner"], "team-a");
    assert_eq!(events[1]["reason"], "decommissioned");
    assert_eq!(events[2]["owner"], "team-c");
    for event in events {
        assert_eq!(event["by"], crate::harness::ADMIN_ACTOR);
        assert_eq!(event["pool"], dev);
        assert!(event["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{event}");
    }
    let (status, free) = app.get_json("/api/v1/addresses/192.168.101.199").await;
    assert_eq!(status, 200);
    assert_eq!(free, json!({"address": "192.168.101.199", "pool": dev, "state": "free"}));

    // The audit log has the same entries, under address/<ip>.
    let db = backend::db::Database::connect(&app.database.url).await.unwrap();
    let entries = backend::audit::list(&db, Some("address/192.168.101.193")).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["address.allocate", "address.release", "address.allocate"]);
    db.close().await;
}

async fn reservations_of_an_address_and_a_range(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let dev = app.pool_id("dev", "dev-vips").await;
    let reservations = format!("/api/v1/pools/{dev}/reservations");

    let (status, body) = app.post_json(&reservations, &json!({"start": "192.168.101.192", "reason": "router"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((body["count"].as_u64(), body["stop"].as_str()), (Some(1), Some("192.168.101.192")), "{body}");
    let (status, body) = app
        .post_json(&reservations, &json!({"start": "192.168.101.200", "stop": "192.168.101.203", "reason": "load test"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["count"], 4);
    assert_eq!(body["reason"], "load test");

    // Next free skips reserved addresses; a reserved address cannot be allocated.
    assert_eq!(next_free(&app, dev, "team-a").await, "192.168.101.193");
    let (status, body) = allocate(&app, dev, json!({"address": "192.168.101.201", "owner": "team-a"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("reserved"), "{body}");

    // A range with a taken address: 409 naming the first taken one; nothing is reserved.
    let (status, body) = app
        .post_json(&reservations, &json!({"start": "192.168.101.194", "stop": "192.168.101.202", "reason": "x"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "address_taken");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("192.168.101.200 is reserved"), "{body}");
    assert_eq!(counts(&app, dev).await, (1, 5, 10));

    // Outside the pool, too large, backwards, no reason: 422 naming the field.
    let (status, body) = app
        .post_json(&reservations, &json!({"start": "192.168.101.190", "stop": "192.168.101.193", "reason": "x"}))
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("start")), "{body}");
    let (status, body) =
        app.post_json(&reservations, &json!({"start": "10.0.0.0", "stop": "10.1.0.0", "reason": "x"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!((body["error"]["field"].as_str(), body["error"]["code"].as_str()), (Some("stop"), Some("range_too_large")));
    assert!(body["error"]["message"].as_str().unwrap().contains("65536"), "{body}");
    let (status, body) = app
        .post_json(&reservations, &json!({"start": "192.168.101.199", "stop": "192.168.101.198", "reason": "x"}))
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("stop")), "{body}");
    let (status, body) = app.post_json(&reservations, &json!({"start": "192.168.101.199"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("reason")), "{body}");

    let (_, listed) = app.get_json(&reservations).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(5), "{listed}");

    // Giving reservations back: one address, then a range.
    let (status, body) = delete(&app, "/api/v1/allocations/192.168.101.192").await;
    assert_eq!(status, 404, "a reservation is not an allocation: {body}");
    let (status, _) = delete(&app, "/api/v1/reservations/192.168.101.192?reason=router%20moved").await;
    assert_eq!(status, 204);
    let (status, _) = delete(&app, "/api/v1/reservations/192.168.101.200?stop=192.168.101.203").await;
    assert_eq!(status, 204);
    let (status, body) = delete(&app, "/api/v1/reservations/192.168.101.192").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_reserved")), "{body}");
    assert_eq!(counts(&app, dev).await, (1, 0, 15));
    assert_eq!(next_free(&app, dev, "team-a").await, "192.168.101.192");

    let (_, history) = app.get_json("/api/v1/addresses/192.168.101.192/history").await;
    let events = history["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["reserve", "unreserve", "allocate"], "{history}");
    assert_eq!(events[0]["reason"], "router");
    assert_eq!(events[1]["reason"], "router moved");
}

async fn an_exhausted_pool_names_the_next_pool_with_room(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let dev = app.pool_id("dev", "dev-vips").await;
    let (status, more) = app
        .post_json(
            "/api/v1/environments/dev/pools",
            &json!({"name": "dev-more", "blocks": [{"start": "192.168.101.100", "stop": "192.168.101.109"}]}),
        )
        .await;
    assert_eq!(status, 201, "{more}");
    let more = more["id"].as_i64().unwrap();

    let (status, body) = app
        .post_json(
            &format!("/api/v1/pools/{dev}/reservations"),
            &json!({"start": "192.168.101.192", "stop": "192.168.101.206", "reason": "hold"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(next_free(&app, dev, "team-a").await, "192.168.101.207");
    let (status, body) = allocate(&app, dev, json!({"owner": "team-a"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "pool_exhausted");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("dev-vips") && message.contains("exhausted"), "{message}");
    assert!(message.contains("dev-more") && message.contains("10 free"), "{message}");
    assert_eq!(counts(&app, dev).await, (1, 15, 0));

    let (status, _) = app
        .post_json(
            &format!("/api/v1/pools/{more}/reservations"),
            &json!({"start": "192.168.101.100", "stop": "192.168.101.109", "reason": "hold"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = allocate(&app, dev, json!({"owner": "team-a"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no other pool of dev has room"), "{body}");
}

async fn the_address_map_lists_every_address_and_folds_large_pools(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let dev = app.pool_id("dev", "dev-vips").await;
    next_free(&app, dev, "team-a").await;
    let (status, _) = app
        .post_json(&format!("/api/v1/pools/{dev}/reservations"), &json!({"start": "192.168.101.194", "reason": "router"}))
        .await;
    assert_eq!(status, 201);
    let (status, map) = app.get_json(&format!("/api/v1/pools/{dev}/addresses")).await;
    assert_eq!(status, 200, "{map}");
    assert_eq!(map["folded"], false);
    assert_eq!((map["size"].as_u64(), map["allocated"].as_u64(), map["reserved"].as_u64(), map["free"].as_u64()), (Some(16), Some(1), Some(1), Some(14)));
    let entries = map["addresses"].as_array().unwrap();
    assert_eq!(entries.len(), 16);
    assert_eq!(entries[0]["address"], "192.168.101.192");
    assert_eq!(entries[0]["state"], "allocated");
    assert_eq!(entries[0]["owner"], "team-a");
    assert!(entries[0]["since"].is_string());
    assert_eq!(entries[1], json!({"address": "192.168.101.193", "state": "free"}));
    assert_eq!(entries[2]["state"], "reserved");
    assert_eq!(entries[2]["reason"], "router");
    assert_eq!(entries[15]["address"], "192.168.101.207");

    // A /20 (4096 addresses) is folded into runs of equal state.
    let lab = lab_pool(&app, "10.30.16.0/20").await;
    for _ in 0..3 {
        next_free(&app, lab, "team-a").await;
    }
    let (status, _) = app
        .post_json(
            &format!("/api/v1/pools/{lab}/reservations"),
            &json!({"start": "10.30.16.10", "stop": "10.30.16.19", "reason": "load balancer tests"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = allocate(&app, lab, json!({"address": "10.30.16.20", "owner": "team-b"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, map) = app.get_json(&format!("/api/v1/pools/{lab}/addresses")).await;
    assert_eq!(status, 200, "{map}");
    assert_eq!(map["folded"], true);
    assert_eq!((map["size"].as_u64(), map["allocated"].as_u64(), map["reserved"].as_u64(), map["free"].as_u64()), (Some(4096), Some(4), Some(10), Some(4082)));
    let entries = map["addresses"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str, u64)> = entries
        .iter()
        .map(|e| {
            let text = |field: &str| e[field].as_str().unwrap_or_else(|| panic!("{field} in {e}"));
            (text("state"), text("start"), text("stop"), e["count"].as_u64().unwrap_or_else(|| panic!("count in {e}")))
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("allocated", "10.30.16.0", "10.30.16.2", 3),
            ("free", "10.30.16.3", "10.30.16.9", 7),
            ("reserved", "10.30.16.10", "10.30.16.19", 10),
            ("allocated", "10.30.16.20", "10.30.16.20", 1),
            ("free", "10.30.16.21", "10.30.31.255", 4075),
        ],
        "{map}"
    );
    assert_eq!(entries[0]["owner"], "team-a", "shared holder fields are kept: {map}");
    assert_eq!(entries[2]["reason"], "load balancer tests");
    assert_eq!(entries[3]["owner"], "team-b");
}

async fn a_pool_with_allocations_cannot_be_deleted(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let dev = app.pool_id("dev", "dev-vips").await;
    next_free(&app, dev, "team-a").await;
    let (status, body) = delete(&app, &format!("/api/v1/pools/{dev}")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "pool_in_use");
    assert!(body["error"]["message"].as_str().unwrap().contains("192.168.101.192"), "{body}");

    // Reservations alone do not hold a pool: they are given back with it, in the history.
    let (status, _) = delete(&app, "/api/v1/allocations/192.168.101.192").await;
    assert_eq!(status, 204);
    let (status, _) = app
        .post_json(&format!("/api/v1/pools/{dev}/reservations"), &json!({"start": "192.168.101.199", "reason": "router"}))
        .await;
    assert_eq!(status, 201);
    let (status, body) = delete(&app, &format!("/api/v1/pools/{dev}")).await;
    assert_eq!(status, 204, "{body}");
    let (_, history) = app.get_json("/api/v1/addresses/192.168.101.199/history").await;
    assert_eq!(history["state"], "free");
    let actions: Vec<&str> = history["events"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["reserve", "unreserve"], "{history}");
}

/// `plan::load` includes the allocations, so the checklist sees a VIP claimed twice.
async fn the_checklist_sees_allocations(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let prod = app.pool_id("prod", "prod-vips").await;
    let (status, body) = allocate(
        &app,
        prod,
        json!({"address": "192.168.101.245", "owner": "team-x"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // The demo application `api` asking for team-x's address would give it a second owner.
    let response = ask_for_prod_vip(&app, "192.168.101.245").await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["rule"], "GH-VIP-DUPLICATE", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(by api, team-x)"),
        "{body}"
    );
}

/// 64 clients × 100 allocations on one /18: every answer a different address, 6400 rows.
/// On PostgreSQL through two servers sharing the database (alternating clients); on SQLite
/// through one server.
async fn concurrent_allocations_never_share_an_address(kind: DbKind) {
    const CLIENTS: usize = 64;
    const EACH: usize = 100;
    let first = TestApp::spawn(kind).await;
    let pool = lab_pool(&first, "10.30.64.0/18").await;
    let second = match kind {
        DbKind::Postgres => Some(TestApp::spawn_with(first.database.shared(), |_| {}).await),
        DbKind::Sqlite => None,
    };
    let urls: Vec<String> = std::iter::once(first.url.clone()).chain(second.as_ref().map(|s| s.url.clone())).collect();

    let run = async {
        let mut tasks = tokio::task::JoinSet::new();
        for client in 0..CLIENTS {
            let url = format!("{}/api/v1/pools/{pool}/allocations", urls[client % urls.len()]);
            let http = first.new_client();
            tasks.spawn(async move {
                let mut addresses = Vec::with_capacity(EACH);
                for _ in 0..EACH {
                    let response = http
                        .post(&url)
                        .json(&json!({"owner": format!("client-{client}")}))
                        .send()
                        .await
                        .expect("the allocation answers");
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    assert_eq!(status, 201, "client {client}: {body}");
                    addresses.push(body["address"].as_str().expect("an address").to_owned());
                }
                addresses
            });
        }
        let mut all = Vec::with_capacity(CLIENTS * EACH);
        while let Some(addresses) = tasks.join_next().await {
            all.extend(addresses.expect("a client task ends"));
        }
        all
    };
    let all = tokio::time::timeout(Duration::from_secs(600), run).await.expect("the allocations finish in time");
    assert_eq!(all.len(), CLIENTS * EACH);
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), CLIENTS * EACH, "an address was handed out twice");
    assert!(all.iter().all(|a| a.starts_with("10.30.") && a.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| (64..128).contains(&ip.octets()[2]))));

    // The database agrees, and so do the pool's counts.
    let db = backend::db::Database::connect(&first.database.url).await.unwrap();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT address_key) AS d FROM addresses WHERE pool_id = $1 AND state = 'allocated'",
    )
    .bind(pool)
    .fetch_one(db.pool())
    .await
    .unwrap();
    use sqlx::Row;
    assert_eq!(row.get::<i64, _>("n"), (CLIENTS * EACH) as i64);
    assert_eq!(row.get::<i64, _>("d"), (CLIENTS * EACH) as i64);
    let logged: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'address.allocate'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(logged, (CLIENTS * EACH) as i64, "every allocation is in the audit log");
    db.close().await;
    assert_eq!(counts(&first, pool).await, (6400, 0, 16384 - 6400));

    // Sequential requests still get the lowest free address.
    let (status, _) = delete(&first, &format!("/api/v1/allocations/{}", all[17])).await;
    assert_eq!(status, 204);
    let lowest_free = {
        let (_, map) = first.get_json(&format!("/api/v1/pools/{pool}/addresses")).await;
        map["addresses"].as_array().unwrap().iter().find(|e| e["state"] == "free").map(|e| e["start"].clone()).unwrap()
    };
    assert_eq!(json!(next_free(&first, pool, "late").await), lowest_free);
    drop(second);
}

/// An application that asks for a VIP by address holds it: "next free" passes over it, and
/// the row follows the application when its VIP changes or it is deleted.
async fn an_applications_fixed_vip_is_held_and_passed_over(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let prod = app.pool_id("prod", "prod-vips").await;
    // The demo's api asks for 192.168.101.240 in prod, the pool's lowest address.
    let (status, held) = app.get_json("/api/v1/allocations/192.168.101.240").await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(
        (held["application"].as_str(), held["state"].as_str()),
        (Some("api"), Some("allocated")),
        "{held}"
    );
    assert_eq!(held["reason"], backend::allocations::FIXED_VIP_REASON);
    assert_eq!(next_free(&app, prod, "team-a").await, "192.168.101.241");

    // The plan stays free of errors: api's own row is not a second owner.
    let (status, body) = app
        .post_json(
            "/api/v1/applications/api/submissions",
            &json!({"environment": "prod", "dry_run": true}),
        )
        .await;
    assert_eq!(status, 202, "{body}");

    // Another owner asking for the held address is told who holds it.
    let (status, body) = allocate(
        &app,
        prod,
        json!({"address": "192.168.101.240", "owner": "team-b"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "address_taken");

    // A new VIP moves the hold; the old address is free again and handed out next.
    let response = ask_for_prod_vip(&app, "192.168.101.250").await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let (status, _) = app.get_json("/api/v1/allocations/192.168.101.240").await;
    assert_eq!(status, 404);
    let (status, held) = app.get_json("/api/v1/allocations/192.168.101.250").await;
    assert_eq!(
        (status, held["application"].as_str()),
        (200, Some("api")),
        "{held}"
    );
    assert_eq!(next_free(&app, prod, "team-a").await, "192.168.101.240");

    // Deleting the application gives its VIP back.
    let response = app
        .client
        .delete(app.at("/api/v1/applications/api"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    let (status, _) = app.get_json("/api/v1/allocations/192.168.101.250").await;
    assert_eq!(status, 404);
}

crate::on_both_databases!(
    an_applications_fixed_vip_is_held_and_passed_over,
    next_free_is_the_lowest_and_comes_back_after_release,
    reservations_of_an_address_and_a_range,
    an_exhausted_pool_names_the_next_pool_with_room,
    the_address_map_lists_every_address_and_folds_large_pools,
    a_pool_with_allocations_cannot_be_deleted,
    the_checklist_sees_allocations,
    concurrent_allocations_never_share_an_address,
);
