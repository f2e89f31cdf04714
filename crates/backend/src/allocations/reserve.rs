//! Reserve ranges, and the batched inserts and audit entries that every write shares.
use super::*;

/// Reserves `request.start..=request.stop` of the pool: every address must be inside the pool
/// and free (otherwise 409 naming the first taken one).
pub async fn reserve(
    db: &Database,
    caller: &crate::auth::Principal,
    pool_id: i64,
    request: &ReservationRequest,
) -> Result<Reservation, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "reserve addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    if let Err(error) = check_range(request.start, request.stop) {
        return Err(AllocationError::Invalid(FieldErrors::from(vec![error])));
    }
    let since = now_text();
    let family = request.start.family();
    let holdings: Vec<Holding> = (request.start.to_u128()..=request.stop.to_u128())
        .filter_map(|value| IpAddr::from_u128(family, value))
        .map(|address| Holding {
            address,
            pool: pool_id,
            state: AddressState::Reserved,
            owner: None,
            application: None,
            reason: Some(request.reason.clone()),
            since: since.clone(),
            by: actor.to_owned(),
        })
        .collect();
    let holdings = &holdings;
    let stored = with_retries(db, |_| async move {
        let read = read_pool(&mut *db.pool().acquire().await?, pool_id).await?;
        for (field, address) in [("start", request.start), ("stop", request.stop)] {
            if !read.pool.contains(&address) {
                return Err(outside_pool(field, address, &read.pool));
            }
        }
        if let Some(gap) = first_outside(&read.pool, request.start, request.stop) {
            return Err(outside_pool("stop", gap, &read.pool));
        }
        let mut tx = db.begin_write().await?;
        let unchanged = sqlx::query("SELECT id FROM pools WHERE id = $1 AND blocks = $2")
            .bind(pool_id)
            .bind(&read.blocks_text)
            .fetch_optional(&mut *tx)
            .await?;
        if unchanged.is_none() {
            return Ok(None);
        }
        match insert_holdings(&mut tx, holdings).await {
            Ok(()) => {}
            Err(error) if error.is_unique_violation() => return Ok(Some(false)),
            Err(error) if error.is_foreign_key_violation() => return Err(AllocationError::PoolNotFound(pool_id)),
            Err(error) => return Err(error.into()),
        }
        record_taken(&mut tx, holdings).await?;
        tx.commit().await?;
        Ok(Some(true))
    })
    .await?;
    if !stored {
        let first = sqlx::query(&format!(
            "SELECT {HOLDING_COLUMNS} FROM addresses WHERE address_key >= $1 AND address_key <= $2 \
             ORDER BY address_key LIMIT 1"
        ))
        .bind(address_key(request.start))
        .bind(address_key(request.stop))
        .fetch_optional(db.pool())
        .await?;
        let holder = first.as_ref().map(row_to_holding).transpose()?;
        return Err(AllocationError::Taken {
            field: "start",
            address: holder.as_ref().map_or(request.start, |h| h.address),
            holder: holder.map(Box::new),
            hint: "every address of a reservation must be free; reserve around it",
        });
    }
    Ok(Reservation {
        pool: pool_id,
        start: request.start,
        stop: request.stop,
        count: request.count(),
        reason: request.reason.clone(),
        since,
        by: actor.to_owned(),
    })
}

/// The first address of `start..=stop` that none of the pool's blocks contains.
pub(super) fn first_outside(pool: &VipPool, start: IpAddr, stop: IpAddr) -> Option<IpAddr> {
    let family = start.family();
    let mut next = start.to_u128();
    for extent in extents(pool).iter().filter(|e| e.family == family) {
        if extent.first > next {
            break;
        }
        if extent.last >= next {
            if extent.last >= stop.to_u128() {
                return None;
            }
            next = extent.last + 1;
        }
    }
    IpAddr::from_u128(family, next)
}

/// Rows for many addresses, [`BATCH`] rows per statement.
pub(crate) async fn insert_holdings(conn: &mut AnyConnection, holdings: &[Holding]) -> Result<(), DbError> {
    for chunk in holdings.chunks(BATCH) {
        insert_holdings_batch(conn, chunk).await?;
    }
    Ok(())
}

pub(super) async fn insert_holdings_batch(conn: &mut AnyConnection, holdings: &[Holding]) -> Result<(), DbError> {
    let mut s = Statement::default();
    let rows: Vec<String> = holdings
        .iter()
        .map(|h| {
            let values = [
                s.text(address_key(h.address)),
                s.text(h.address.to_string()),
                s.param(Some(Value::Int(h.pool))),
                s.text(h.state.as_str()),
                s.optional_text(h.owner.as_deref()),
                s.optional_text(h.application.as_ref().map(K8sName::as_str)),
                s.optional_text(h.reason.as_deref()),
                s.text(h.by.clone()),
                s.text(h.since.clone()),
            ];
            format!("({})", values.join(", "))
        })
        .collect();
    s.sql = format!("INSERT INTO addresses ({INSERT_COLUMNS}) VALUES {}", rows.join(", "));
    s.query().execute(&mut *conn).await?;
    Ok(())
}

/// One audit entry: when, who, action, object, before, after.
pub(super) type AuditRow = (String, String, &'static str, String, Option<String>, Option<String>);

/// Audit entries, many rows per statement, inside the change's transaction.
pub(super) async fn insert_audit(tx: &mut Transaction<'_, Any>, entries: Vec<AuditRow>) -> Result<(), DbError> {
    for chunk in entries.chunks(BATCH) {
        let mut s = Statement::default();
        let rows: Vec<String> = chunk
            .iter()
            .map(|(at, actor, action, object, before, after)| {
                let values = [
                    s.text(at.clone()),
                    s.text(actor.clone()),
                    s.text(*action),
                    s.text(object.clone()),
                    s.optional_text(before.as_deref()),
                    s.optional_text(after.as_deref()),
                ];
                format!("({})", values.join(", "))
            })
            .collect();
        s.sql = format!(
            "INSERT INTO audit_log (at, actor, action, object, before_json, after_json) VALUES {}",
            rows.join(", ")
        );
        s.query().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Audit entries of addresses taken: `after` the holding (who, since when, why).
pub(crate) async fn record_taken(tx: &mut Transaction<'_, Any>, holdings: &[Holding]) -> Result<(), DbError> {
    let entries = holdings
        .iter()
        .map(|holding| {
            let action = match holding.state {
                AddressState::Reserved => "address.reserve",
                _ => "address.allocate",
            };
            let after = holding_json(holding).to_string();
            (holding.since.clone(), holding.by.clone(), action, audit_object(holding.address), None, Some(after))
        })
        .collect();
    insert_audit(tx, entries).await
}

/// Audit entries of addresses given back: `before` the holding, `after` the address free
/// with the reason.
pub(super) async fn record_removals(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    holdings: &[Holding],
    reason: Option<&str>,
) -> Result<(), DbError> {
    let at = now_text();
    let entries = holdings
        .iter()
        .map(|holding| {
            let action = match holding.state {
                AddressState::Reserved => "address.unreserve",
                _ => "address.release",
            };
            let before = holding_json(holding).to_string();
            let after = freed_json(holding, reason).to_string();
            (at.clone(), actor.to_owned(), action, audit_object(holding.address), Some(before), Some(after))
        })
        .collect();
    insert_audit(tx, entries).await
}

pub(super) fn holding_json(holding: &Holding) -> serde_json::Value {
    serde_json::to_value(holding).unwrap_or(serde_json::Value::Null)
}

pub(super) fn freed_json(holding: &Holding, reason: Option<&str>) -> serde_json::Value {
    serde_json::json!({"address": holding.address, "pool": holding.pool, "state": "free", "reason": reason})
}
