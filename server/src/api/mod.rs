//! The /api/v1 JSON API (the contract is ../shared/API.md).
mod accounts;
mod allocations;
mod applications;
mod certificates;
mod csv;
mod environments;
mod error;
mod json;
mod outputs;
mod path;
mod pools;
mod submissions;
mod topology;
mod verifications;

pub use accounts::audit_csv;
pub use error::{ApiError, ErrorDetail};
pub use json::{ApiJson, created};
pub use path::ApiPath;

use axum::{Router, extract::DefaultBodyLimit, http::Method, routing::post};

use crate::{
    access::{Routes, Surface},
    state::AppState,
};

/// Every /api/v1 route with its access rule. Reads that carry no key material are open to
/// every role; a bundle with TLS Secrets needs the app-team role (and the application in
/// the caller's scopes); changes to the plan need a network admin; users need an admin.
pub fn routes() -> Routes {
    use domain::access::Access;
    const VIEWER: Access = Access::VIEWER;
    const APP_TEAM: Access = Access::APP_TEAM;
    const NETWORK_ADMIN: Access = Access::NETWORK_ADMIN;
    const ADMIN: Access = Access::ADMIN;
    Routes::new("/api/v1", Surface::Api)
        .get("/openapi.json", Access::Public, crate::openapi::serve)
        .get("/me", VIEWER, accounts::me)
        .get("/tokens", VIEWER, accounts::list_tokens)
        .post("/tokens", VIEWER, accounts::create_token)
        .delete("/tokens/{id}", VIEWER, accounts::revoke_token)
        .get("/users", ADMIN, accounts::list_users)
        .post("/users", ADMIN, accounts::create_user)
        .put("/users/{name}", ADMIN, accounts::update_user)
        .get("/audit", NETWORK_ADMIN, accounts::audit_log)
        .get("/audit.csv", NETWORK_ADMIN, accounts::audit_csv)
        .get("/environments", VIEWER, environments::list)
        .post("/environments", NETWORK_ADMIN, environments::create)
        .get("/environments/{env}", VIEWER, environments::get)
        .put("/environments/{env}", NETWORK_ADMIN, environments::update)
        .delete("/environments/{env}", NETWORK_ADMIN, environments::delete)
        .get("/environments/{env}/pools", VIEWER, pools::list)
        .post("/environments/{env}/pools", NETWORK_ADMIN, pools::create)
        .get("/pools/{id}", VIEWER, pools::get)
        .put("/pools/{id}", NETWORK_ADMIN, pools::update)
        .delete("/pools/{id}", NETWORK_ADMIN, pools::delete)
        .get("/pools.csv", VIEWER, csv::export)
        .route(Method::POST, "/pools.csv", NETWORK_ADMIN, csv::import_route())
        .get("/pools/{id}/allocations", VIEWER, allocations::list)
        .post("/pools/{id}/allocations", NETWORK_ADMIN, allocations::allocate)
        .get("/pools/{id}/reservations", VIEWER, allocations::list_reservations)
        .post("/pools/{id}/reservations", NETWORK_ADMIN, allocations::reserve)
        .get("/pools/{id}/addresses", VIEWER, allocations::address_map)
        .get("/allocations/{address}", VIEWER, allocations::get)
        .delete("/allocations/{address}", NETWORK_ADMIN, allocations::release)
        .delete("/reservations/{address}", NETWORK_ADMIN, allocations::unreserve)
        .get("/addresses/{address}", VIEWER, allocations::address)
        .get("/addresses/{address}/history", VIEWER, allocations::history)
        .get("/environments/{env}/certificates", VIEWER, certificates::list_environment)
        .route(
            Method::POST,
            "/environments/{env}/certificates",
            NETWORK_ADMIN,
            post(certificates::upload).layer(DefaultBodyLimit::max(certificates::UPLOAD_BODY_LIMIT)),
        )
        .get("/certificates", VIEWER, certificates::list)
        .get("/certificates/{id}", VIEWER, certificates::get)
        .delete("/certificates/{id}", NETWORK_ADMIN, certificates::delete)
        .put("/certificates/{id}/owners", NETWORK_ADMIN, certificates::set_owners)
        .get("/applications", VIEWER, applications::list)
        .post("/applications", APP_TEAM, applications::create)
        .get("/applications/{app}", VIEWER, applications::get)
        .put("/applications/{app}", APP_TEAM, applications::update)
        .delete("/applications/{app}", APP_TEAM, applications::delete)
        .get("/applications/{app}/checklist", VIEWER, applications::checklist)
        .get("/conflicts", VIEWER, applications::conflicts)
        .get("/applications/{app}/bundle.yaml", APP_TEAM, outputs::application_bundle)
        .get("/environments/{env}/cilium.yaml", VIEWER, outputs::cilium)
        .get("/environments/{env}/frr.conf", VIEWER, outputs::frr)
        .get("/environments/{env}/helm-values.yaml", VIEWER, outputs::helm_values)
        .get("/bundle.yaml", VIEWER, outputs::plan_bundle)
        .get("/applications/{app}/submissions", VIEWER, submissions::list)
        .post("/applications/{app}/submissions", APP_TEAM, submissions::submit)
        .delete("/applications/{app}/environments/{env}", APP_TEAM, submissions::teardown)
        .post("/applications/{app}/environments/{env}/adopt", NETWORK_ADMIN, submissions::adopt)
        .get("/applications/{app}/preview", APP_TEAM, submissions::preview)
        .get("/submissions/{id}", VIEWER, submissions::get)
        .post(
            "/submissions/{id}/approve",
            NETWORK_ADMIN,
            submissions::approve,
        )
        .post(
            "/submissions/{id}/reject",
            NETWORK_ADMIN,
            submissions::reject,
        )
        // The requester or a network admin: the service checks which.
        .post("/submissions/{id}/retry", APP_TEAM, submissions::retry)
        .get("/approvals", NETWORK_ADMIN, submissions::approvals)
        .get("/clusters", VIEWER, submissions::clusters)
        .get("/vips", VIEWER, submissions::vip_status)
        .get("/vips/report", VIEWER, submissions::vip_status_report)
        .get("/drift", VIEWER, submissions::drift)
        .get("/import", VIEWER, submissions::import_preview)
        .post("/import", NETWORK_ADMIN, submissions::import)
        .get("/applications/{app}/environments/{env}/verifications", VIEWER, verifications::list)
        .post("/applications/{app}/environments/{env}/verifications", APP_TEAM, verifications::verify)
        .post("/applications/{app}/environments/{env}/verifications/reports", APP_TEAM, verifications::report)
        .get("/applications/{app}/environments/{env}/verifications/plan", VIEWER, verifications::plan)
        .get("/label-fix", VIEWER, submissions::label_fix_get)
        .put("/label-fix", NETWORK_ADMIN, submissions::label_fix_put)
        .get("/topology/{file}", VIEWER, |s, p, q| {
            topology::serve("", s, p, q)
        })
        .get("/topology/applications/{file}", VIEWER, |s, p, q| {
            topology::serve("applications/", s, p, q)
        })
        .get("/topology/walk/{file}", VIEWER, |s, p, q| {
            topology::serve("walk/", s, p, q)
        })
        .get("/topology/live/{file}", VIEWER, |s, p, q| {
            topology::serve("live/", s, p, q)
        })
}

/// The /api/v1 router: the routes, then 404 for unknown ones and 405 for a wrong method.
pub fn router(routes: Router<AppState>) -> Router<AppState> {
    routes
        .fallback(|| async { ApiError::not_found("unknown_route", "there is no such /api/v1 route; see the API section of the README") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
}
