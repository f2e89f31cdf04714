//! `/api/v1/environments/{env}/pools` and `/api/v1/pools/{id}`.
use backend::{allocations::{self, Usage}, db::DbError, pools as repo};
use domain::{VipPool, VipPoolInput};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Serialize;

use super::{ApiError, ApiJson, ApiPath, created};
use crate::{access::Caller, state::AppState};

/// A pool as the API shows it: the stored pool and how its addresses are used.
#[derive(Debug, Serialize)]
pub struct PoolView {
    #[serde(flatten)]
    pub pool: VipPool,
    pub allocated: u128,
    pub reserved: u128,
    pub free: u128,
}

impl PoolView {
    pub fn new(pool: VipPool, usage: Usage) -> PoolView {
        let free = usage.free(&pool);
        PoolView { pool, allocated: usage.allocated, reserved: usage.reserved, free }
    }

    /// The pool with its counts read from the database.
    async fn load(state: &AppState, pool: VipPool) -> Result<PoolView, ApiError> {
        let usage = match pool.id {
            Some(id) => allocations::usage(&state.db, id).await?,
            None => Usage::default(),
        };
        Ok(PoolView::new(pool, usage))
    }
}

pub(super) fn pool_not_found(id: i64) -> ApiError {
    ApiError::not_found("pool_not_found", format!("there is no pool with id {id}; GET /api/v1/environments/{{env}}/pools lists them"))
}

fn environment_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "environment_not_found",
        format!("there is no environment named {name:?}; GET /api/v1/environments lists them"),
    )
}

/// The environment comes from the URL; a body that names another one is refused.
fn parse(mut input: VipPoolInput, environment: &str) -> Result<VipPool, ApiError> {
    if !input.environment.is_empty() && input.environment != environment {
        return Err(ApiError::invalid_field(
            "environment",
            "environment_mismatch",
            format!("the body names environment {:?} but the URL names {environment:?}", input.environment),
        ));
    }
    input.environment = environment.to_owned();
    VipPool::parse(input).map_err(|errors| ApiError::unprocessable(&errors))
}

pub async fn list(State(state): State<AppState>, Path(env): Path<String>) -> Result<Json<Vec<PoolView>>, ApiError> {
    if backend::environments::get(&state.db, &env).await?.is_none() {
        return Err(environment_not_found(&env));
    }
    let pools = repo::list(&state.db, Some(&env)).await?;
    let usage = allocations::usage_by_pool(&state.db).await?;
    Ok(Json(
        pools
            .into_iter()
            .map(|pool| {
                let counts = pool.id.and_then(|id| usage.get(&id)).copied().unwrap_or_default();
                PoolView::new(pool, counts)
            })
            .collect(),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(env): Path<String>,
    ApiJson(input): ApiJson<VipPoolInput>,
) -> Result<Response, ApiError> {
    let pool = parse(input, &env)?;
    let stored = repo::create(&state.db, &caller, &pool).await.map_err(|error| match error {
        DbError::NotFound(_) => environment_not_found(&env),
        DbError::Conflict(message) => ApiError::conflict("pool_exists", message).with_field("name"),
        other => other.into(),
    })?;
    let location = format!("/api/v1/pools/{}", stored.id.unwrap_or_default());
    Ok(created(PoolView::load(&state, stored).await?, &location))
}

pub async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Json<PoolView>, ApiError> {
    let pool = repo::get(&state.db, id).await?.ok_or_else(|| pool_not_found(id))?;
    Ok(Json(PoolView::load(&state, pool).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<VipPoolInput>,
) -> Result<Json<PoolView>, ApiError> {
    let current = repo::get(&state.db, id).await?.ok_or_else(|| pool_not_found(id))?;
    let pool = parse(input, current.environment.as_str())?;
    let stored = repo::update(&state.db, &caller, id, &pool).await.map_err(|error| match error {
        DbError::NotFound(_) => pool_not_found(id),
        DbError::Conflict(message) => ApiError::conflict("pool_exists", message).with_field("name"),
        other => other.into(),
    })?;
    Ok(Json(PoolView::load(&state, stored).await?))
}

pub async fn delete(State(state): State<AppState>,
    Caller(caller): Caller, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    repo::delete(&state.db, &caller, id).await.map_err(|error| match error {
        DbError::NotFound(_) => pool_not_found(id),
        DbError::Conflict(message) => ApiError::conflict("pool_in_use", message),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
