//! Server functions of the IP pools area. The shapes mirror /api/v1 so the page and scripts
//! see the same data.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::domain::VipPool;

/// A pool with how its addresses are used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    pub pool: VipPool,
    pub allocated: u128,
    pub reserved: u128,
    pub free: u128,
}

/// A pool's address map: one entry per address, or runs of one state in pools larger than a
/// /22 (the backend's type, the same JSON as /api/v1/pools/{id}/addresses).
pub use views::pools::{AddressMap, AddressState, MapEntry};

#[cfg(feature = "ssr")]
pub(crate) fn allocation_error(error: crate::backend::allocations::AllocationError) -> AppError {
    use crate::backend::allocations::AllocationError;
    match error {
        AllocationError::PoolNotFound(id) => AppError::NotFound(format!("there is no pool with id {id}")),
        AllocationError::Invalid(errors) => AppError::Fields(errors.into_vec()),
        AllocationError::Db(error) => error.into(),
        other => AppError::Conflict(other.to_string()),
    }
}

#[server]
pub async fn list_pools() -> Result<Vec<PoolSummary>, AppError> {
    use crate::backend::{allocations, pools};
    let db = crate::api::context::use_database()?;
    let usage = allocations::usage_by_pool(&db).await?;
    Ok(pools::list(&db, None)
        .await?
        .into_iter()
        .map(|pool| {
            let used = pool.id.and_then(|id| usage.get(&id)).copied().unwrap_or_default();
            let free = pool.size().saturating_sub(used.allocated).saturating_sub(used.reserved);
            PoolSummary { pool, allocated: used.allocated, reserved: used.reserved, free }
        })
        .collect())
}

/// A pool from its name and blocks as typed (`192.168.101.192/28` or `a.b.c.d-e.f.g.h`).
#[cfg(feature = "ssr")]
fn parse_pool(environment: String, name: String, blocks: Vec<String>) -> Result<VipPool, AppError> {
    use crate::domain::{PoolBlockInput, VipPoolInput};
    let blocks = blocks
        .iter()
        .map(|block| match block.split_once('-') {
            Some((start, stop)) => PoolBlockInput {
                start: Some(start.trim().to_owned()),
                stop: Some(stop.trim().to_owned()),
                cidr: None,
            },
            None => PoolBlockInput { cidr: Some(block.trim().to_owned()), start: None, stop: None },
        })
        .collect();
    let input = VipPoolInput { environment, name, blocks, ..VipPoolInput::default() };
    VipPool::parse(input).map_err(|errors| AppError::Fields(errors.into_vec()))
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn create_pool(environment: String, name: String, blocks: Vec<String>) -> Result<i64, AppError> {
    let db = crate::api::context::use_database()?;
    let pool = parse_pool(environment, name, blocks)?;
    let stored = crate::backend::pools::create(&db, &crate::api::context::current()?, &pool).await?;
    Ok(stored.id.unwrap_or_default())
}

#[server]
pub async fn get_pool(id: i64) -> Result<VipPool, AppError> {
    let db = crate::api::context::use_database()?;
    crate::backend::pools::get(&db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no pool with id {id}")))
}

/// Renames a pool or changes its blocks; checked against the whole plan like a new pool.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn update_pool(id: i64, name: String, blocks: Vec<String>) -> Result<(), AppError> {
    let db = crate::api::context::use_database()?;
    let current = crate::backend::pools::get(&db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no pool with id {id}")))?;
    let pool = parse_pool(current.environment.to_string(), name, blocks)?;
    crate::backend::pools::update(&db, &crate::api::context::current()?, id, &pool).await?;
    Ok(())
}

#[server]
pub async fn delete_pool(id: i64) -> Result<(), AppError> {
    let db = crate::api::context::use_database()?;
    Ok(crate::backend::pools::delete(&db, &crate::api::context::current()?, id).await?)
}

#[server]
pub async fn pool_map(id: i64) -> Result<AddressMap, AppError> {
    let db = crate::api::context::use_database()?;
    crate::backend::allocations::address_map(&db, id).await.map_err(allocation_error)
}

/// Allocates the next free address (no `address`) or the given one; answers the address.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn allocate_address(
    pool: i64,
    address: Option<String>,
    owner: String,
    application: Option<String>,
    reason: Option<String>,
) -> Result<String, AppError> {
    use crate::backend::allocations::{self, AllocationInput, AllocationRequest};
    let db = crate::api::context::use_database()?;
    let blank = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let input = AllocationInput {
        address: blank(address),
        owner: Some(owner),
        application: blank(application),
        reason: blank(reason),
    };
    let request = AllocationRequest::try_from(input).map_err(|errors| AppError::Fields(errors.into_vec()))?;
    let holding = allocations::allocate(&db, &crate::api::context::current()?, pool, &request)
        .await
        .map_err(allocation_error)?;
    Ok(holding.address.to_string())
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn reserve_addresses(pool: i64, start: String, stop: Option<String>, reason: String) -> Result<(), AppError> {
    use crate::backend::allocations::{self, ReservationInput, ReservationRequest};
    let db = crate::api::context::use_database()?;
    let input = ReservationInput {
        start: Some(start),
        stop: stop.filter(|stop| !stop.trim().is_empty()),
        reason: Some(reason),
    };
    let request = ReservationRequest::try_from(input).map_err(|errors| AppError::Fields(errors.into_vec()))?;
    allocations::reserve(&db, &crate::api::context::current()?, pool, &request).await.map_err(allocation_error)?;
    Ok(())
}

/// Releases an allocated address, or lifts the reservation of a reserved one.
#[server]
pub async fn release_address(address: String, reserved: bool) -> Result<(), AppError> {
    use crate::{backend::allocations, domain::IpAddr};
    let db = crate::api::context::use_database()?;
    let address = IpAddr::parse(&address).map_err(|error| AppError::Invalid(error.to_string()))?;
    if reserved {
        allocations::unreserve(&db, &crate::api::context::current()?, address, None, None).await.map_err(allocation_error)?;
    } else {
        allocations::release(&db, &crate::api::context::current()?, address, None).await.map_err(allocation_error)?;
    }
    Ok(())
}

/// What a CSV import did, or every line it refused (nothing is imported then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CsvImportOutcome {
    Imported { created_pools: usize, allocations: usize, reservations: usize, unchanged: usize },
    Refused { problems: Vec<String> },
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn import_pools_csv(text: String) -> Result<CsvImportOutcome, AppError> {
    use crate::backend::csv::{self, ImportError};
    let db = crate::api::context::use_database()?;
    match csv::import(&db, &crate::api::context::current()?, text.as_bytes()).await {
        Ok(summary) => Ok(CsvImportOutcome::Imported {
            created_pools: summary.created_pools,
            allocations: summary.allocations,
            reservations: summary.reservations,
            unchanged: summary.unchanged,
        }),
        Err(ImportError::Malformed(malformed)) => Ok(CsvImportOutcome::Refused {
            problems: vec![match malformed.line {
                Some(line) => format!("line {line}: {}", malformed.message),
                None => malformed.message,
            }],
        }),
        Err(ImportError::Invalid(lines)) | Err(ImportError::Conflict(lines)) => Ok(CsvImportOutcome::Refused {
            problems: lines.iter().map(|line| format!("{}: {}", line.field(), line.message)).collect(),
        }),
        Err(ImportError::Db(error)) => Err(error.into()),
    }
}

/// One change to an address: allocate, release, reserve or unreserve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressEventView {
    pub at: String,
    pub by: String,
    pub action: String,
    pub owner: Option<String>,
    pub application: Option<String>,
    pub reason: Option<String>,
}

#[server]
pub async fn address_history(address: String) -> Result<Vec<AddressEventView>, AppError> {
    use crate::{backend::allocations, domain::IpAddr};
    let db = crate::api::context::use_database()?;
    let address = IpAddr::parse(&address).map_err(|error| AppError::Invalid(error.to_string()))?;
    Ok(allocations::history(&db, address)
        .await?
        .into_iter()
        .map(|event| AddressEventView {
            at: event.at,
            by: event.by,
            action: event.action,
            owner: event.owner,
            application: event.application,
            reason: event.reason,
        })
        .collect())
}
