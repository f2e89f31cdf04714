//! Generated outputs: application bundles, each environment's Cilium objects, the external
//! router's FRR configuration, the Cilium Helm values, and the whole plan as one bundle.
use backend::{
    allocations,
    manifests::{self, BundleError},
    plan,
};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::ApiError;
use crate::{access::Caller, state::AppState};

/// The plan as the bundles show it: each `auto` VIP the plan holds as its held address, which
/// the Gateway asks LB-IPAM for. One not held yet stays `auto` (a Gateway without
/// `spec.addresses`): only a submission holds an address, so a downloaded bundle never asks
/// for one the plan could give to someone else.
async fn plan_with_held_vips(state: &AppState) -> Result<domain::Plan, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    let mut conn = state.db.pool().acquire().await.map_err(backend::db::DbError::from)?;
    let held = allocations::auto_vips(&mut conn).await?;
    Ok(allocations::with_auto_vips(&plan, &held))
}

pub(super) fn bundle_error(error: BundleError) -> ApiError {
    if let BundleError::Serialize(_) = error {
        return ApiError::internal(&error);
    }
    let status = if error.is_not_found() { StatusCode::NOT_FOUND } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut api_error = ApiError::new(status, error.code(), error.to_string());
    if let Some(rule) = error.rule() {
        api_error = api_error.with_rule(rule);
    }
    api_error
}

fn text(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

fn yaml(body: String) -> Response {
    text("application/yaml", body)
}

#[derive(Deserialize)]
pub struct BundleQuery {
    environment: Option<String>,
}

/// `GET /api/v1/applications/{app}/bundle.yaml?environment=dev`
pub async fn application_bundle(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(application): Path<String>,
    Query(query): Query<BundleQuery>,
) -> Result<Response, ApiError> {
    let Some(environment) = query.environment.filter(|environment| !environment.is_empty()) else {
        return Err(ApiError::bad_request(
            "missing_environment",
            "say which environment's bundle you want: ?environment=dev",
        )
        .with_field("environment"));
    };
    let bundle = state.clusters.submitter.bundle(&caller, &application, &environment).await?;
    Ok(yaml(bundle.to_yaml()))
}

/// `GET /api/v1/environments/{env}/cilium.yaml`
pub async fn cilium(State(state): State<AppState>, Path(environment): Path<String>) -> Result<Response, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    let bundle = manifests::environment_cilium(&plan, &environment).map_err(bundle_error)?;
    Ok(yaml(bundle.to_yaml()))
}

/// `GET /api/v1/environments/{env}/frr.conf`
pub async fn frr(State(state): State<AppState>, Path(environment): Path<String>) -> Result<Response, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    let config = manifests::frr_config(&plan, &environment).map_err(bundle_error)?;
    Ok(text("text/plain; charset=utf-8", config))
}

/// `GET /api/v1/environments/{env}/helm-values.yaml`
pub async fn helm_values(State(state): State<AppState>, Path(environment): Path<String>) -> Result<Response, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    let values = manifests::helm_values(&plan, &environment).map_err(bundle_error)?;
    Ok(yaml(values))
}

/// `GET /api/v1/bundle.yaml`: every environment's Cilium objects, then every application in
/// every environment it is deployed to — without TLS Secrets, so that no single file holds
/// the keys of several environments.
pub async fn plan_bundle(State(state): State<AppState>) -> Result<Response, ApiError> {
    let plan = plan_with_held_vips(&state).await?;
    let bundle = manifests::plan_bundle(&plan).map_err(bundle_error)?;
    Ok(yaml(bundle.to_yaml()))
}
