//! The OpenAPI 3.1 document of /api/v1, generated from the route registry ([`Routes`]): every
//! registered path and method, its path parameters, its access rule as a security
//! requirement (and the least role in `x-gatehouse-role`), the media type it answers, and
//! the API's error body. Each route's one-line summary is in [`summary`]; a route without one
//! fails the OpenAPI test, so a new route cannot go undocumented.
//!
//! [`Routes`]: crate::access::Routes
use std::sync::OnceLock;

use domain::access::Access;
use axum::{Json, http::Method};
use serde_json::{Map, Value, json};

use crate::access::{RouteRule, Surface};

/// What one route does, by method and path below /api/v1.
pub fn summary(method: &Method, path: &str) -> Option<&'static str> {
    Some(match (method.as_str(), path) {
        ("GET", "/openapi.json") => "This document",
        ("GET", "/me") => "The caller: user name, role and scopes",
        ("GET", "/tokens") => "The caller's API tokens (never the tokens themselves)",
        ("POST", "/tokens") => "Make an API token (HTTP basic credentials or a session); shown once",
        ("DELETE", "/tokens/{id}") => "Revoke an API token",
        ("GET", "/users") => "Every user with role, scopes and state",
        ("POST", "/users") => "Create a local user",
        ("PUT", "/users/{name}") => "Change a user's role, scopes, password or state",
        ("GET", "/audit") => "The audit log, newest first, with filters",
        ("GET", "/audit.csv") => "The audit log as CSV",
        ("GET", "/environments") => "Every environment",
        ("POST", "/environments") => "Create an environment (checked against the whole plan)",
        ("GET", "/environments/{env}") => "One environment",
        ("PUT", "/environments/{env}") => "Replace an environment",
        ("DELETE", "/environments/{env}") => "Delete an environment without pools or applications",
        ("GET", "/environments/{env}/pools") => "The environment's VIP pools with their use",
        ("POST", "/environments/{env}/pools") => "Create a VIP pool",
        ("GET", "/pools/{id}") => "One VIP pool with size, allocated, reserved and free",
        ("PUT", "/pools/{id}") => "Replace a VIP pool's blocks",
        ("DELETE", "/pools/{id}") => "Delete a VIP pool (409 while addresses are allocated)",
        ("GET", "/pools.csv") => "Pools, allocations and reservations as CSV",
        ("POST", "/pools.csv") => "Import pools, allocations and reservations from CSV (all or nothing)",
        ("GET", "/pools/{id}/allocations") => "The pool's allocations",
        ("POST", "/pools/{id}/allocations") => "Allocate a given or the lowest free address",
        ("GET", "/pools/{id}/reservations") => "The pool's reservations",
        ("POST", "/pools/{id}/reservations") => "Reserve an address or range with a reason",
        ("GET", "/pools/{id}/addresses") => "Every address (or run of addresses) of the pool with its state and holder",
        ("GET", "/allocations/{address}") => "One allocation",
        ("DELETE", "/allocations/{address}") => "Release an allocated address",
        ("DELETE", "/reservations/{address}") => "Release a reservation",
        ("GET", "/addresses/{address}") => "What holds an address",
        ("GET", "/addresses/{address}/history") => "An address's allocations and releases over time",
        ("GET", "/environments/{env}/certificates") => "The environment's certificates",
        ("POST", "/environments/{env}/certificates") => "Upload a PEM certificate chain and its private key",
        ("GET", "/certificates") => "Every certificate, with status and expiry",
        ("GET", "/certificates/{id}") => "One certificate (never its key)",
        ("DELETE", "/certificates/{id}") => "Delete a certificate no Gateway uses",
        ("PUT", "/certificates/{id}/owners") => "Change the namespaces that may use a certificate",
        ("GET", "/applications") => "Every application",
        ("POST", "/applications") => "Create an application",
        ("GET", "/applications/{app}") => "One application",
        ("PUT", "/applications/{app}") => "Replace an application",
        ("DELETE", "/applications/{app}") => "Delete an application",
        ("GET", "/applications/{app}/checklist") => "The checklist's findings for an application",
        ("GET", "/conflicts") => "Every finding across the plan",
        ("GET", "/applications/{app}/bundle.yaml") => "The application's objects for one environment, for kubectl apply --server-side",
        ("GET", "/environments/{env}/cilium.yaml") => "The environment's LB-IPAM pools and L2 or BGP resources",
        ("GET", "/environments/{env}/frr.conf") => "The external router's FRR configuration (BGP environments)",
        ("GET", "/environments/{env}/helm-values.yaml") => "The Cilium Helm values the plan needs",
        ("GET", "/bundle.yaml") => "The whole plan's cluster objects as one YAML bundle",
        ("GET", "/applications/{app}/submissions") => "The application's submissions, newest first",
        ("POST", "/applications/{app}/submissions") => "Submit the application to an environment's cluster (or a dry run)",
        ("DELETE", "/applications/{app}/environments/{env}") => "Tear the application down in an environment",
        ("POST", "/applications/{app}/environments/{env}/adopt") => "Let Gatehouse take over existing objects it did not create (network admins)",
        ("GET", "/applications/{app}/preview") => "What a submission would change in the cluster, object by object",
        ("GET", "/submissions/{id}") => "One submission with its objects' states",
        ("POST", "/submissions/{id}/approve") => "Approve a submission someone else requested",
        ("POST", "/submissions/{id}/retry") => "Run a failed submission or teardown again, from its first object not confirmed (its requester or a network admin)",
        ("POST", "/submissions/{id}/reject") => "Reject a submission awaiting approval, with a reason; nothing is applied",
        ("GET", "/approvals") => "The submissions awaiting approval, oldest first",
        ("GET", "/drift") => "Pools and VIPs that differ between the plan and the cluster, both ways",
        ("GET", "/import") => "What an import of the cluster's pools and assigned VIPs would add to the plan",
        ("POST", "/import") => "Import the cluster's pools and assigned VIPs into the plan (all or nothing)",
        ("GET", "/clusters") => "Every cluster, the environments that go to it, and whether it is reachable and has what Gatehouse needs",
        ("GET", "/vips") => "Every LoadBalancer VIP: assigned, labelled, announced",
        ("GET", "/vips/report") => "Every readable cluster's LoadBalancer VIPs, and why each other cluster could not be read",
        ("GET", "/applications/{app}/environments/{env}/verifications") => "The latest verification of an application environment (portal and client) and the history",
        ("POST", "/applications/{app}/environments/{env}/verifications") => "Verify an application environment now: assigned, announced, TLS and HTTP per hostname",
        ("POST", "/applications/{app}/environments/{env}/verifications/reports") => "Record the TLS and HTTP checks a client ran (gatehouse verify --report)",
        ("GET", "/applications/{app}/environments/{env}/verifications/plan") => "What a client checks: hostnames, VIP, paths and the planned certificate (no key)",
        ("GET", "/label-fix") => "Whether the Gateway label fix is on",
        ("PUT", "/label-fix") => "Switch the Gateway label fix on or off",
        ("GET", "/topology/{file}") => "A topology diagram (hardware, cilium, compare) as SVG or PNG",
        ("GET", "/topology/applications/{file}") => "An application's diagram as SVG or PNG",
        ("GET", "/topology/walk/{file}") => "A packet walk (arp or bgp) as SVG or PNG",
        ("GET", "/topology/live/{file}") => "An application as the cluster runs it (nodes, pods, Gateways, VIPs announced or not) as SVG or PNG",
        _ => return None,
    })
}

/// The media type a route answers, from its path.
fn media_type(path: &str) -> &'static str {
    if path.starts_with("/topology/") {
        "image/svg+xml"
    } else if path.ends_with(".yaml") {
        "application/yaml"
    } else if path.ends_with(".conf") {
        "text/plain"
    } else if path.ends_with(".csv") {
        "text/csv"
    } else {
        "application/json"
    }
}

fn parameter(name: &str) -> Value {
    let schema = if name == "id" { json!({"type": "integer", "format": "int64"}) } else { json!({"type": "string"}) };
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn operation(rule: &RouteRule, path: &str) -> Value {
    let method = rule.method.as_str().to_lowercase();
    let success = match rule.method {
        Method::POST if path.ends_with("/submissions") || path.ends_with("/approve") || path.ends_with("/retry") => "202",
        Method::POST if path.ends_with("/adopt") => "200",
        Method::POST => "201",
        Method::DELETE if path.starts_with("/applications/{app}/environments/") => "202",
        Method::DELETE => "204",
        _ => "200",
    };
    let mut responses = Map::new();
    let answer = if success == "204" {
        json!({"description": "Done"})
    } else {
        json!({"description": "Success", "content": {media_type(path): {"schema": {}}}})
    };
    responses.insert(success.to_owned(), answer);
    if matches!(rule.method, Method::POST | Method::PUT) || path.contains('{') {
        responses.insert("400".to_owned(), error_response("A malformed request"));
    }
    let mut operation = Map::new();
    operation.insert("operationId".to_owned(), json!(format!("{method}{}", path.replace(['/', '{', '}', '.', '-'], "_"))));
    operation.insert("summary".to_owned(), json!(summary(&rule.method, path).unwrap_or("")));
    match rule.access {
        Access::Public => {
            operation.insert("security".to_owned(), json!([]));
        }
        Access::AtLeast(role) => {
            operation.insert("security".to_owned(), json!([{"bearer": []}, {"session": []}]));
            operation.insert("x-gatehouse-role".to_owned(), json!(role.as_str()));
            operation.insert("description".to_owned(), json!(format!("Open to {}.", rule.access.describe())));
            responses.insert("401".to_owned(), error_response("Not signed in"));
            responses.insert("403".to_owned(), error_response("The caller's role does not allow it"));
        }
        Access::Unlisted => {
            operation.insert("description".to_owned(), json!("Registered without an access rule: refused to everyone."));
        }
    }
    if path == "/tokens" && rule.method == Method::POST {
        operation.insert("security".to_owned(), json!([{"basic": []}, {"bearer": []}, {"session": []}]));
        responses.insert("429".to_owned(), error_response("Too many failed sign-ins; Retry-After says how long to wait"));
    }
    if path.contains('{') {
        responses.insert("404".to_owned(), error_response("Unknown"));
    }
    if matches!(rule.method, Method::POST | Method::PUT) {
        let body_type = if path.ends_with(".csv") { "text/csv" } else { "application/json" };
        operation.insert("requestBody".to_owned(), json!({"required": true, "content": {body_type: {"schema": {}}}}));
        responses.insert("409".to_owned(), error_response("Conflicts with the plan or the state of an object"));
        responses.insert("422".to_owned(), error_response("A value that parses but breaks a rule"));
    }
    let parameters: Vec<Value> = path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(parameter)
        .collect();
    if !parameters.is_empty() {
        operation.insert("parameters".to_owned(), Value::Array(parameters));
    }
    operation.insert("responses".to_owned(), Value::Object(responses));
    let tag = path.trim_start_matches('/').split(['/', '.']).next().unwrap_or("api");
    operation.insert("tags".to_owned(), json!([tag]));
    Value::Object(operation)
}

/// The document for the /api/v1 routes among `rules` (their paths as served, /api/v1 included).
pub fn document(rules: &[RouteRule]) -> Value {
    let mut paths = Map::new();
    for rule in rules.iter().filter(|rule| rule.surface == Surface::Api) {
        let Some(path) = rule.path.strip_prefix("/api/v1") else { continue };
        let item = paths.entry(rule.path.clone()).or_insert_with(|| json!({}));
        item[rule.method.as_str().to_lowercase()] = operation(rule, path);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Gatehouse API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Plan, check and submit Cilium load balancing and TLS termination. Errors carry \
                            {\"error\": {\"code\", \"message\", \"field\"?, \"rule\"?}}; several field errors come as \"errors\". \
                            Scripts authenticate with `Authorization: Bearer <token>` (POST /api/v1/tokens with HTTP basic credentials makes one).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token from POST /api/v1/tokens"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::access::SESSION_COOKIE, "description": "A browser session (named `__Host-gatehouse-session` when the portal is reached over HTTPS)"},
                "basic": {"type": "http", "scheme": "basic", "description": "User name and password; only to make a token"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                                "rule": {"type": "string"},
                            },
                        },
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    })
}

/// `GET /api/v1/openapi.json`, generated once from the registry.
pub async fn serve() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(|| document(&crate::api::routes().into_parts().1)).clone())
}
