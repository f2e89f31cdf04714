//! `/api/v1/environments`: the first resource, end to end.
use backend::environments as repo;
use domain::{Environment, EnvironmentInput};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{ApiError, ApiJson, created};
use crate::{access::Caller, state::AppState};

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "environment_not_found",
        format!("there is no environment named {name:?}; GET /api/v1/environments lists them"),
    )
}

fn parse(input: EnvironmentInput) -> Result<Environment, ApiError> {
    Environment::try_from(input).map_err(|errors| ApiError::unprocessable(&errors))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Environment>>, ApiError> {
    Ok(Json(repo::list(&state.db).await?))
}

pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Environment>, ApiError> {
    repo::get(&state.db, &name).await?.map(Json).ok_or_else(|| not_found(&name))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(input): ApiJson<EnvironmentInput>,
) -> Result<Response, ApiError> {
    let environment = parse(input)?;
    let environment = repo::create(&state.db, &caller, &environment).await.map_err(|error| match error {
        backend::db::DbError::Conflict(message) => {
            ApiError::conflict("environment_exists", message).with_field("name")
        }
        other => other.into(),
    })?;
    let location = format!("/api/v1/environments/{}", environment.name);
    Ok(created(&environment, &location))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<EnvironmentInput>,
) -> Result<Json<Environment>, ApiError> {
    let environment = parse(input)?;
    if environment.name.as_str() != name {
        return Err(ApiError::invalid_field(
            "name",
            "name_mismatch",
            format!(
                "the body names {:?} but the URL names {name:?}; an environment cannot be renamed — create the new one and delete this one",
                environment.name.as_str()
            ),
        ));
    }
    repo::update(&state.db, &caller, &environment).await.map_err(|error| match error {
        backend::db::DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })?;
    Ok(Json(environment))
}

pub async fn delete(State(state): State<AppState>,
    Caller(caller): Caller, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    repo::delete(&state.db, &caller, &name).await.map_err(|error| match error {
        backend::db::DbError::NotFound(_) => not_found(&name),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
