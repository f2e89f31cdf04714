//! `/metrics`: requests counted by route template and status, latency histograms, the label
//! fix's actions and latency, the leader gauge, and the plan's pools and certificates as the database holds them at the scrape.
use std::collections::HashMap;

use serde_json::json;

use crate::harness::{DbKind, TestApp};

/// `name{labels}` → value, for every sample line of the exposition.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "a whole exposition");
    samples(&text)
}

async fn requests_pools_and_certificates_are_exposed(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, pools) = app.get_json("/api/v1/environments/prod/pools").await;
    let pool = &pools[0];
    let id = pool["id"].as_i64().unwrap();
    let name = pool["name"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/api/v1/pools/{id}")).await.status(), 200);
    }
    assert_eq!(app.get("/api/v1/pools/999999").await.status(), 404);

    let before = scrape(&app).await;
    let route = "route=\"/api/v1/pools/{id}\"";
    assert_eq!(before[&format!("gatehouse_http_requests_total{{method=\"GET\",{route},status=\"200\"}}")], 3.0);
    assert_eq!(before[&format!("gatehouse_http_requests_total{{method=\"GET\",{route},status=\"404\"}}")], 1.0);
    assert_eq!(before[&format!("gatehouse_http_request_duration_seconds_count{{method=\"GET\",{route}}}")], 4.0);
    assert_eq!(
        before[&format!("gatehouse_http_request_duration_seconds_bucket{{le=\"+Inf\",method=\"GET\",{route}}}")],
        4.0
    );

    let allocated = format!("gatehouse_pool_addresses{{environment=\"prod\",pool=\"{name}\",state=\"allocated\"}}");
    let free = format!("gatehouse_pool_addresses{{environment=\"prod\",pool=\"{name}\",state=\"free\"}}");
    let (status, allocation) =
        app.post_json(&format!("/api/v1/pools/{id}/allocations"), &json!({"owner": "team-metrics"})).await;
    assert_eq!(status, 201, "{allocation}");
    let after = scrape(&app).await;
    assert_eq!(after[&allocated], before[&allocated] + 1.0);
    assert_eq!(after[&free], before[&free] - 1.0);
    let utilization = after[&format!("gatehouse_pool_utilization_ratio{{environment=\"prod\",pool=\"{name}\"}}")];
    assert!(utilization > 0.0 && utilization <= 1.0, "{utilization}");

    // The demo's certificates: dev valid 90 days, prod 397, issued at seed time.
    let dev = after["gatehouse_certificate_days_to_expiry{environment=\"dev\",name=\"api-tls\"}"];
    let prod = after["gatehouse_certificate_days_to_expiry{environment=\"prod\",name=\"api-tls\"}"];
    assert!((88.0..=90.0).contains(&dev), "{dev}");
    assert!((395.0..=397.0).contains(&prod), "{prod}");

    // Submissions by operation and status, from the submissions table.
    let (status, body) = app
        .post_json(
            "/api/v1/applications/api/submissions",
            &json!({"environment": "dev", "dry_run": true}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let counted = "gatehouse_submissions{operation=\"apply\",status=";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let submissions = loop {
        let now = scrape(&app).await;
        let total: f64 = now.iter().filter(|(series, _)| series.starts_with(counted)).map(|(_, n)| n).sum();
        if total == 1.0 || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(submissions.iter().filter(|(series, _)| series.starts_with(counted)).map(|(_, n)| n).sum::<f64>(), 1.0);

    // The scrape itself is counted.
    assert!(after.contains_key("gatehouse_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}"));
}

/// The label fix's actions by outcome, its latency, and the leader gauge: on Cilium before
/// 1.15 the reconciler labels the generated Service and is counted; switched off, it takes the
/// label back and that is counted too.
async fn label_fix_actions_latency_and_leader_are_exposed(kind: DbKind) {
    use crate::cluster::{DEV_NAMESPACE, Fixture, GATEWAY_SERVICE, eventually, settled, submit};
    let fixture = Fixture::with(kind, simcluster::CiliumBehaviour { copies_infrastructure_labels: false, ..Default::default() }, None).await;
    let app = &fixture.app;
    let first = scrape(app).await;
    assert_eq!(first["gatehouse_leader{lease=\"gatehouse-leader\"}"], 1.0, "the only replica leads");
    assert_eq!(first.get("gatehouse_label_fix_actions_total{cluster=\"default\",outcome=\"labelled\"}"), None, "nothing done yet");
    assert_eq!(first.get("gatehouse_label_fix_latency_seconds_count{cluster=\"default\"}"), None, "nothing timed yet");

    let done = settled(app, submit(app, "dev", false).await).await;
    assert_eq!(done["status"], "ready", "{done:#}");
    let after = scrape(app).await;
    let labelled = after["gatehouse_label_fix_actions_total{cluster=\"default\",outcome=\"labelled\"}"];
    assert!(labelled >= 1.0, "{labelled}");
    assert_eq!(after["gatehouse_label_fix_latency_seconds_count{cluster=\"default\"}"], labelled, "every labelling is timed");
    let seconds = after["gatehouse_label_fix_latency_seconds_sum{cluster=\"default\"}"];
    assert!(seconds > 0.0 && seconds < labelled * 5.0, "{seconds} s for {labelled}");
    assert!(fixture.sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|vip| vip.is_announced()));

    let (status, _) = app.send_json(reqwest::Method::PUT, "/api/v1/label-fix", &json!({"enabled": false})).await;
    assert_eq!(status, 200);
    let sim = fixture.sim.clone();
    eventually(std::time::Duration::from_secs(5), "the VIP goes dark", move || {
        !sim.vip(DEV_NAMESPACE, GATEWAY_SERVICE).is_some_and(|vip| vip.is_announced())
    })
    .await;
    let off = scrape(app).await;
    assert!(off["gatehouse_label_fix_actions_total{cluster=\"default\",outcome=\"unlabelled\"}"] >= 1.0);
    assert_eq!(off.get("gatehouse_label_fix_actions_total{cluster=\"default\",outcome=\"failed\"}"), None);
}

crate::on_both_databases!(requests_pools_and_certificates_are_exposed, label_fix_actions_latency_and_leader_are_exposed);
