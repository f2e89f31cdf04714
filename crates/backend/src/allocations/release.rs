//! Release allocations and remove reservations; a release lowers the pool's cursor.
use super::*;

/// Releases an allocated address (404 when it is not allocated).
pub async fn release(db: &Database, caller: &crate::auth::Principal, address: IpAddr, reason: Option<&str>) -> Result<Holding, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "release addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    let released = remove(db, actor, AddressState::Allocated, address, address, reason).await?;
    match released.into_iter().next() {
        Some(holding) => Ok(holding),
        None => Err(AllocationError::NotAllocated { address, current: get(db, address).await?.map(Box::new) }),
    }
}

/// Gives back the reserved addresses of `start..=stop` (one address when `stop` is `None`);
/// 404 when none of them is reserved. Allocated addresses in the range stay allocated.
pub async fn unreserve(
    db: &Database,
    caller: &crate::auth::Principal,
    start: IpAddr,
    stop: Option<IpAddr>,
    reason: Option<&str>,
) -> Result<Vec<Holding>, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "release reservations").map_err(DbError::from)?;
    let actor = &caller.actor();
    let stop = stop.unwrap_or(start);
    if let Err(error) = check_range(start, stop) {
        return Err(AllocationError::Invalid(FieldErrors::from(vec![error])));
    }
    let removed = remove(db, actor, AddressState::Reserved, start, stop, reason).await?;
    if removed.is_empty() {
        return Err(AllocationError::NotReserved { address: start, current: get(db, start).await?.map(Box::new) });
    }
    Ok(removed)
}

pub(super) async fn remove(
    db: &Database,
    actor: &str,
    state: AddressState,
    start: IpAddr,
    stop: IpAddr,
    reason: Option<&str>,
) -> Result<Vec<Holding>, AllocationError> {
    with_retries(db, |_| async move {
        let mut tx = db.begin_write().await?;
        let rows = sqlx::query(&format!(
            "DELETE FROM addresses WHERE address_key >= $1 AND address_key <= $2 AND state = $3 \
             RETURNING {HOLDING_COLUMNS}"
        ))
        .bind(address_key(start))
        .bind(address_key(stop))
        .bind(state.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut removed = rows.iter().map(row_to_holding).collect::<Result<Vec<_>, _>>()?;
        removed.sort_by_key(|h| h.address);
        record_removals(&mut tx, actor, &removed, reason).await?;
        let mut lowest: HashMap<i64, IpAddr> = HashMap::new();
        for holding in &removed {
            let low = lowest.entry(holding.pool).or_insert(holding.address);
            *low = (*low).min(holding.address);
        }
        for (pool_id, address) in lowest {
            lower_cursor(&mut tx, pool_id, &address_key(address)).await?;
        }
        tx.commit().await?;
        Ok(Some(removed))
    })
    .await
}

/// For `pools::delete`, inside its transaction: refuses while addresses of the pool are
/// allocated, and gives back its reservations (each recorded in the audit log).
pub(crate) async fn clear_pool_for_delete(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    pool: &VipPool,
) -> Result<(), DbError> {
    let id = pool.id.unwrap_or_default();
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM addresses WHERE pool_id = $1 AND state = 'allocated'")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if count > 0 {
        let first: Vec<String> = sqlx::query(
            "SELECT address FROM addresses WHERE pool_id = $1 AND state = 'allocated' ORDER BY address_key LIMIT 3",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.try_get("address"))
        .collect::<Result<_, _>>()?;
        let more = if count > 3 { ", …" } else { "" };
        return Err(DbError::Conflict(format!(
            "pool {} still has {count} allocated address{} ({}{more}); release them before deleting the pool",
            pool.name,
            if count == 1 { "" } else { "es" },
            first.join(", "),
        )));
    }
    let rows = sqlx::query(&format!(
        "DELETE FROM addresses WHERE pool_id = $1 AND state = 'reserved' RETURNING {HOLDING_COLUMNS}"
    ))
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let removed = rows.iter().map(row_to_holding).collect::<Result<Vec<_>, _>>()?;
    record_removals(tx, actor, &removed, Some("pool deleted")).await
}

/// Whether a failed pool deletion was refused because an address still refers to the pool
/// (an allocation that committed after the check).
pub fn is_pool_in_use(error: &DbError) -> bool {
    error.is_foreign_key_violation()
}
