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
    let snapshot = db.plans().current(db).await?;
    let report = db.plans().report_of(&snapshot, now_unix()).await;
    Ok((snapshot.plan, report))
}

/// The plan a write changes, as stored when the write took the plan lock, and its report.
pub struct Locked {
    plan: Arc<Plan>,
    report: Arc<Report>,
}

impl std::ops::Deref for Locked {
    type Target = Plan;

    fn deref(&self) -> &Plan {
        &self.plan
    }
}

/// Takes the plan lock ([`lock`]) and answers the plan as stored with its report: the shared
/// snapshot and its report when nothing changed since they were made (the revision before
/// this write's, the same addresses), read inside the transaction and checked otherwise. A
/// save after a page load so checks only the plan as it would be, and loads nothing.
pub async fn lock_and_load(tx: &mut Transaction<'_, Any>, db: &super::db::Database) -> Result<Locked, DbError> {
    lock(tx).await?;
    let now = stamp(tx).await?;
    let unchanged = Stamp { revision: now.revision - 1, ..now };
    let snapshot = match db.plans().latest_at(unchanged).await {
        Some(snapshot) => snapshot,
        None => Snapshot { stamp: now, plan: Arc::new(load(tx).await?), report: None },
    };
    let report = db.plans().report_of(&snapshot, now_unix()).await;
    Ok(Locked { plan: snapshot.plan, report })
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

/// The stamp and the plan read in one transaction that sees one state of the database
/// (SQLite's read transaction; REPEATABLE READ on PostgreSQL), so the plan is exactly the
/// plan of its stamp.
async fn load_consistent(db: &super::db::Database, conn: &mut AnyConnection) -> Result<Snapshot, DbError> {
    use sqlx::Connection as _;
    let mut tx = conn.begin().await?;
    if db.backend() == super::db::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
    }
    let stamp = stamp(&mut tx).await?;
    let plan = Arc::new(load(&mut tx).await?);
    tx.commit().await?;
    Ok(Snapshot { stamp, plan, report: None })
}

/// Checks `plan` off the threads that serve requests: a whole-plan check takes milliseconds
/// to tens of them at organisation size.
async fn check(plan: Arc<Plan>, now: i64) -> Arc<Report> {
    match tokio::task::spawn_blocking(move || domain::check_plan(&plan, now)).await {
        Ok(report) => Arc::new(report),
        Err(failed) => std::panic::resume_unwind(failed.into_panic()),
    }
}

/// One loaded plan and, once asked for, its report with the time it was checked at.
#[derive(Clone)]
struct Snapshot {
    stamp: Stamp,
    plan: Arc<Plan>,
    report: Option<(i64, Arc<Report>)>,
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
    /// The snapshot of the plan as stored now.
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
        let snapshot = load_consistent(db, &mut connection).await?;
        *latest = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// The latest snapshot, if it is of `stamp`.
    async fn latest_at(&self, stamp: Stamp) -> Option<Snapshot> {
        self.latest.lock().await.as_ref().filter(|snapshot| snapshot.stamp == stamp).cloned()
    }

    /// The report of `snapshot` checked at most a minute before `now`: its own, or made now
    /// and kept with it when it is still the latest.
    async fn report_of(&self, snapshot: &Snapshot, now: i64) -> Arc<Report> {
        if let Some((at, report)) = &snapshot.report
            && now - at < REPORT_MAX_AGE_SECS
        {
            return report.clone();
        }
        let report = check(snapshot.plan.clone(), now).await;
        self.remember_report(snapshot.stamp, now, report.clone()).await;
        report
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
pub fn refuse_new_errors(before: &Locked, after: &Plan, now_unix: i64) -> Result<(), DbError> {
    let new_errors = domain::change::new_errors_since(&before.report, after, now_unix);
    if new_errors.is_empty() { Ok(()) } else { Err(DbError::Rejected(new_errors)) }
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
