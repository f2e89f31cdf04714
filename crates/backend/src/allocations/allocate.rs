//! Allocate a given address or the lowest free one; next-free requests of a pool waiting on a claim are claimed together.
use super::*;

/// Allocates `request.address`, or the pool's lowest free address, to `request.owner`.
pub async fn allocate(
    db: &Database,
    caller: &crate::auth::Principal,
    pool_id: i64,
    request: &AllocationRequest,
) -> Result<Holding, AllocationError> {
    caller.require(domain::access::Role::NetworkAdmin, "allocate addresses").map_err(DbError::from)?;
    let actor = &caller.actor();
    let template = |address: IpAddr| Holding {
        address,
        pool: pool_id,
        state: AddressState::Allocated,
        owner: Some(request.owner.clone()),
        application: request.application.clone(),
        reason: request.reason.clone(),
        since: now_text(),
        by: actor.to_owned(),
    };
    match request.address {
        Some(address) => take(db, &template(address)).await,
        None => allocate_next(db, pool_id, template(IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED))).await,
    }
}

pub(super) fn outside_pool(field: &str, address: IpAddr, pool: &VipPool) -> AllocationError {
    let blocks: Vec<String> = pool.blocks.iter().map(ToString::to_string).collect();
    invalid(
        field,
        "outside_pool",
        format!("{address} is not in pool {} (blocks: {}); pick an address inside it", pool.name, blocks.join(", ")),
    )
}

// ---------------------------------------------------------------------------------------------
// Next free: the waiting requests of a pool are claimed together

/// The most next-free requests one statement claims.
pub(super) const MAX_BATCH: usize = 64;

/// Candidates searched beyond one per request, for what other writers claim meanwhile.
pub(super) fn slack(backend: Backend) -> usize {
    match backend {
        // One writer at a time, and one batch at a time per process.
        Backend::Sqlite => 8,
        // Other processes claim in parallel.
        Backend::Postgres => 32,
    }
}

/// A next-free request waiting for its batch.
pub(super) struct Pending {
    pub(super) template: Holding,
    pub(super) reply: tokio::sync::oneshot::Sender<Result<Holding, AllocationError>>,
}

/// The waiting requests of one pool of one database, and whether a task is claiming them.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) pending: Vec<Pending>,
    pub(super) draining: bool,
}

/// (database, pool): a pool's connect options are shared by its clones and never replaced.
pub(super) type QueueKey = (usize, i64);

pub(super) fn queues() -> std::sync::MutexGuard<'static, HashMap<QueueKey, Queue>> {
    static QUEUES: std::sync::LazyLock<std::sync::Mutex<HashMap<QueueKey, Queue>>> =
        std::sync::LazyLock::new(Default::default);
    QUEUES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The lowest free address of the pool. Requests that arrive while a batch of the pool is
/// being claimed wait and are claimed together in the next one: one read and one statement
/// for many allocations (and, on SQLite, one turn of the write lock). Batching is only about
/// throughput — two batches, from two processes say, still cannot claim one address.
pub(super) async fn allocate_next(db: &Database, pool_id: i64, template: Holding) -> Result<Holding, AllocationError> {
    let key = (std::sync::Arc::as_ptr(&db.pool().connect_options()).cast::<()>() as usize, pool_id);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let lead = {
        let mut queues = queues();
        let queue = queues.entry(key).or_default();
        queue.pending.push(Pending { template, reply });
        !std::mem::replace(&mut queue.draining, true)
    };
    if lead {
        // Its own task: a request that goes away does not strand the others.
        tokio::spawn(drain(db.clone(), key));
    }
    answer.await.unwrap_or(Err(AllocationError::Busy))
}

/// Claims the waiting requests of one pool, a batch at a time, until none is left.
pub(super) async fn drain(db: Database, key: QueueKey) {
    let mut guard = DrainGuard { key, done: false };
    loop {
        let batch: Vec<Pending> = {
            let mut queues = queues();
            let Some(queue) = queues.get_mut(&key) else {
                guard.done = true;
                return;
            };
            if queue.pending.is_empty() {
                queues.remove(&key);
                guard.done = true;
                return;
            }
            let n = queue.pending.len().min(MAX_BATCH);
            queue.pending.drain(..n).collect()
        };
        let templates: Vec<Holding> = batch.iter().map(|p| p.template.clone()).collect();
        let results = claim_batch(&db, key.1, &templates).await;
        for (pending, result) in batch.into_iter().zip(results) {
            // A request that went away no longer listens; its address stays allocated.
            let _ = pending.reply.send(result);
        }
    }
}

/// Should a drain end early (a panic, or its runtime shutting down): its waiting requests are
/// answered (busy) and the next request starts a new drain, instead of waiting forever.
pub(super) struct DrainGuard {
    pub(super) key: QueueKey,
    pub(super) done: bool,
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        if !self.done {
            queues().remove(&self.key);
        }
    }
}

/// The outcome of one attempt at a batch.
pub(super) struct Round {
    /// (index of the request, what it got).
    pub(super) claimed: Vec<(usize, Holding)>,
    /// Set when the pool has no free address left for the requests not claimed.
    pub(super) exhausted: Option<ExhaustedInfo>,
}

/// Claims the lowest free addresses for `templates`, in order; retries what is left with a
/// fresh read, a bounded number of times.
pub(super) async fn claim_batch(db: &Database, pool_id: i64, templates: &[Holding]) -> Vec<Result<Holding, AllocationError>> {
    let mut results: Vec<Option<Result<Holding, AllocationError>>> = templates.iter().map(|_| None).collect();
    let mut open: Vec<usize> = (0..templates.len()).collect();
    for round in 0..MAX_ROUNDS {
        match claim_round(db, pool_id, templates, &open).await {
            Ok(Round { claimed, exhausted }) => {
                for (index, holding) in claimed {
                    results[index] = Some(Ok(holding));
                }
                open.retain(|&index| results[index].is_none());
                if let Some(info) = exhausted {
                    for &index in &open {
                        results[index] = Some(Err(info.error()));
                    }
                    open.clear();
                }
                if open.is_empty() {
                    break;
                }
            }
            Err(error) if is_transient(db.backend(), &error) => {
                tracing::debug!(%error, round, "transient database error; trying again");
            }
            Err(error) => {
                for (&index, error) in open.iter().zip(spread(error, open.len())) {
                    results[index] = Some(Err(error));
                }
                open.clear();
                break;
            }
        }
        jitter(round).await;
    }
    results.into_iter().map(|result| result.unwrap_or(Err(AllocationError::Busy))).collect()
}

/// One error for each of `n` requests (the database's own error to the first; the others
/// carry its text).
pub(super) fn spread(error: AllocationError, n: usize) -> Vec<AllocationError> {
    let copy = |error: &AllocationError| match error {
        AllocationError::PoolNotFound(id) => AllocationError::PoolNotFound(*id),
        AllocationError::Busy => AllocationError::Busy,
        other => AllocationError::Db(DbError::Sqlx(sqlx::Error::Protocol(other.to_string()))),
    };
    let mut errors: Vec<AllocationError> = (1..n).map(|_| copy(&error)).collect();
    errors.insert(0, error);
    errors
}

/// One read, then one write transaction (the cursor when it lags, the claiming statement and
/// the audit entries) for the requests `open` of `templates`.
pub(super) async fn claim_round(db: &Database, pool_id: i64, templates: &[Holding], open: &[usize]) -> Result<Round, AllocationError> {
    let backend = db.backend();
    let want = open.len() + slack(backend);
    let (read, found) = {
        let mut conn = db.pool().acquire().await?;
        let (read, prefetch) = read_for_allocation(&mut conn, pool_id, want).await?;
        let found = find_free(&mut conn, &read.extents, read.start(), Some(&prefetch), want).await?;
        (read, found)
    };
    let Some(&lowest) = found.free.first() else {
        return Ok(Round { claimed: Vec::new(), exhausted: Some(exhausted_info(db, &read.pool).await?) });
    };
    let mut tx = db.begin_write().await?;
    if read.cursor_is_stale(found.skipped) {
        advance_cursor(&mut tx, backend, &read, lowest).await?;
    }
    let requests: Vec<&Holding> = open.iter().map(|&index| &templates[index]).collect();
    let statement = claim_statement(backend, &read, &requests, &found.free);
    let rows = match statement.query().fetch_all(&mut *tx).await.map_err(DbError::from) {
        Ok(rows) => rows,
        // Committed by someone else after this statement's snapshot: search again.
        Err(error) if error.is_unique_violation() => return Ok(Round { claimed: Vec::new(), exhausted: None }),
        Err(error) if error.is_foreign_key_violation() => return Err(AllocationError::PoolNotFound(pool_id)),
        Err(error) => return Err(error.into()),
    };
    let mut keys = rows
        .iter()
        .map(|row| row.try_get::<String, _>("address_key"))
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort();
    let mut claimed = Vec::with_capacity(keys.len());
    for (key, &index) in keys.iter().zip(open) {
        let address = parse_key(key).and_then(|(family, value)| IpAddr::from_u128(family, value)).ok_or_else(|| {
            DbError::Corrupt { what: "claimed address".to_owned(), source: serde::de::Error::custom("not a key") }
        })?;
        claimed.push((index, Holding { address, ..templates[index].clone() }));
    }
    let holdings: Vec<Holding> = claimed.iter().map(|(_, holding)| holding.clone()).collect();
    record_taken(&mut tx, &holdings).await?;
    tx.commit().await?;
    // The search reached the end of the pool and every free address it found is now taken.
    let exhausted = if found.free.len() < want && claimed.len() == found.free.len() && claimed.len() < open.len() {
        Some(exhausted_info(db, &read.pool).await?)
    } else {
        None
    };
    Ok(Round { claimed, exhausted })
}

/// Stores `holding` at its given address: 422 outside the pool, 409 with its holder when it
/// is taken.
pub(super) async fn take(db: &Database, holding: &Holding) -> Result<Holding, AllocationError> {
    let stored = with_retries(db, |_| async move {
        let read = read_pool(&mut *db.pool().acquire().await?, holding.pool).await?;
        if !read.pool.contains(&holding.address) {
            return Err(outside_pool("address", holding.address, &read.pool));
        }
        let mut tx = db.begin_write().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO addresses ({INSERT_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE EXISTS (SELECT 1 FROM pools p WHERE p.id = $3 AND p.blocks = $10)"
        ))
        .bind(address_key(holding.address))
        .bind(holding.address.to_string())
        .bind(holding.pool)
        .bind(holding.state.as_str())
        .bind(holding.owner.as_deref())
        .bind(holding.application.as_ref().map(K8sName::as_str))
        .bind(holding.reason.as_deref())
        .bind(&holding.by)
        .bind(&holding.since)
        .bind(&read.blocks_text)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from);
        match inserted {
            Ok(result) if result.rows_affected() == 1 => {}
            // The pool changed since it was read: check the address against it again.
            Ok(_) => return Ok(None),
            Err(error) if error.is_unique_violation() => return Ok(Some(false)),
            Err(error) if error.is_foreign_key_violation() => return Err(AllocationError::PoolNotFound(holding.pool)),
            Err(error) => return Err(error.into()),
        }
        record_taken(&mut tx, std::slice::from_ref(holding)).await?;
        tx.commit().await?;
        Ok(Some(true))
    })
    .await?;
    if stored {
        return Ok(holding.clone());
    }
    Err(AllocationError::Taken {
        field: "address",
        address: holding.address,
        holder: get(db, holding.address).await?.map(Box::new),
        hint: "choose another address, or leave out `address` to get the next free one",
    })
}

/// What the 409 of an exhausted pool says: the pool, and the next pool of its environment
/// with room.
#[derive(Debug, Clone)]
pub(super) struct ExhaustedInfo {
    pub(super) pool: String,
    pub(super) environment: String,
    pub(super) size: u128,
    pub(super) alternative: Option<PoolRoom>,
}

impl ExhaustedInfo {
    pub(super) fn error(&self) -> AllocationError {
        AllocationError::Exhausted {
            pool: self.pool.clone(),
            environment: self.environment.clone(),
            size: self.size,
            alternative: self.alternative.clone(),
        }
    }
}

pub(super) async fn exhausted_info(db: &Database, pool: &VipPool) -> Result<ExhaustedInfo, DbError> {
    let others = pools::list(db, Some(pool.environment.as_str())).await?;
    let usage = usage_by_pool(db).await?;
    let (after, before): (Vec<&VipPool>, Vec<&VipPool>) =
        others.iter().filter(|other| other.id != pool.id).partition(|other| other.name > pool.name);
    let alternative = after.into_iter().chain(before).find_map(|other| {
        let id = other.id?;
        let free = usage.get(&id).copied().unwrap_or_default().free(other);
        (free > 0).then(|| PoolRoom { id, name: other.name.to_string(), free })
    });
    Ok(ExhaustedInfo {
        pool: pool.name.to_string(),
        environment: pool.environment.to_string(),
        size: pool.size(),
        alternative,
    })
}
