//! The stored plan as a whole: loading it for the checklist, and the guard every write goes
//! through so that no save introduces an error-level finding.
use std::sync::Arc;

use sqlx::{Any, AnyConnection, Row, Transaction};

use super::db::DbError;
use domain::{Application, Environment, Plan, PoolBlock, Report, VipPool};

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

/// The stored plan as it is now, shared by every request that reads it: loaded once per
/// change, not per request, so memory follows the plan and not plan size × requests.
pub async fn load_from(db: &super::db::Database) -> Result<Arc<Plan>, DbError> {
    Ok(db.plans().current(db).await?.plan)
}

/// The stored plan and its checklist report, checked once per change of the plan (and again
/// after a minute, as certificates come near their expiry), not once per request.
pub async fn checked(db: &super::db::Database) -> Result<(Arc<Plan>, Arc<Report>), DbError> {
    let now = now_unix();
    let snapshot = db.plans().current(db).await?;
    if let Some((at, report)) = snapshot.report()
        && now - at < REPORT_MAX_AGE_SECS
    {
        return Ok((snapshot.plan.clone(), report.clone()));
    }
    let plan = snapshot.plan.clone();
    // A whole-plan check takes milliseconds to tens of them at organisation size: off the
    // threads that serve requests.
    let report = match tokio::task::spawn_blocking(move || domain::check_plan(&plan, now)).await {
        Ok(report) => Arc::new(report),
        Err(failed) => std::panic::resume_unwind(failed.into_panic()),
    };
    db.plans().remember_report(snapshot.stamp, now, report.clone()).await;
    Ok((snapshot.plan.clone(), report))
}

const REPORT_MAX_AGE_SECS: i64 = 60;

/// What identifies the stored plan's contents: the revision every plan write bumps, and the
/// addresses table's row count and highest and summed ids. Allocations do not bump the
/// revision (so concurrent allocators never queue on one row); address rows are only ever
/// inserted and deleted, never updated, and their ids are never reused, so any change to
/// them changes the count, the highest or the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    revision: i64,
    held: i64,
    highest: i64,
    sum: i64,
}

async fn stamp(conn: &mut AnyConnection) -> Result<Stamp, DbError> {
    let row = sqlx::query(
        "SELECT (SELECT revision FROM plan_revision WHERE id = 1) AS revision, COUNT(*) AS held, \
                CAST(COALESCE(MAX(id), 0) AS BIGINT) AS highest, CAST(COALESCE(SUM(id), 0) AS BIGINT) AS sum \
         FROM addresses",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Stamp { revision: row.try_get("revision")?, held: row.try_get("held")?, highest: row.try_get("highest")?, sum: row.try_get("sum")? })
}

/// One loaded plan and, once asked for, its report with the time it was checked at.
#[derive(Clone)]
pub struct Snapshot {
    stamp: Stamp,
    plan: Arc<Plan>,
    report: Option<(i64, Arc<Report>)>,
}

impl Snapshot {
    fn report(&self) -> Option<&(i64, Arc<Report>)> {
        self.report.as_ref()
    }
}

/// The latest plan snapshot of a database, kept by its [`super::db::Database`].
#[derive(Default)]
pub struct Plans {
    latest: tokio::sync::Mutex<Option<Snapshot>>,
}

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plans")
    }
}

impl Plans {
    /// The snapshot of the plan as stored now. The stamp is read before the plan, so a plan
    /// that changes in between is at worst newer than its stamp and loaded again next time.
    async fn current(&self, db: &super::db::Database) -> Result<Snapshot, DbError> {
        let mut connection = db.pool().acquire().await?;
        let now = stamp(&mut connection).await?;
        // Requests that arrive together after a change wait for one load, not one each.
        let mut latest = self.latest.lock().await;
        if let Some(snapshot) = latest.as_ref()
            && snapshot.stamp == now
        {
            return Ok(snapshot.clone());
        }
        let snapshot = Snapshot { stamp: now, plan: Arc::new(load(&mut connection).await?), report: None };
        *latest = Some(snapshot.clone());
        Ok(snapshot)
    }

    async fn remember_report(&self, stamp: Stamp, at: i64, report: Arc<Report>) {
        if let Some(snapshot) = self.latest.lock().await.as_mut()
            && snapshot.stamp == stamp
        {
            snapshot.report = Some((at, report));
        }
    }
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
