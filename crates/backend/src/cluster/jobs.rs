//! Durable jobs (issue 18): a submission or teardown is a row of `submissions`, and the row
//! is the job. Nothing about a job lives only in a process's memory.
//!
//! - **Runnable**: status `applying` or `tearing_down`. The row carries the objects to write
//!   (`job_objects`, every Secret's data sealed with the secret key), so a resumed job
//!   applies exactly what was recorded — and approved — not what the plan says now; before it
//!   writes anything it checks that those objects still give the recorded bundle.
//! - **Claim**: every replica runs a [`pool`] of workers. A worker claims a runnable row whose
//!   claim is free (never taken, or released), or stale: its heartbeat older than the lease.
//!   PostgreSQL: one `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`, so replicas claiming
//!   at once skip each other's rows instead of waiting for them. SQLite (one writer at a
//!   time): a `SELECT` of candidates, then per candidate a compare-and-set `UPDATE` that
//!   re-checks the claim number and the staleness, so of two processes only one changes the
//!   row. Each claim bumps `claim`, the row's fencing number.
//! - **Heartbeat**: the holder renews `heartbeat_ms` every fifth of the lease, by the
//!   database's clock (replicas' clocks need not agree). A renewal that finds another claim
//!   number, or that has not succeeded for the lease less one beat, stops the job at once —
//!   before the new holder may take it. Every progress write of a job (an object's state,
//!   the outcome) is fenced by its claim number: a holder that lost its claim writes nothing.
//! - **Resume**: a job starts from the first object not yet confirmed (`applied`, `waiting`,
//!   `ready`; for a teardown `deleted`, `kept`). Server-side apply and delete are idempotent,
//!   so the object that was in flight when a process died is simply written again. A claim
//!   taken from another holder is audited (`submission.resume`): by whom, from whom and why.
//! - **Graceful stop**: [`pool`] stops claiming when told; a running job finishes the object
//!   it is writing, then releases its claim (`heartbeat_ms` NULL, audited as
//!   `submission.release`), so another replica resumes it at its next look, not after the lease.
//!
//! The job a task runs is a task-local ([`claim`], [`stopping`]), so the apply and teardown
//! code is the same whether a worker runs it or not.
use std::{sync::Arc, time::Duration};

use base64::Engine as _;
use serde_json::Value;
use sqlx::Row;
use tokio::{
    sync::{Notify, watch},
    task::JoinSet,
    time::Instant,
};

use super::submissions::{SubmissionStatus, Submitter};
use crate::{
    audit,
    certificates::SecretKey,
    db::{Backend, Database, DbError},
};

/// How the workers of this replica behave.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// This replica's name in `claimed_by` and the audit log.
    pub identity: String,
    /// A claim whose heartbeat is older than this is taken over.
    pub lease: Duration,
    /// Jobs this replica runs at once.
    pub workers: usize,
    /// How often an idle pool looks for runnable jobs (a job made here wakes it at once).
    pub poll: Duration,
}

impl JobSettings {
    pub fn new(identity: String, lease: Duration, workers: usize) -> JobSettings {
        JobSettings { identity, lease, workers: workers.max(1), poll: Duration::from_millis(500) }
    }

    /// How often the holder renews its claim.
    pub fn heartbeat(&self) -> Duration {
        (self.lease / 5).max(Duration::from_millis(100))
    }
}

/// Wakes this replica's pool when a job becomes runnable here (submitted, approved,
/// retried); other replicas find it at their next look. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn job_ready(&self) {
        self.0.notify_one();
    }
}

#[derive(Clone)]
struct Current {
    claim: i64,
    stop: watch::Receiver<bool>,
    /// Told when a fenced write finds the claim gone: the job stops before its next write.
    lost: Arc<Notify>,
}

tokio::task_local! {
    static CURRENT: Current;
}

/// The claim number of the job this task runs, `None` outside a job.
pub(super) fn claim() -> Option<i64> {
    CURRENT.try_with(|current| current.claim).ok()
}

/// A fenced write of this task's job changed nothing: another replica holds the claim.
pub(super) fn claim_lost() {
    let _ = CURRENT.try_with(|current| current.lost.notify_one());
}

/// Whether this replica is stopping: the job finishes its current object and gives up.
pub(super) fn stopping() -> bool {
    CURRENT.try_with(|current| *current.stop.borrow()).unwrap_or(false)
}

/// Completes when this replica starts stopping; never outside a job.
pub(super) async fn stopped() {
    match CURRENT.try_with(|current| current.stop.clone()) {
        Ok(mut stop) => {
            if stop.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// How a job's run ended in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It reached a final status (ready, failed, torn down…).
    Finished,
    /// The replica is stopping: the claim is to be released for another to resume.
    Stopped,
}

/// The database's clock in milliseconds since 1970, as SQL.
fn now_ms(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

const SEALED: &str = "gatehouseSealedData";
const SEAL_CONTEXT: &[u8] = b"gatehouse submission job objects";

/// The objects as stored in `job_objects`: each Secret's `data` (and `stringData`) sealed.
pub(super) fn seal_objects(key: &SecretKey, objects: &[Value]) -> Result<String, DbError> {
    let mut stored = Vec::with_capacity(objects.len());
    for object in objects {
        let mut object = object.clone();
        if object.get("kind").and_then(Value::as_str) == Some("Secret")
            && let Some(fields) = object.as_object_mut()
        {
            let secret: serde_json::Map<String, Value> = ["data", "stringData"]
                .into_iter()
                .filter_map(|field| fields.remove(field).map(|value| (field.to_owned(), value)))
                .collect();
            let plain = zeroize::Zeroizing::new(serde_json::to_vec(&secret).unwrap_or_default());
            let sealed = key
                .seal(&plain, SEAL_CONTEXT)
                .map_err(|_| DbError::Internal("the secret key could not seal a Secret of the job".to_owned()))?;
            fields.insert(SEALED.to_owned(), Value::String(base64::engine::general_purpose::STANDARD.encode(sealed)));
        }
        stored.push(object);
    }
    Ok(Value::Array(stored).to_string())
}

/// The objects `seal_objects` stored, Secrets opened again.
pub(super) fn open_objects(key: &SecretKey, stored: &str) -> Result<Vec<Value>, String> {
    let Ok(Value::Array(objects)) = serde_json::from_str::<Value>(stored) else {
        return Err("the job's stored objects do not parse".to_owned());
    };
    objects
        .into_iter()
        .map(|mut object| {
            if let Some(fields) = object.as_object_mut()
                && let Some(sealed) = fields.remove(SEALED)
            {
                let sealed = base64::engine::general_purpose::STANDARD
                    .decode(sealed.as_str().unwrap_or_default())
                    .map_err(|_| "a sealed Secret of the job is not base64".to_owned())?;
                let plain = key.open(&sealed, SEAL_CONTEXT).map_err(|_| {
                    "a Secret of the job cannot be opened with this secret key (was Gatehouse started with another one?)".to_owned()
                })?;
                let secret: serde_json::Map<String, Value> =
                    serde_json::from_slice(&plain).map_err(|_| "a sealed Secret of the job does not parse".to_owned())?;
                fields.extend(secret);
            }
            Ok(object)
        })
        .collect()
}

/// A job this replica claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub claim: i64,
    /// Just before the claim was written: the lease counts from here.
    pub at: Instant,
    /// The holder it was taken from, when it had one: `(holder, heartbeat age in ms)`,
    /// the age `None` when the holder released it.
    pub previous: Option<(String, Option<i64>)>,
}

/// Claims up to `room` runnable jobs whose claim is free or stale, oldest first.
pub async fn claim_runnable(db: &Database, settings: &JobSettings, room: usize) -> Result<Vec<Claimed>, DbError> {
    let now = now_ms(db.backend());
    let lease = i64::try_from(settings.lease.as_millis()).unwrap_or(i64::MAX);
    let room = i64::try_from(room).unwrap_or(i64::MAX);
    let at = Instant::now();
    let claimable = format!(
        "status IN ('{}', '{}') AND (claimed_by IS NULL OR heartbeat_ms IS NULL OR heartbeat_ms < {now} - $2)",
        SubmissionStatus::Applying,
        SubmissionStatus::TearingDown
    );
    let previous = |row: &sqlx::any::AnyRow| -> Result<Option<(String, Option<i64>)>, DbError> {
        let holder: Option<String> = row.try_get("previous")?;
        let beat: Option<i64> = row.try_get("beat")?;
        let at: i64 = row.try_get("now_ms")?;
        Ok(holder.map(|holder| (holder, beat.map(|beat| at - beat))))
    };
    match db.backend() {
        Backend::Postgres => {
            let rows = sqlx::query(&format!(
                "WITH candidate AS (SELECT id, claimed_by AS previous, heartbeat_ms AS beat, {now} AS now_ms FROM submissions \
                 WHERE {claimable} ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 UPDATE submissions AS s SET claimed_by = $1, claim = s.claim + 1, heartbeat_ms = {now}, attempts = s.attempts + 1 \
                 FROM candidate WHERE s.id = candidate.id \
                 RETURNING s.id, s.claim, candidate.previous, candidate.beat, candidate.now_ms"
            ))
            .bind(&settings.identity)
            .bind(lease)
            .bind(room)
            .fetch_all(db.pool())
            .await?;
            rows.iter()
                .map(|row| Ok(Claimed { id: row.try_get("id")?, claim: row.try_get("claim")?, at, previous: previous(row)? }))
                .collect()
        }
        Backend::Sqlite => {
            let candidates = sqlx::query(&format!(
                "SELECT id, claim, claimed_by AS previous, heartbeat_ms AS beat, {now} AS now_ms FROM submissions \
                 WHERE {claimable} ORDER BY id LIMIT $3"
            ))
            .bind(&settings.identity)
            .bind(lease)
            .bind(room)
            .fetch_all(db.pool())
            .await?;
            let mut claimed = Vec::new();
            for row in &candidates {
                let (id, seen): (i64, i64) = (row.try_get("id")?, row.try_get("claim")?);
                // The write re-checks what the read saw: of two processes, one wins the row.
                let won = sqlx::query(&format!(
                    "UPDATE submissions SET claimed_by = $1, claim = claim + 1, heartbeat_ms = {now}, attempts = attempts + 1 \
                     WHERE {claimable} AND id = $3 AND claim = $4 RETURNING claim"
                ))
                .bind(&settings.identity)
                .bind(lease)
                .bind(id)
                .bind(seen)
                .fetch_optional(db.pool())
                .await?;
                if let Some(won) = won {
                    claimed.push(Claimed { id, claim: won.try_get("claim")?, at, previous: previous(row)? });
                }
            }
            Ok(claimed)
        }
    }
}

/// Renews the claim until it is lost; returns why it was lost.
/// The lease counts from `claimed` (just before the claim was written), and a renewal that
/// hangs (a locked SQLite, an exhausted pool) is given up in time: the holder stops before
/// the lease can run out under it, so the next holder never overlaps this one.
async fn heartbeat(db: &Database, settings: &JobSettings, id: i64, claim: i64, claimed: Instant) -> String {
    let now = now_ms(db.backend());
    let mut renewed = claimed;
    // The last moment a holder may still write: a beat before the lease runs out.
    let margin = settings.lease.saturating_sub(settings.heartbeat());
    let renew = format!(
        "UPDATE submissions SET heartbeat_ms = {now} WHERE id = $1 AND claim = $2 AND claimed_by = $3 AND heartbeat_ms IS NOT NULL"
    );
    let mut next = claimed + settings.heartbeat();
    loop {
        tokio::time::sleep_until(next).await;
        let sent = Instant::now();
        let renewal = sqlx::query(&renew).bind(id).bind(claim).bind(&settings.identity).execute(db.pool());
        match tokio::time::timeout_at(renewed + margin, renewal).await {
            Ok(Ok(done)) if done.rows_affected() == 1 => {
                renewed = sent;
                next = sent + settings.heartbeat();
            }
            Ok(Ok(_)) => return "another replica took the claim over".to_owned(),
            Ok(Err(error)) => {
                tracing::warn!(%error, id, "renewing a job's claim failed");
                if renewed.elapsed() + settings.heartbeat() >= margin {
                    return format!("the claim could not be renewed for {:.1} s", renewed.elapsed().as_secs_f64());
                }
                // Sooner than a beat: the lease is running out.
                next = Instant::now() + settings.heartbeat() / 4;
            }
            Err(_) => {
                return format!("renewing the claim took longer than the lease allows ({:.1} s)", renewed.elapsed().as_secs_f64());
            }
        }
    }
}

/// Records that this replica took a job over from another holder.
async fn record_resume(db: &Database, settings: &JobSettings, job: &Claimed) -> Result<(), DbError> {
    let Some((previous, age)) = &job.previous else {
        return Ok(());
    };
    let why = match age {
        Some(age) => format!(
            "the heartbeat of {previous} was {:.1} s old, past the {} s lease (its process stopped or lost the database)",
            *age as f64 / 1000.0,
            settings.lease.as_secs_f64()
        ),
        None => format!("{previous} released it when it stopped"),
    };
    let message = format!("resumed by {}: {why}", settings.identity);
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE submissions SET message = $1, updated_at = $2 WHERE id = $3 AND claim = $4")
        .bind(&message)
        .bind(crate::db::now_text())
        .bind(job.id)
        .bind(job.claim)
        .execute(&mut *tx)
        .await?;
    let before = serde_json::json!({"claimed_by": previous, "heartbeat_age_ms": age});
    let after = serde_json::json!({"claimed_by": settings.identity, "reason": why});
    audit::record(&mut tx, &settings.identity, "submission.resume", &format!("submission/{}", job.id), Some(&before), Some(&after)).await?;
    tx.commit().await?;
    tracing::info!(id = job.id, from = %previous, "resumed a job: {why}");
    Ok(())
}

/// Gives the claim up at a graceful stop, so another replica resumes the job at once.
async fn release(db: &Database, settings: &JobSettings, id: i64, claim: i64) -> Result<(), DbError> {
    let message = format!("{} stopped while running it; another replica (or the next start) resumes it", settings.identity);
    let mut tx = db.pool().begin().await?;
    let released = sqlx::query(
        "UPDATE submissions SET heartbeat_ms = NULL, message = $1, updated_at = $2 WHERE id = $3 AND claim = $4 AND claimed_by = $5",
    )
    .bind(&message)
    .bind(crate::db::now_text())
    .bind(id)
    .bind(claim)
    .bind(&settings.identity)
    .execute(&mut *tx)
    .await?;
    if released.rows_affected() == 1 {
        audit::record(&mut tx, &settings.identity, "submission.release", &format!("submission/{id}"), None, None).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Runs one claimed job to its end, or until the claim is lost or the replica stops.
async fn run(submitter: Submitter, settings: JobSettings, job: Claimed, stop: watch::Receiver<bool>) {
    let db = submitter.db.clone();
    let claim_gone = Arc::new(Notify::new());
    let current = Current { claim: job.claim, stop, lost: claim_gone.clone() };
    // The heartbeat runs from the claim on, while the resumption is recorded too.
    let outcome = CURRENT
        .scope(current, async {
            tokio::select! {
                outcome = async {
                    if let Err(error) = record_resume(&db, &settings, &job).await {
                        tracing::error!(%error, id = job.id, "recording a job's resumption failed");
                    }
                    submitter.run_job(job.id).await
                } => Some(outcome),
                lost = heartbeat(&db, &settings, job.id, job.claim, job.at) => {
                    tracing::warn!(id = job.id, "stopped a job: {lost}");
                    None
                }
                () = claim_gone.notified() => {
                    tracing::warn!(id = job.id, "stopped a job: another replica holds its claim now");
                    None
                }
            }
        })
        .await;
    if outcome == Some(Outcome::Stopped) {
        match release(&db, &settings, job.id, job.claim).await {
            Ok(()) => tracing::info!(id = job.id, "released a job's claim at shutdown"),
            Err(error) => {
                tracing::error!(%error, id = job.id, "releasing a job's claim failed; another replica takes it when the lease runs out")
            }
        }
    }
}

/// The worker pool of this replica: claims runnable jobs and runs up to `settings.workers`
/// at once until `stop` turns true, then waits for the running jobs to finish their current
/// object and release their claims.
pub async fn pool(submitter: Submitter, settings: JobSettings, mut stop: watch::Receiver<bool>) {
    tracing::info!(identity = %settings.identity, lease_secs = settings.lease.as_secs_f64(), workers = settings.workers, "running submission jobs");
    let mut running = JoinSet::new();
    let wake = submitter.jobs.0.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let room = settings.workers.saturating_sub(running.len());
        if room > 0 {
            match claim_runnable(&submitter.db, &settings, room).await {
                Ok(claimed) => {
                    for job in claimed {
                        running.spawn(run(submitter.clone(), settings.clone(), job, stop.clone()));
                    }
                }
                Err(error) => tracing::warn!(%error, "claiming jobs failed; trying again"),
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(settings.poll) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = stop.changed() => {}
        }
    }
    let left = running.len();
    if left > 0 {
        tracing::info!(jobs = left, "stopping: the running jobs finish their current object and release their claims");
    }
    while running.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_stored_sealed_and_opens_to_what_was_sealed() {
        let key = SecretKey::generate().expect("a key");
        let objects = vec![
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}),
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
                               "data": {"tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t", "tls.crt": "Y2VydA=="}}),
        ];
        let stored = seal_objects(&key, &objects).expect("sealed");
        assert!(!stored.contains("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"), "no key in the clear: {stored}");
        assert!(stored.contains("\"a\":\"b\""), "only Secrets are sealed");
        assert_eq!(open_objects(&key, &stored).expect("opened"), objects);
        let other = SecretKey::generate().expect("another key");
        assert!(open_objects(&other, &stored).expect_err("another key cannot open it").contains("another one"));
    }

    #[test]
    fn the_heartbeat_is_a_fifth_of_the_lease() {
        let settings = JobSettings::new("a".into(), Duration::from_secs(15), 4);
        assert_eq!(settings.heartbeat(), Duration::from_secs(3));
    }
}
