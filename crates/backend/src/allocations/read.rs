//! Reading holdings and usage.
use super::*;

pub(super) const HOLDING_COLUMNS: &str = "address, pool_id, state, owner, application, reason, since, actor";

pub(super) fn row_to_holding(row: &AnyRow) -> Result<Holding, DbError> {
    let corrupt = |what: &str| DbError::Corrupt {
        what: format!("address {what}"),
        source: serde::de::Error::custom("not a valid stored value"),
    };
    let address: String = row.try_get("address")?;
    let state: String = row.try_get("state")?;
    let application: Option<String> = row.try_get("application")?;
    Ok(Holding {
        address: IpAddr::parse(&address).map_err(|_| corrupt("address"))?,
        pool: row.try_get("pool_id")?,
        state: match state.as_str() {
            "allocated" => AddressState::Allocated,
            "reserved" => AddressState::Reserved,
            _ => return Err(corrupt("state")),
        },
        owner: row.try_get("owner")?,
        application: application.map(|a| K8sName::parse(&a).map_err(|_| corrupt("application"))).transpose()?,
        reason: row.try_get("reason")?,
        since: row.try_get("since")?,
        by: row.try_get("actor")?,
    })
}

/// The holder of an address, when it is allocated or reserved.
pub async fn get(db: &Database, address: IpAddr) -> Result<Option<Holding>, DbError> {
    let row = sqlx::query(&format!("SELECT {HOLDING_COLUMNS} FROM addresses WHERE address_key = $1"))
        .bind(address_key(address))
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(row_to_holding).transpose()
}

/// The allocated and reserved addresses of a pool, in address order.
pub async fn list(db: &Database, pool_id: i64) -> Result<Vec<Holding>, DbError> {
    sqlx::query(&format!("SELECT {HOLDING_COLUMNS} FROM addresses WHERE pool_id = $1 ORDER BY address_key"))
        .bind(pool_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(row_to_holding)
        .collect()
}

/// The allocated addresses of every pool, for the checklist (`Plan.allocations`).
pub async fn load_allocations(conn: &mut AnyConnection) -> Result<Vec<Allocation>, DbError> {
    sqlx::query(
        "SELECT a.address AS address, a.pool_id AS pool_id, e.name AS environment, a.owner AS owner, \
                a.application AS application \
         FROM addresses a JOIN pools p ON p.id = a.pool_id JOIN environments e ON e.id = p.environment_id \
         WHERE a.state = 'allocated' ORDER BY a.address_key",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let document = serde_json::json!({
            "address": row.try_get::<String, _>("address")?,
            "pool_id": row.try_get::<i64, _>("pool_id")?,
            "environment": row.try_get::<String, _>("environment")?,
            "owner": row.try_get::<Option<String>, _>("owner")?.unwrap_or_default(),
            "application": row.try_get::<Option<String>, _>("application")?,
        });
        serde_json::from_value(document).map_err(|source| DbError::Corrupt { what: "allocation".to_owned(), source })
    })
    .collect()
}

/// Allocated and reserved counts of one pool.
pub async fn usage(db: &Database, pool_id: i64) -> Result<Usage, DbError> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM addresses WHERE pool_id = $1 GROUP BY state")
        .bind(pool_id)
        .fetch_all(db.pool())
        .await?;
    let mut usage = Usage::default();
    for row in &rows {
        add_count(&mut usage, row)?;
    }
    Ok(usage)
}

/// Allocated and reserved counts of every pool that has any.
pub async fn usage_by_pool(db: &Database) -> Result<HashMap<i64, Usage>, DbError> {
    let rows = sqlx::query("SELECT pool_id, state, COUNT(*) AS n FROM addresses GROUP BY pool_id, state")
        .fetch_all(db.pool())
        .await?;
    let mut usage: HashMap<i64, Usage> = HashMap::new();
    for row in &rows {
        add_count(usage.entry(row.try_get("pool_id")?).or_default(), row)?;
    }
    Ok(usage)
}

pub(super) fn add_count(usage: &mut Usage, row: &AnyRow) -> Result<(), DbError> {
    let n = u128::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default();
    match row.try_get::<String, _>("state")?.as_str() {
        "allocated" => usage.allocated += n,
        "reserved" => usage.reserved += n,
        _ => {}
    }
    Ok(())
}
