//! `/api/v1/me`, `/api/v1/tokens`, `/api/v1/users` and `/api/v1/audit`.
use backend::{
    audit::{self, AuditEntry, AuditFilter},
    auth::{
        Via,
        tokens::{self, TokenInfo},
        users::{self, NewUser, User, UserChange},
    },
};
use axum::{
    Json,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{ApiError, ApiJson};
use crate::{access::Caller, state::AppState};

/// Who the caller is: name, role, scopes and how they signed in.
pub async fn me(Caller(caller): Caller) -> Json<serde_json::Value> {
    let via = match &caller.via {
        Via::Session { .. } => serde_json::json!("session"),
        Via::Token { id, name } => serde_json::json!({"token": {"id": id, "name": name}}),
        Via::Password => serde_json::json!("password"),
        Via::System => serde_json::json!("system"),
        Via::Demo => serde_json::json!("demo"),
    };
    Json(serde_json::json!({
        "name": caller.name, "role": caller.role, "scopes": caller.scopes.to_string(), "via": via,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
    role: Option<String>,
    /// How long the token lives (default `--token-days`, at most `--token-max-days`).
    expires_in_days: Option<i64>,
}

pub async fn list_tokens(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(tokens::list(&state.db, caller.user_id).await?))
}

/// 201 with the token, shown this once.
pub async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Response, ApiError> {
    let lifetimes = state.auth.token_lifetimes;
    let created = tokens::create(&state.db, &caller, &request.name, request.role.as_deref(), request.expires_in_days, lifetimes).await?;
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(created)).into_response())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.db, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users::list(&state.db).await?))
}

pub async fn create_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(input): ApiJson<NewUser>,
) -> Result<Response, ApiError> {
    let user = users::create(&state.db, &caller, &input).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

pub async fn update_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(users::update(&state.db, &caller, &name, &change).await?))
}

/// Newest first; `?actor=&action=&object=&from=&to=`.
pub async fn audit_log(
    State(state): State<AppState>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(audit::search(&state.db, &filter).await?))
}

/// Also the audit page's download link (`/audit.csv`).
pub async fn audit_csv(State(state): State<AppState>, Query(filter): Query<AuditFilter>) -> Result<Response, ApiError> {
    let entries = audit::search(&state.db, &filter).await?;
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"gatehouse-audit.csv\""),
    ];
    Ok((headers, audit::to_csv(&entries)?).into_response())
}
