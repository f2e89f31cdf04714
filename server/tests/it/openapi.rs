//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document generated from the route registry,
//! naming every /api/v1 route the router serves, with its method, a summary and its access
//! rule as the security requirement.
use std::collections::BTreeSet;

use domain::access::Access;
use gatehouse::access::Surface;
use serde_json::Value;

use crate::harness::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_is_in_the_openapi_document() {
    let app = TestApp::spawn(crate::harness::DbKind::Sqlite).await;
    let response = app.anonymous().get(app.at("/api/v1/openapi.json")).send().await.expect("answers");
    assert_eq!(response.status(), 200, "open to anyone, like the API's documentation");
    let document: Value = response.json().await.expect("JSON");

    assert!(document["openapi"].as_str().is_some_and(|version| version.starts_with("3.1.")), "{}", document["openapi"]);
    assert_eq!(document["info"]["title"], "Gatehouse API");
    assert!(document["info"]["version"].is_string());
    let paths = document["paths"].as_object().expect("paths");
    for scheme in ["bearer", "session", "basic"] {
        assert!(document["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
    }

    let api: Vec<_> = app.rules.iter().filter(|rule| rule.surface == Surface::Api).collect();
    assert!(api.len() > 50, "the registry lists the API: {}", api.len());
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for rule in &api {
        assert_ne!(rule.access, Access::Unlisted, "{} {} has an access rule", rule.method, rule.path);
        let method = rule.method.as_str().to_lowercase();
        let operation = &paths.get(&rule.path).unwrap_or_else(|| panic!("{} is documented", rule.path))[&method];
        assert!(operation.is_object(), "{} {} is documented", rule.method, rule.path);
        assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{} {} has a summary", rule.method, rule.path);
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()));
        assert!(operation_ids.insert(operation["operationId"].as_str().expect("an operationId").to_owned()), "unique ids");
        match rule.access {
            Access::Public => assert_eq!(operation["security"], serde_json::json!([]), "{}", rule.path),
            Access::AtLeast(role) => {
                assert_eq!(operation["x-gatehouse-role"], role.as_str(), "{} {}", rule.method, rule.path);
                let schemes: Vec<&str> = operation["security"]
                    .as_array()
                    .expect("security")
                    .iter()
                    .filter_map(|requirement| requirement.as_object()?.keys().next().map(String::as_str))
                    .collect();
                assert!(schemes.contains(&"bearer") && schemes.contains(&"session"), "{} {}: {schemes:?}", rule.method, rule.path);
                assert!(operation["responses"]["401"].is_object() && operation["responses"]["403"].is_object());
            }
            Access::Unlisted => unreachable!("checked above"),
        }
        for name in rule.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
            let declared = operation["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == name && p["in"] == "path");
            assert!(declared, "{} {} declares {{{name}}}", rule.method, rule.path);
        }
        documented.insert((method, rule.path.clone()));
    }
    // Nothing in the document that the router does not serve.
    for (path, item) in paths {
        for method in item.as_object().expect("a path item").keys() {
            assert!(documented.contains(&(method.clone(), path.clone())), "{method} {path} is served");
        }
    }
    // A real route answers as documented.
    assert_eq!(app.get("/api/v1/environments").await.status(), 200);
}
