//! The topology diagrams over real HTTP: SVG and PNG for every view, drawn from the stored
//! plan, with API.md's error body for what does not exist — and the pages, whole without
//! JavaScript.
use reqwest::Method;
use serde_json::json;

use crate::harness::{DbKind, TestApp};

async fn svg(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("image/svg+xml; charset=utf-8"),
        "{path}"
    );
    let body = response.text().await.unwrap();
    assert!(body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && body.ends_with("</svg>"), "{path}");
    body
}

/// The width and height in a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

fn svg_size(svg: &str) -> (u32, u32) {
    let attr = |name: &str| -> u32 {
        let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[start..].split('"').next().unwrap().parse().unwrap()
    };
    (attr("width"), attr("height"))
}

async fn every_view_is_served_as_svg_and_png(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let hardware = svg(&app, "/api/v1/topology/hardware.svg").await;
    for text in ["Load-balancer appliance", "192.168.99.0/24", "Router edge", "host-3", "api.mdhlabs.com"] {
        assert!(hardware.contains(text), "{text}");
    }
    let cilium = svg(&app, "/api/v1/topology/cilium.svg?environment=dev").await;
    assert!(cilium.contains("Gateway api-dev") && cilium.contains("L2 announcements") && !cilium.contains("BGP advertisement"));
    let prod = svg(&app, "/api/v1/topology/cilium.svg?environment=prod&application=api").await;
    assert!(prod.contains("BGP advertisement") && prod.contains("VIP 192.168.101.240 from pool"));
    let compare = svg(&app, "/api/v1/topology/compare.svg").await;
    assert!(compare.contains("Hardware turn-up tasks") && compare.contains("Kubernetes turn-up tasks"));
    let both = svg(&app, "/api/v1/topology/applications/api.svg").await;
    assert!(both.contains("api in dev") && both.contains("api in prod"));
    let only = svg(&app, "/api/v1/topology/applications/api.svg?environment=prod").await;
    assert!(only.contains("api in prod") && !only.contains("api in dev"));
    let walk = svg(&app, "/api/v1/topology/walk/bgp.svg?step=4&caveat=frr-vm").await;
    assert!(walk.contains("Step 4 of 4") && walk.contains("virtual machine"));
    svg(&app, "/api/v1/topology/walk/arp.svg?environment=dev&step=9").await;

    let response = app.get("/api/v1/topology/cilium.png?environment=prod").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("image/png"));
    let png = response.bytes().await.unwrap();
    let (w, h) = svg_size(&prod);
    assert_eq!(png_size(&png), (2 * w, 2 * h), "twice the drawing's size");
    assert!(png.len() > 50_000, "a drawing, not a blank page: {} bytes", png.len());
    let walk_png = app.get("/api/v1/topology/walk/arp.png?step=3&caveat=gateway-label").await;
    assert_eq!(walk_png.status(), 200);
    png_size(&walk_png.bytes().await.unwrap());
}

async fn unknown_views_environments_and_applications_are_404_with_the_api_error_body(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let cases = [
        ("/api/v1/topology/racks.svg", 404, "unknown_view", None),
        ("/api/v1/topology/hardware.gif", 404, "unknown_view", None),
        ("/api/v1/topology/hardware", 404, "unknown_view", None),
        ("/api/v1/topology/walk/ospf.svg", 404, "unknown_view", None),
        ("/api/v1/topology/cilium.svg?environment=staging", 404, "environment_not_found", Some("environment")),
        ("/api/v1/topology/hardware.png?application=web", 404, "application_not_found", Some("application")),
        ("/api/v1/topology/applications/web.svg", 404, "application_not_found", Some("application")),
        ("/api/v1/topology/applications/api.svg?environment=staging", 404, "environment_not_found", Some("environment")),
        ("/api/v1/topology/walk/arp.svg?step=99", 400, "invalid_step", Some("step")),
        ("/api/v1/topology/walk/arp.svg?caveat=frr-vm", 400, "invalid_caveat", Some("caveat")),
        ("/api/v1/topology/walk/bgp.svg?environment=dev", 422, "advertisement_mode", Some("environment")),
    ];
    for (path, status, code, field) in cases {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.len() > 20), "{path}: a message that says what to do");
        assert_eq!(body["error"]["field"].as_str(), field, "{path}");
    }

    let empty = TestApp::spawn(kind).await;
    let (status, body) = empty.get_json("/api/v1/topology/hardware.svg").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("no_environments")));
}

/// The clients and routers are part of the stored plan: an edit shows in the diagrams.
async fn the_diagrams_follow_the_stored_plan(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, mut prod) = app.get_json("/api/v1/environments/prod").await;
    assert_eq!(prod["client_networks"], json!(["192.168.99.0/24"]));
    assert_eq!(prod["routers"], json!([{"name": "edge", "address": "192.168.99.1"}, {"name": "core", "address": "192.168.101.1"}]));
    prod["client_networks"] = json!(["192.168.99.0/24", "172.20.0.0/16"]);
    prod["routers"] = json!([{"name": "border", "address": "172.20.0.1"}, {"name": "core", "address": "192.168.101.1"}]);
    prod["advertisement"]["bgp"]["peers"][0]["platform"] = json!("vm");
    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/prod", &prod).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["advertisement"]["bgp"]["peers"][0]["platform"], "vm");

    let cilium = svg(&app, "/api/v1/topology/cilium.svg?environment=prod").await;
    assert!(cilium.contains("172.20.0.0/16") && cilium.contains("Router border") && !cilium.contains("Router edge"));
    assert!(cilium.contains("FRR on virtual machine"));
    // The plan's own VM router is the walk's default caveat.
    let walk = svg(&app, "/api/v1/topology/walk/bgp.svg").await;
    assert!(walk.contains("Step 1 of 4"), "the walk stops where FRR on a VM does not forward");
    let (_, checklist) = app.get_json("/api/v1/applications/api/checklist").await;
    assert!(checklist["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "GH-BGP-PEER-VM"), "{checklist}");

    let (status, body) = app
        .send_json(Method::PUT, "/api/v1/environments/prod", &{
            let mut bad = prod.clone();
            bad["routers"] = json!([{"name": "core", "address": "192.168.101.1"}, {"name": "core", "address": "not-an-address"}]);
            bad
        })
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"routers[1].name") && fields.contains(&"routers[1].address"), "{body}");
}

async fn the_pages_are_whole_without_javascript(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    for (path, expected) in [
        ("/topology", "Hardware beside Cilium"),
        ("/topology/hardware", "Load-balancer appliance"),
        ("/topology/cilium?environment=dev", "Gateway api-dev"),
        ("/topology/compare", "data-task=\"k8s-ip-pool\""),
        ("/topology/applications/api", "api in prod"),
        ("/topology/walk/arp?step=3&caveat=gateway-label", "the walk stops here"),
        ("/topology/walk/bgp?environment=prod&step=2", "Step 2 of 9"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(expected), "{path}: {expected}");
        if path != "/topology" {
            assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{path}: the diagram is in the page");
            assert!(html.contains("Text version"), "{path}: with its text version");
        }
    }
    let compare = app.get("/topology/compare").await.text().await.unwrap();
    for href in ["href=\"/pools\"", "href=\"/environments\"", "href=\"/certificates\"", "href=\"/applications\"", "href=\"/checklist\""] {
        assert!(compare.contains(href), "a Kubernetes task links to {href}");
    }
    let walk = app.get("/topology/walk/arp?step=2").await.text().await.unwrap();
    assert!(walk.contains("href=\"/topology/walk/arp?environment=prod&amp;application=api&amp;step=3&amp;caveat=none\""), "next is a link");
    for path in ["/topology/racks", "/topology/applications/web", "/topology/cilium?environment=staging"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let response = app.get("/topology/walk/arp?step=0").await;
    assert_eq!(response.status(), 422, "a bad step says why");
    assert!(response.text().await.unwrap().contains("step must be a number from 1 to 9"));
}

crate::on_both_databases!(
    every_view_is_served_as_svg_and_png,
    unknown_views_environments_and_applications_are_404_with_the_api_error_body,
    the_diagrams_follow_the_stored_plan,
    the_pages_are_whole_without_javascript,
);
