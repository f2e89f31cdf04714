//! The /api/v1 JSON API (the contract is ../shared/API.md).
mod allocations;
mod applications;
mod certificates;
mod csv;
mod environments;
mod error;
mod json;
mod outputs;
mod pools;
mod submissions;
mod topology;

pub use error::{ApiError, ErrorDetail};
pub use json::ApiJson;

use axum::{Router, extract::DefaultBodyLimit, routing::get};

use crate::state::AppState;

pub(crate) use app::backend::ANONYMOUS;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/environments", get(environments::list).post(environments::create))
        .route(
            "/environments/{env}",
            get(environments::get).put(environments::update).delete(environments::delete),
        )
        .route("/environments/{env}/pools", get(pools::list).post(pools::create))
        .route("/pools/{id}", get(pools::get).put(pools::update).delete(pools::delete))
        .route("/pools.csv", csv::routes())
        .route("/pools/{id}/allocations", get(allocations::list).post(allocations::allocate))
        .route("/pools/{id}/reservations", get(allocations::list_reservations).post(allocations::reserve))
        .route("/pools/{id}/addresses", get(allocations::address_map))
        .route("/allocations/{address}", get(allocations::get).delete(allocations::release))
        .route("/reservations/{address}", axum::routing::delete(allocations::unreserve))
        .route("/addresses/{address}", get(allocations::address))
        .route("/addresses/{address}/history", get(allocations::history))
        .route(
            "/environments/{env}/certificates",
            get(certificates::list_environment)
                .post(certificates::upload)
                .layer(DefaultBodyLimit::max(certificates::UPLOAD_BODY_LIMIT)),
        )
        .route("/certificates", get(certificates::list))
        .route("/certificates/{id}", get(certificates::get).delete(certificates::delete))
        .route("/applications", get(applications::list).post(applications::create))
        .route(
            "/applications/{app}",
            get(applications::get).put(applications::update).delete(applications::delete),
        )
        .route("/applications/{app}/checklist", get(applications::checklist))
        .route("/conflicts", get(applications::conflicts))
        .route("/applications/{app}/bundle.yaml", get(outputs::application_bundle))
        .route("/environments/{env}/cilium.yaml", get(outputs::cilium))
        .route("/environments/{env}/frr.conf", get(outputs::frr))
        .route("/environments/{env}/helm-values.yaml", get(outputs::helm_values))
        .route("/bundle.yaml", get(outputs::plan_bundle))
        .route("/applications/{app}/submissions", get(submissions::list).post(submissions::submit))
        .route("/applications/{app}/environments/{env}", axum::routing::delete(submissions::teardown))
        .route("/applications/{app}/preview", get(submissions::preview))
        .route("/submissions/{id}", get(submissions::get))
        .route("/submissions/{id}/approve", axum::routing::post(submissions::approve))
        .route("/clusters", get(submissions::clusters))
        .route("/vips", get(submissions::vip_status))
        .route("/label-fix", get(submissions::label_fix_get).put(submissions::label_fix_put))
        .route("/topology/{file}", get(|s, p, q| topology::serve("", s, p, q)))
        .route("/topology/applications/{file}", get(|s, p, q| topology::serve("applications/", s, p, q)))
        .route("/topology/walk/{file}", get(|s, p, q| topology::serve("walk/", s, p, q)))
        .fallback(|| async { ApiError::not_found("unknown_route", "there is no such /api/v1 route; see the API section of the README") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
}
