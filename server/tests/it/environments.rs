use leptos::server_fn::ServerFn;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{DbKind, TestApp};

fn dev() -> Value {
    json!({
        "name": "dev",
        "node_subnets": ["192.168.101.0/24"],
        "node_addresses": ["192.168.101.11", "192.168.101.12", "192.168.101.13"],
        "pod_cidrs": ["10.10.0.0/16"],
        "service_cidr": "10.96.0.0/16",
        "advertisement": {
            "mode": "arp",
            "label": {"key": "gatehouse.io/advertise", "value": "dev"},
            "arp": {"interfaces": ["^eth[0-9]+$"]}
        },
        "protected": false
    })
}

async fn create_read_update_delete(kind: DbKind) {
    let app = TestApp::spawn(kind).await;

    let response = app.client.post(app.at("/api/v1/environments")).json(&dev()).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/api/v1/environments/dev")
    );
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], "dev");
    assert_eq!(created["pod_cidrs"], json!(["10.10.0.0/16"]));
    assert_eq!(created["advertisement"]["mode"], "arp");

    let (status, list) = app.get_json("/api/v1/environments").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["name"], "dev");

    let mut changed = dev();
    changed["pod_cidrs"] = json!(["10.11.0.0/16"]);
    changed["protected"] = json!(true);
    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/dev", &changed).await;
    assert_eq!(status, 200, "{body}");
    let (_, fetched) = app.get_json("/api/v1/environments/dev").await;
    assert_eq!(fetched["pod_cidrs"], json!(["10.11.0.0/16"]));
    assert_eq!(fetched["protected"], json!(true));

    let response = app.client.delete(app.at("/api/v1/environments/dev")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = app.get_json("/api/v1/environments/dev").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "environment_not_found");

    // Every change is in the audit log, with the object before and after.
    let db = backend::db::Database::connect(&app.database.url).await.unwrap();
    let entries = backend::audit::list(&db, Some("environment/dev")).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["environment.create", "environment.update", "environment.delete"]);
    assert_eq!(entries[1].before.as_ref().unwrap()["pod_cidrs"], json!(["10.10.0.0/16"]));
    assert_eq!(entries[1].after.as_ref().unwrap()["pod_cidrs"], json!(["10.11.0.0/16"]));
    assert!(entries[2].after.is_none());
}

async fn malformed_cidr_is_422_naming_the_field(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let mut body = dev();
    body["pod_cidrs"] = json!(["10.10.0.0/16", "10.300.0.0/16"]);
    body["service_cidr"] = json!("10.96.0.5/16");
    let (status, error) = app.post_json("/api/v1/environments", &body).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["field"], "pod_cidrs[1]");
    assert_eq!(error["error"]["code"], "invalid_cidr");
    let fields: Vec<&str> = error["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"service_cidr"), "every field error is reported: {error}");
    let host_bits = error["errors"].as_array().unwrap().iter().find(|e| e["field"] == "service_cidr").unwrap();
    assert!(
        host_bits["message"].as_str().unwrap().contains("did you mean 10.96.0.0/16"),
        "{host_bits}"
    );
    // Nothing was stored.
    let (_, list) = app.get_json("/api/v1/environments").await;
    assert_eq!(list, json!([]));
}

async fn bad_bodies_get_clear_errors(kind: DbKind) {
    let app = TestApp::spawn(kind).await;

    let response = app
        .client
        .post(app.at("/api/v1/environments"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_body");

    let mut wrong_type = dev();
    wrong_type["pod_cidrs"] = json!("10.10.0.0/16");
    let (status, body) = app.post_json("/api/v1/environments", &wrong_type).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "pod_cidrs");

    let response = app.client.post(app.at("/api/v1/environments")).body(dev().to_string()).send().await.unwrap();
    assert_eq!(response.status(), 415);

    let (status, body) = app.post_json("/api/v1/environments", &dev()).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.post_json("/api/v1/environments", &dev()).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "environment_exists");

    let mut renamed = dev();
    renamed["name"] = json!("prod");
    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/dev", &renamed).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "name");

    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/staging", &{
        let mut staging = dev();
        staging["name"] = json!("staging");
        staging
    }).await;
    assert_eq!(status, 404, "{body}");

    let (status, body) = app.get_json("/api/v1/no-such-thing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_route");

    let response = app.client.patch(app.at("/api/v1/environments")).send().await.unwrap();
    assert_eq!(response.status(), 405);

    let (status, body) = app.get_json("/api/v1/pools/first").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_path");
    assert_eq!(body["error"]["field"], "id");
    assert!(body["error"]["message"].as_str().unwrap().contains("whole number"), "{body}");
}

/// Server functions read their bodies whole: a body past the portal's limit is refused,
/// whether its length is declared or it comes in chunks.
async fn oversized_server_function_bodies_are_refused(kind: DbKind) {
    use leptos::server_fn::ServerFn;
    let app = TestApp::spawn(kind).await;
    let oversized = vec![b'a'; gatehouse::router::REQUEST_BODY_LIMIT + 1];
    let path = app::api::SaveEnvironment::PATH;

    let declared = format!("Content-Length: {}", oversized.len());
    let status = post_raw(&app, path, &declared, &[oversized.as_slice()]).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    let chunks: Vec<Vec<u8>> = oversized
        .chunks(256 * 1024)
        .map(|chunk| [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat())
        .chain([b"0\r\n\r\n".to_vec()])
        .collect();
    let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let status = post_raw(&app, path, "Transfer-Encoding: chunked", &chunks).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    let (_, list) = app.get_json("/api/v1/environments").await;
    assert_eq!(list, json!([]), "nothing was saved");
}

/// Posts over a bare connection, since the server may answer and close before the body is
/// all sent (which an HTTP client reports as a failed request); returns the status line.
async fn post_raw(app: &TestApp, path: &str, framing: &str, body: &[&[u8]]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         {framing}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for part in body {
        if stream.write_all(part).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

async fn data_survives_a_restart_and_demo_seeding_is_idempotent(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, list) = app.get_json("/api/v1/environments").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["dev", "prod"]);
    let (_, dev) = app.get_json("/api/v1/environments/dev").await;
    let (_, prod) = app.get_json("/api/v1/environments/prod").await;
    assert_eq!(dev["node_subnets"], json!(["192.168.101.0/24"]));
    assert_eq!(dev["node_addresses"].as_array().map(Vec::len), Some(3));
    assert_ne!(dev["pod_cidrs"], prod["pod_cidrs"]);
    assert_eq!(dev["advertisement"]["mode"], "arp");

    let database = app.stop().await;
    let again = TestApp::spawn_with(database, |config| config.demo = true).await;
    let (_, list) = again.get_json("/api/v1/environments").await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "seeding twice adds nothing: {list}");
}

/// GH-ENV-NAMESPACE is caught where the clash is made: an environment whose namespace
/// template puts an existing application where another environment of its cluster already
/// does is refused when it is created or changed (through /api/v1 and the form's server
/// function alike), naming the other environment and fixing the one being saved.
async fn a_namespace_clash_is_refused_when_the_environment_is_saved(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let staging = json!({"name": "staging", "node_subnets": ["192.168.120.0/24"], "pod_cidrs": ["10.120.0.0/16"],
        "service_cidr": "10.121.0.0/16", "advertisement": {"mode": "arp", "label": {"key": "gatehouse.io/advertise", "value": "staging"}}});
    let clash = "environment staging's namespace template {namespace} puts application api in namespace cd-service of cluster default, \
                 where environment prod puts it too (the same placement as environment prod's template {namespace}); \
                 the two environments would share its Deployment, Service and ConfigMap. \
                 Fix: give environment staging a namespace template of its own, such as {namespace}-staging, or map it to another cluster";
    let (status, body) = app.post_json("/api/v1/environments", &staging).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        (&body["error"]["rule"], &body["error"]["field"], &body["error"]["message"]),
        (&json!("GH-ENV-NAMESPACE"), &json!("namespace_template"), &json!(clash)),
        "{body}"
    );

    let response = app
        .client
        .post(app.at(app::api::SaveEnvironment::PATH))
        .header("accept", "application/json")
        .json(&json!({"input": staging, "create": true}))
        .send()
        .await
        .expect("the server function answers");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let finding = &body["Rejected"][0];
    assert_eq!((&finding["rule"], &finding["field"]), (&json!("GH-ENV-NAMESPACE"), &json!("namespace_template")), "{body}");
    assert!(finding["hint"].as_str().is_some_and(|h| h.starts_with("give environment staging ")), "{body}");

    let mut own = staging.clone();
    own["namespace_template"] = json!("{namespace}-staging");
    let (status, body) = app.post_json("/api/v1/environments", &own).await;
    assert_eq!(status, 201, "{body}");

    // Changing a template onto another environment's placement: the fix is still the one saved.
    own["namespace_template"] = json!("{namespace}-dev");
    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/staging", &own).await;
    assert_eq!((status, &body["error"]["field"]), (422, &json!("namespace_template")), "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("where environment dev puts it too (the same placement as environment dev's template {namespace}-dev)")
            && message.contains("give environment staging "),
        "{message}"
    );
    let (_, mut dev) = app.get_json("/api/v1/environments/dev").await;
    dev["namespace_template"] = json!("");
    let (status, body) = app.send_json(Method::PUT, "/api/v1/environments/dev", &dev).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("where environment prod puts it too") && !message.contains("give environment prod"), "{message}");
}

crate::on_both_databases!(
    a_namespace_clash_is_refused_when_the_environment_is_saved,
    create_read_update_delete,
    malformed_cidr_is_422_naming_the_field,
    bad_bodies_get_clear_errors,
    oversized_server_function_bodies_are_refused,
    data_survives_a_restart_and_demo_seeding_is_idempotent,
);
