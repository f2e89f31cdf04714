//! The /api/v1 JSON API (the contract is ../shared/API.md).
mod applications;
mod environments;
mod error;
mod json;
mod pools;

pub use error::{ApiError, ErrorDetail};
pub use json::ApiJson;

use axum::{Router, routing::get};

use crate::state::AppState;

/// Who is acting, for the audit log. Until sign-in exists every caller is anonymous.
pub(crate) const ANONYMOUS: &str = "anonymous";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/environments", get(environments::list).post(environments::create))
        .route(
            "/environments/{env}",
            get(environments::get).put(environments::update).delete(environments::delete),
        )
        .route("/environments/{env}/pools", get(pools::list).post(pools::create))
        .route("/pools/{id}", get(pools::get).put(pools::update).delete(pools::delete))
        .route("/applications", get(applications::list).post(applications::create))
        .route(
            "/applications/{app}",
            get(applications::get).put(applications::update).delete(applications::delete),
        )
        .route("/applications/{app}/checklist", get(applications::checklist))
        .route("/conflicts", get(applications::conflicts))
        .fallback(|| async { ApiError::not_found("unknown_route", "there is no such /api/v1 route; see the API section of the README") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
}
