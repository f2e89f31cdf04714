//! `/api/v1/applications`, their checklist, and the whole plan's conflicts.
use app::{
    backend::auth::Principal,
    backend::{applications as repo, db::DbError, plan},
    domain::{Application, ApplicationInput, FieldError, FieldErrors, Finding, Report, check_application, check_plan},
};
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{ApiError, ApiJson};
use crate::{access::Caller, state::AppState};

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "application_not_found",
        format!("there is no application named {name:?}; GET /api/v1/applications lists them"),
    )
}

fn parse(input: ApplicationInput) -> Result<Application, ApiError> {
    Application::parse(input).map_err(|errors| ApiError::unprocessable(&errors))
}

/// App teams change (and download the TLS bundles of) only applications in their scopes.
pub(super) fn check_scope(caller: &Principal, namespace: &str, name: &str) -> Result<(), ApiError> {
    if caller.may_change_application(namespace, name) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "outside_your_scopes",
        format!(
            "application {name:?} in namespace {namespace:?} is outside your scopes ({}); ask an admin to add it",
            caller.scopes
        ),
    ))
}

/// The stored application (if any) must be in the caller's scopes too, so an app team can
/// neither move another team's application into its namespace nor delete it.
pub(super) async fn check_stored_scope(state: &AppState, caller: &Principal, name: &str) -> Result<(), ApiError> {
    match repo::get(&state.db, name).await? {
        Some(stored) => check_scope(caller, stored.namespace.as_str(), name),
        None => Ok(()),
    }
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Application>>, ApiError> {
    Ok(Json(repo::list(&state.db).await?))
}

pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Application>, ApiError> {
    repo::get(&state.db, &name).await?.map(Json).ok_or_else(|| not_found(&name))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<Response, ApiError> {
    let application = parse(input)?;
    check_scope(&caller, application.namespace.as_str(), application.name.as_str())?;
    repo::create(&state.db, &caller.actor(), &application).await.map_err(|error| match error {
        DbError::Conflict(message) => ApiError::conflict("application_exists", message).with_field("name"),
        other => other.into(),
    })?;
    let location = format!("/api/v1/applications/{}", application.name);
    let mut response = (StatusCode::CREATED, Json(&application)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<Json<Application>, ApiError> {
    let application = parse(input)?;
    if application.name.as_str() != name {
        return Err(ApiError::unprocessable(&FieldErrors::from(vec![FieldError::new(
            "name",
            "name_mismatch",
            format!(
                "the body names {:?} but the URL names {name:?}; create the application under its new name and delete this one",
                application.name.as_str()
            ),
        )])));
    }
    check_scope(&caller, application.namespace.as_str(), application.name.as_str())?;
    check_stored_scope(&state, &caller, &name).await?;
    repo::update(&state.db, &caller.actor(), &application).await.map_err(|error| match error {
        DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })?;
    Ok(Json(application))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_stored_scope(&state, &caller, &name).await?;
    repo::delete(&state.db, &caller.actor(), &name).await.map_err(|error| match error {
        DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn checklist(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Report>, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    if plan.application(&name).is_none() {
        return Err(not_found(&name));
    }
    Ok(Json(check_application(&plan, &name, plan::now_unix())))
}

#[derive(Serialize)]
pub struct Conflicts {
    findings: Vec<Finding>,
}

pub async fn conflicts(State(state): State<AppState>) -> Result<Json<Conflicts>, ApiError> {
    let plan = plan::load_from(&state.db).await?;
    Ok(Json(Conflicts { findings: check_plan(&plan, plan::now_unix()).findings }))
}
