//! The stored plan as a whole: loading it for the checklist, and the guard every write goes
//! through so that no save introduces an error-level finding.
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::db::DbError;
use domain::{Application, Environment, Plan, PoolBlock, VipPool};

/// Bumps the plan revision as the first write of a transaction. This takes the database's
/// write lock (SQLite) or the row's lock (PostgreSQL), so the plan read afterwards in the same
/// transaction cannot change under the check — also across several Gatehouse processes.
pub async fn lock(tx: &mut Transaction<'_, Any>) -> Result<i64, DbError> {
    sqlx::query("UPDATE plan_revision SET revision = revision + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("SELECT revision FROM plan_revision WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("revision")?)
}

fn corrupt(what: &str) -> impl FnOnce(serde_json::Error) -> DbError + '_ {
    move |source| DbError::Corrupt { what: what.to_owned(), source }
}

pub(crate) fn parse_environment(spec: &str) -> Result<Environment, DbError> {
    serde_json::from_str(spec).map_err(corrupt("environment"))
}

pub(crate) fn parse_application(spec: &str) -> Result<Application, DbError> {
    serde_json::from_str(spec).map_err(corrupt("application"))
}

pub(crate) fn parse_pool(id: i64, environment: &str, name: &str, blocks: &str) -> Result<VipPool, DbError> {
    let blocks: Vec<PoolBlock> = serde_json::from_str(blocks).map_err(corrupt("pool blocks"))?;
    let document = serde_json::json!({"id": id, "environment": environment, "name": name, "blocks": blocks});
    serde_json::from_value(document).map_err(corrupt("pool"))
}

pub(crate) const POOL_COLUMNS: &str =
    "p.id AS id, e.name AS environment, p.name AS name, p.blocks AS blocks";

/// The pool of a row selected with [`POOL_COLUMNS`].
pub(crate) fn pool_from_row(row: &sqlx::any::AnyRow) -> Result<VipPool, DbError> {
    parse_pool(
        row.try_get("id")?,
        &row.try_get::<String, _>("environment")?,
        &row.try_get::<String, _>("name")?,
        &row.try_get::<String, _>("blocks")?,
    )
}

/// Every pool, by environment and name.
pub(crate) async fn load_pools(conn: &mut AnyConnection) -> Result<Vec<VipPool>, DbError> {
    sqlx::query(&format!(
        "SELECT {POOL_COLUMNS} FROM pools p JOIN environments e ON e.id = p.environment_id ORDER BY e.name, p.name"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(pool_from_row)
    .collect()
}

/// Everything the checklist looks at. The stored certificates are the whole list: a
/// certificate an application names that is not stored is missing (GH-CERT-MISSING).
/// Every environment, by name: all a request needs to know where applications are placed.
pub async fn load_environments(db: &super::db::Database) -> Result<Vec<domain::Environment>, DbError> {
    let mut connection = db.pool().acquire().await?;
    environments(&mut connection).await
}

async fn environments(conn: &mut AnyConnection) -> Result<Vec<domain::Environment>, DbError> {
    sqlx::query("SELECT spec FROM environments ORDER BY name")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| parse_environment(&row.try_get::<String, _>("spec")?))
        .collect()
}

pub async fn load(conn: &mut AnyConnection) -> Result<Plan, DbError> {
    let environments = environments(&mut *conn).await?;
    let pools = load_pools(&mut *conn).await?;
    let applications = sqlx::query("SELECT spec FROM applications ORDER BY name")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| parse_application(&row.try_get::<String, _>("spec")?))
        .collect::<Result<Vec<_>, _>>()?;
    let allocations = super::allocations::load_allocations(&mut *conn).await?;
    let certificates = super::certificates::load_infos(&mut *conn).await?;
    Ok(Plan { environments, pools, applications, allocations, certificates: Some(certificates) })
}

pub async fn load_from(db: &super::db::Database) -> Result<Plan, DbError> {
    let mut connection = db.pool().acquire().await?;
    load(&mut connection).await
}

/// Refuses a change that would add an error-level finding to the plan. Findings the plan
/// already had are not held against this change.
pub fn refuse_new_errors(before: &Plan, after: &Plan, now_unix: i64) -> Result<(), DbError> {
    let new_errors = domain::change::new_errors(before, after, now_unix);
    if new_errors.is_empty() { Ok(()) } else { Err(DbError::Rejected(new_errors)) }
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
