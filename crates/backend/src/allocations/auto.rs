//! `auto` VIPs of applications: chosen and held when the application is submitted, then asked of LB-IPAM.
use super::*;

/// The reason on the rows that hold the address an application with `vip: auto` was given in
/// an environment. The plan chooses it when the application is submitted there, and the
/// Gateway asks LB-IPAM for exactly that address (`spec.addresses`), so the cluster can only
/// assign what the plan holds. Such a row lasts until a teardown, or until the application
/// no longer asks for `auto` there.
pub const AUTO_VIP_REASON: &str = "the application's VIP (vip: auto), requested from LB-IPAM";

/// The owner written on an `auto` VIP's row: the object the address is for.
pub fn auto_vip_owner(namespace: &str, gateway: &str) -> String {
    format!("Gateway {namespace}/{gateway}")
}

/// An `auto` VIP as held: for which application in which environment (the pool's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoVip {
    pub application: String,
    pub environment: String,
    pub address: IpAddr,
    pub(super) pool: i64,
}

/// Every `auto` VIP held, oldest first.
pub async fn auto_vips(conn: &mut AnyConnection) -> Result<Vec<AutoVip>, DbError> {
    let rows = sqlx::query(
        "SELECT a.address AS address, a.pool_id AS pool_id, a.application AS application, e.name AS environment \
         FROM addresses a JOIN pools p ON p.id = a.pool_id JOIN environments e ON e.id = p.environment_id \
         WHERE a.reason = $1 AND a.state = 'allocated' AND a.application IS NOT NULL ORDER BY a.id",
    )
    .bind(AUTO_VIP_REASON)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let address: String = row.try_get("address")?;
            Ok(AutoVip {
                address: IpAddr::parse(&address).map_err(|_| DbError::Corrupt {
                    what: "address address".to_owned(),
                    source: serde::de::Error::custom("not a valid stored value"),
                })?,
                pool: row.try_get("pool_id")?,
                application: row.try_get("application")?,
                environment: row.try_get("environment")?,
            })
        })
        .collect()
}

/// The address `application` holds for its `auto` VIP in `environment`: the oldest row, should
/// two submissions have raced.
pub fn held_auto_vip(vips: &[AutoVip], application: &str, environment: &str) -> Option<IpAddr> {
    vips.iter().find(|v| v.application == application && v.environment == environment).map(|v| v.address)
}

/// Gives every `auto` VIP of the plan that is held its address, so that its Gateway asks
/// LB-IPAM for it. Those not held yet stay `auto`.
pub fn with_auto_vips(plan: &domain::Plan, vips: &[AutoVip]) -> domain::Plan {
    let mut plan = plan.clone();
    for application in &mut plan.applications {
        for (environment, target) in &mut application.environments {
            if target.vip == domain::VipRequest::Auto
                && let Some(address) = held_auto_vip(vips, application.name.as_str(), environment.as_str())
            {
                target.vip = domain::VipRequest::Address(address);
            }
        }
    }
    plan
}

/// The pools of an environment to take an `auto` VIP from: those with IPv4 blocks first, as
/// LB-IPAM gives a single-stack Service an IPv4 address.
pub(super) fn auto_vip_pools<'a>(plan: &'a domain::Plan, environment: &'a domain::EnvironmentName) -> Vec<&'a VipPool> {
    let mut pools: Vec<&VipPool> = plan.pools_of(environment).filter(|pool| pool.id.is_some()).collect();
    pools.sort_by_key(|pool| !pool.blocks.iter().any(|block| block.family() == IpFamily::Ipv4));
    pools
}

/// The address an `auto` VIP would be given now without holding it (for previews): the
/// lowest free address of the environment's pools.
pub async fn next_free_auto_vip(
    db: &Database,
    plan: &domain::Plan,
    environment: &domain::EnvironmentName,
) -> Result<Option<IpAddr>, AllocationError> {
    let mut conn = db.pool().acquire().await?;
    for pool in auto_vip_pools(plan, environment) {
        let (read, prefetch) = read_for_allocation(&mut conn, pool.id.unwrap_or_default(), 1).await?;
        let found = find_free(&mut conn, &read.extents, read.start(), Some(&prefetch), 1).await?;
        if let Some(address) = found.free.first() {
            return Ok(Some(*address));
        }
    }
    Ok(None)
}

/// The advisory-lock class of `auto` VIP holders (PostgreSQL): one submission at a time
/// decides the address of one application in one environment.
pub(super) const AUTO_VIP_LOCK_CLASS: i32 = 0x4748_0002;

/// The advisory-lock key of an (application, environment): a hash, so two holders may share
/// a key now and then and merely wait for each other.
pub(super) fn holder_key(application: &str, environment: &str) -> i32 {
    let mut hash = crate::manifests::Fnv1a::new();
    hash.write(application.as_bytes());
    hash.write(&[0]);
    hash.write(environment.as_bytes());
    (hash.finish() & 0x7fff_ffff) as i32
}

/// Holds the `auto` VIP of `application` in `environment` and returns it: the address it
/// holds already; else `assigned` — the address the cluster gave its Gateway's Service —
/// when it is in one of the environment's pools and free in the plan; else the lowest free
/// address of the environment's pools. One short write transaction decides, with the
/// holder's lock (SQLite: the write lock; PostgreSQL: an advisory lock of the application and
/// environment), so two submissions of one application hold one address between them; the
/// address itself is kept from everyone else by the UNIQUE key like every allocation, and a
/// claim that meets a concurrent one is tried again with a fresh read.
pub async fn hold_auto_vip(
    db: &Database,
    actor: &str,
    plan: &domain::Plan,
    application: &domain::Application,
    environment: &domain::EnvironmentName,
    assigned: Option<IpAddr>,
) -> Result<IpAddr, AllocationError> {
    let (name, env) = (application.name.as_str(), environment.as_str());
    let pools: Vec<i64> = auto_vip_pools(plan, environment).iter().filter_map(|pool| pool.id).collect();
    if pools.is_empty() {
        return Err(invalid(
            "vip",
            "no_vip_pools",
            format!("environment {env} has no VIP pool to give the application's `auto` VIP from; create a pool for it"),
        ));
    }
    let owner = auto_vip_owner(plan.namespace_in(application, environment).as_str(), &format!("{name}-{env}"));
    let pools = &pools;
    let owner = &owner;
    with_retries(db, |_| async move {
        let mut tx = db.begin_write().await?;
        if db.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(AUTO_VIP_LOCK_CLASS)
                .bind(holder_key(name, env))
                .execute(&mut *tx)
                .await?;
        }
        let held: Option<String> = sqlx::query(
            "SELECT a.address AS address FROM addresses a JOIN pools p ON p.id = a.pool_id              JOIN environments e ON e.id = p.environment_id              WHERE a.reason = $1 AND a.application = $2 AND e.name = $3 AND a.state = 'allocated' ORDER BY a.id LIMIT 1",
        )
        .bind(AUTO_VIP_REASON)
        .bind(name)
        .bind(env)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get("address"))
        .transpose()?;
        if let Some(address) = held.as_deref().and_then(|a| IpAddr::parse(a).ok()) {
            return Ok(Some(address));
        }
        let mut reads = Vec::with_capacity(pools.len());
        for &pool in pools {
            reads.push(read_pool(&mut tx, pool).await?);
        }
        let mut chosen = None;
        if let Some(address) = assigned
            && let Some(read) = reads.iter().find(|read| read.pool.contains(&address))
        {
            let taken = sqlx::query("SELECT 1 AS taken FROM addresses WHERE address_key = $1")
                .bind(address_key(address))
                .fetch_optional(&mut *tx)
                .await?;
            // Someone else holds it: the plan's own choice below wins, and the Gateway asks
            // LB-IPAM to move to it.
            if taken.is_none() {
                chosen = read.pool.id.map(|pool| (address, pool));
            }
        }
        for read in &reads {
            if chosen.is_some() {
                break;
            }
            let found = find_free(&mut tx, &read.extents, read.start(), None, 1).await?;
            chosen = found.free.first().copied().zip(read.pool.id);
        }
        let Some((address, pool)) = chosen else {
            drop(tx);
            return Err(exhausted_info(db, &reads[0].pool).await?.error());
        };
        let holding = Holding {
            address,
            pool,
            state: AddressState::Allocated,
            owner: Some(owner.clone()),
            application: Some(application.name.clone()),
            reason: Some(AUTO_VIP_REASON.to_owned()),
            since: now_text(),
            by: actor.to_owned(),
        };
        match insert_holdings(&mut tx, std::slice::from_ref(&holding)).await {
            Ok(()) => {}
            // Claimed meanwhile by another writer: read again.
            Err(error) if error.is_unique_violation() => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        record_taken(&mut tx, std::slice::from_ref(&holding)).await?;
        tx.commit().await?;
        Ok(Some(address))
    })
    .await
}
