//! The VIP pools repository. Writes pass the plan guard, so an overlapping pool is refused
//! with the finding that names the other pool.
use sqlx::Row;

use super::{
    allocations, audit,
    db::{Database, DbError, now_text},
    plan::{self, POOL_COLUMNS},
};
use domain::{Plan, VipPool};

fn object(pool: &VipPool) -> String {
    format!("pool/{}/{}", pool.environment, pool.name)
}

fn to_json(pool: &VipPool) -> serde_json::Value {
    serde_json::to_value(pool).unwrap_or(serde_json::Value::Null)
}

fn blocks_json(pool: &VipPool) -> String {
    serde_json::to_string(&pool.blocks).unwrap_or_else(|_| "[]".to_owned())
}

fn not_found(id: i64) -> DbError {
    DbError::NotFound(format!("there is no pool with id {id}"))
}

/// Pools of one environment (or all), by environment and name.
pub async fn list(db: &Database, environment: Option<&str>) -> Result<Vec<VipPool>, DbError> {
    let base = format!("SELECT {POOL_COLUMNS} FROM pools p JOIN environments e ON e.id = p.environment_id");
    let rows = match environment {
        Some(environment) => {
            sqlx::query(&format!("{base} WHERE e.name = $1 ORDER BY p.name"))
                .bind(environment)
                .fetch_all(db.pool())
                .await?
        }
        None => sqlx::query(&format!("{base} ORDER BY e.name, p.name")).fetch_all(db.pool()).await?,
    };
    rows.iter().map(plan::pool_from_row).collect()
}

pub async fn get(db: &Database, id: i64) -> Result<Option<VipPool>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {POOL_COLUMNS} FROM pools p JOIN environments e ON e.id = p.environment_id WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(plan::pool_from_row).transpose()
}

/// Stores a new pool and returns it with its id.
pub async fn create(db: &Database, caller: &crate::auth::Principal, pool: &VipPool) -> Result<VipPool, DbError> {
    caller.require(domain::access::Role::NetworkAdmin, "create VIP pools").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    if before.environment(&pool.environment).is_none() {
        return Err(DbError::NotFound(format!("there is no environment named {:?}", pool.environment.as_str())));
    }
    if before.pools_of(&pool.environment).any(|p| p.name == pool.name) {
        return Err(DbError::Conflict(format!(
            "environment {} already has a pool named {:?}; choose another name",
            pool.environment, pool.name.as_str()
        )));
    }
    let mut after = Plan::clone(&before);
    after.pools.push(VipPool { id: Some(-1), ..pool.clone() });
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;
    let stored = insert(&mut tx, actor, pool).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Inserts a pool and its audit entry inside the caller's transaction, which holds the plan
/// lock and has checked the plan as it will be.
pub(crate) async fn insert(tx: &mut sqlx::Transaction<'_, sqlx::Any>, actor: &str, pool: &VipPool) -> Result<VipPool, DbError> {
    let environment_id: i64 = sqlx::query("SELECT id FROM environments WHERE name = $1")
        .bind(pool.environment.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| DbError::NotFound(format!("there is no environment named {:?}", pool.environment.as_str())))?
        .try_get("id")?;
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO pools (environment_id, name, blocks, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(environment_id)
    .bind(pool.name.as_str())
    .bind(blocks_json(pool))
    .bind(&now)
    .fetch_one(&mut **tx)
    .await?;
    let stored = VipPool { id: Some(row.try_get("id")?), ..pool.clone() };
    audit::record(tx, actor, "pool.create", &object(&stored), None, Some(&to_json(&stored))).await?;
    Ok(stored)
}

/// Replaces a pool's name and blocks; a pool stays in its environment.
pub async fn update(db: &Database, caller: &crate::auth::Principal, id: i64, pool: &VipPool) -> Result<VipPool, DbError> {
    caller.require(domain::access::Role::NetworkAdmin, "change VIP pools").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    let previous = before.pools.iter().find(|p| p.id == Some(id)).cloned().ok_or_else(|| not_found(id))?;
    if previous.environment != pool.environment {
        return Err(DbError::Invalid(domain::FieldErrors::from(vec![domain::FieldError::new(
            "environment",
            "environment_mismatch",
            format!(
                "pool {id} belongs to environment {}; a pool cannot move — create it in {} and delete this one",
                previous.environment, pool.environment
            ),
        )])));
    }
    if before.pools_of(&pool.environment).any(|p| p.name == pool.name && p.id != Some(id)) {
        return Err(DbError::Conflict(format!(
            "environment {} already has a pool named {:?}",
            pool.environment, pool.name.as_str()
        )));
    }
    let stored = VipPool { id: Some(id), ..pool.clone() };
    let mut after = Plan::clone(&before);
    for candidate in &mut after.pools {
        if candidate.id == Some(id) {
            *candidate = stored.clone();
        }
    }
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;
    sqlx::query("UPDATE pools SET name = $1, blocks = $2, updated_at = $3 WHERE id = $4")
        .bind(stored.name.as_str())
        .bind(blocks_json(&stored))
        .bind(now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        "pool.update",
        &object(&stored),
        Some(&to_json(&previous)),
        Some(&to_json(&stored)),
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

pub async fn delete(db: &Database, caller: &crate::auth::Principal, id: i64) -> Result<(), DbError> {
    caller.require(domain::access::Role::NetworkAdmin, "delete VIP pools").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = before.pools.iter().find(|p| p.id == Some(id)).cloned().ok_or_else(|| not_found(id))?;
    // Refused while addresses are allocated; an allocation committed after this check makes
    // the DELETE fail on the addresses' foreign key instead.
    allocations::clear_pool_for_delete(&mut tx, actor, &previous).await?;
    sqlx::query("DELETE FROM pools WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(|error| {
        let error = DbError::from(error);
        if allocations::is_pool_in_use(&error) {
            DbError::Conflict(format!("pool {} has allocated addresses; release them before deleting the pool", previous.name))
        } else {
            error
        }
    })?;
    audit::record(&mut tx, actor, "pool.delete", &object(&previous), Some(&to_json(&previous)), None).await?;
    tx.commit().await?;
    Ok(())
}
