//! VIP allocations and reservations: `/api/v1/pools/{id}/allocations`, `…/reservations`,
//! `…/addresses`, `/api/v1/allocations/{address}`, `/api/v1/reservations/{address}` and
//! `/api/v1/addresses/{address}[/history]`.
use backend::allocations::{self as repo, AddressState, AllocationError, AllocationInput, AllocationRequest, Holding, ReservationInput, ReservationRequest};
use domain::IpAddr;
use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{ApiError, ApiJson, ApiPath, created, pools::pool_not_found};
use crate::{access::Caller, state::AppState};

impl From<AllocationError> for ApiError {
    fn from(error: AllocationError) -> ApiError {
        let message = error.to_string();
        match error {
            AllocationError::PoolNotFound(id) => pool_not_found(id),
            AllocationError::Invalid(errors) => ApiError::unprocessable(&errors),
            AllocationError::Taken { field, .. } => ApiError::conflict("address_taken", message).with_field(field),
            AllocationError::Exhausted { .. } => ApiError::conflict("pool_exhausted", message),
            AllocationError::NotAllocated { .. } => ApiError::not_found("not_allocated", message).with_field("address"),
            AllocationError::NotReserved { .. } => ApiError::not_found("not_reserved", message).with_field("address"),
            AllocationError::Busy => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message),
            AllocationError::Db(error) => error.into(),
        }
    }
}

/// An address from the URL; text that is not one is a malformed request.
fn parse_address(text: &str, field: &str) -> Result<IpAddr, ApiError> {
    IpAddr::parse(text).map_err(|error| ApiError::bad_request("invalid_ip", error.to_string()).with_field(field))
}


/// `POST /api/v1/pools/{id}/allocations`: a given address, or the pool's lowest free one.
pub async fn allocate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AllocationInput>,
) -> Result<Response, ApiError> {
    let request = AllocationRequest::try_from(input).map_err(|errors| ApiError::unprocessable(&errors))?;
    let holding = repo::allocate(&state.db, &caller, id, &request).await?;
    let location = format!("/api/v1/allocations/{}", holding.address);
    Ok(created(holding, &location))
}

/// `POST /api/v1/pools/{id}/reservations`: one address, or `start`–`stop`.
pub async fn reserve(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ReservationInput>,
) -> Result<Response, ApiError> {
    let request = ReservationRequest::try_from(input).map_err(|errors| ApiError::unprocessable(&errors))?;
    let reservation = repo::reserve(&state.db, &caller, id, &request).await?;
    let location = format!("/api/v1/pools/{id}/reservations");
    Ok(created(reservation, &location))
}

async fn holdings_of(state: &AppState, id: i64, wanted: AddressState) -> Result<Json<Vec<Holding>>, ApiError> {
    if backend::pools::get(&state.db, id).await?.is_none() {
        return Err(pool_not_found(id));
    }
    let holdings = repo::list(&state.db, id).await?;
    Ok(Json(holdings.into_iter().filter(|h| h.state == wanted).collect()))
}

/// `GET /api/v1/pools/{id}/allocations`: the allocated addresses, in address order.
pub async fn list(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Json<Vec<Holding>>, ApiError> {
    holdings_of(&state, id, AddressState::Allocated).await
}

/// `GET /api/v1/pools/{id}/reservations`: the reserved addresses, in address order.
pub async fn list_reservations(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Json<Vec<Holding>>, ApiError> {
    holdings_of(&state, id, AddressState::Reserved).await
}

/// `GET /api/v1/pools/{id}/addresses`: every address (runs of addresses beyond a /22) with
/// its state and holder.
pub async fn address_map(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Json<repo::AddressMap>, ApiError> {
    Ok(Json(repo::address_map(&state.db, id).await?))
}

/// `GET /api/v1/allocations/{address}`.
pub async fn get(State(state): State<AppState>, Path(address): Path<String>) -> Result<Json<Holding>, ApiError> {
    let address = parse_address(&address, "address")?;
    match repo::get(&state.db, address).await? {
        Some(holding) if holding.state == AddressState::Allocated => Ok(Json(holding)),
        current => Err(AllocationError::NotAllocated { address, current: current.map(Box::new) }.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReleaseQuery {
    /// Why the address is given back, for the history.
    reason: Option<String>,
    /// `DELETE /api/v1/reservations/{start}?stop=…` gives back a range.
    stop: Option<String>,
}

fn parse_reason(reason: Option<&str>) -> Result<Option<String>, ApiError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        Some(reason) if reason.chars().count() > repo::MAX_REASON_LEN || reason.chars().any(char::is_control) => {
            Err(ApiError::invalid_field(
                "reason",
                "invalid_text",
                format!("`reason` must be plain text of at most {} characters", repo::MAX_REASON_LEN),
            ))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// `DELETE /api/v1/allocations/{address}?reason=…`: releases the address (204).
pub async fn release(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(address): Path<String>,
    Query(query): Query<ReleaseQuery>,
) -> Result<StatusCode, ApiError> {
    let address = parse_address(&address, "address")?;
    let reason = parse_reason(query.reason.as_deref())?;
    repo::release(&state.db, &caller, address, reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/reservations/{address}?stop=…&reason=…`: gives back a reserved address, or
/// the reserved addresses of a range (204).
pub async fn unreserve(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(address): Path<String>,
    Query(query): Query<ReleaseQuery>,
) -> Result<StatusCode, ApiError> {
    let start = parse_address(&address, "address")?;
    let stop = query.stop.as_deref().map(|stop| parse_address(stop, "stop")).transpose()?;
    let reason = parse_reason(query.reason.as_deref())?;
    repo::unreserve(&state.db, &caller, start, stop, reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The state of one address: its holder, or free (with the pool that contains it, if any).
async fn address_state(state: &AppState, address: IpAddr) -> Result<serde_json::Value, ApiError> {
    if let Some(holding) = repo::get(&state.db, address).await? {
        return Ok(serde_json::to_value(holding).unwrap_or_default());
    }
    let pools = backend::pools::list(&state.db, None).await?;
    let pool = pools.iter().find(|pool| pool.contains(&address)).and_then(|pool| pool.id);
    Ok(serde_json::json!({"address": address, "pool": pool, "state": AddressState::Free}))
}

/// `GET /api/v1/addresses/{address}`.
pub async fn address(State(state): State<AppState>, Path(address): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let address = parse_address(&address, "address")?;
    Ok(Json(address_state(&state, address).await?))
}

/// `GET /api/v1/addresses/{address}/history`: the current state and every change, oldest
/// first (who, when, why).
pub async fn history(State(state): State<AppState>, Path(address): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let address = parse_address(&address, "address")?;
    let mut body = address_state(&state, address).await?;
    let events = repo::history(&state.db, address).await?;
    body["events"] = serde_json::to_value(events).unwrap_or_default();
    Ok(Json(body))
}
