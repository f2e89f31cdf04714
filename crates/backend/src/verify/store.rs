//! The verifications table: every run kept, newest first.
use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use views::verification::{CheckResult, Outcome, Verification, Verifications};

use crate::db::{Database, DbError, now_text};

/// How many runs `GET …/verifications` returns.
pub const HISTORY: i64 = 20;

const COLUMNS: &str = "id, application, environment, source, reporter, requested_by, outcome, checks, created_at";

fn corrupt(source: serde_json::Error) -> DbError {
    DbError::Corrupt { what: "verification checks".to_owned(), source }
}

fn outcome_of(text: &str) -> Outcome {
    match text {
        "pass" => Outcome::Pass,
        "fail" => Outcome::Fail,
        _ => Outcome::Unknown,
    }
}

fn read(row: &sqlx::any::AnyRow) -> Result<Verification, DbError> {
    let checks: String = row.try_get("checks")?;
    Ok(Verification {
        id: row.try_get("id")?,
        application: row.try_get("application")?,
        environment: row.try_get("environment")?,
        source: row.try_get("source")?,
        reporter: row.try_get("reporter")?,
        requested_by: row.try_get("requested_by")?,
        outcome: outcome_of(&row.try_get::<String, _>("outcome")?),
        checks: serde_json::from_str(&checks).map_err(corrupt)?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn record(
    db: &Database,
    application: &str,
    environment: &str,
    source: &str,
    reporter: Option<&str>,
    requested_by: &str,
    checks: &[CheckResult],
) -> Result<Verification, DbError> {
    let outcome = Outcome::worst(checks.iter().map(|c| c.outcome));
    let text = serde_json::to_string(checks).map_err(corrupt)?;
    let row = sqlx::query(&format!(
        "INSERT INTO verifications (application, environment, source, reporter, requested_by, outcome, checks, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(application)
    .bind(environment)
    .bind(source)
    .bind(reporter)
    .bind(requested_by)
    .bind(outcome.as_str())
    .bind(text)
    .bind(now_text())
    .fetch_one(db.pool())
    .await?;
    read(&row)
}

pub async fn list(db: &Database, application: &str, environment: &str) -> Result<Verifications, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM verifications WHERE application = $1 AND environment = $2 ORDER BY id DESC LIMIT {HISTORY}"
    ))
    .bind(application)
    .bind(environment)
    .fetch_all(db.pool())
    .await?;
    let history = rows.iter().map(read).collect::<Result<Vec<_>, _>>()?;
    let latest_of = |source: &str| -> Result<Option<Verification>, DbError> { Ok(history.iter().find(|v| v.source == source).cloned()) };
    let (latest, mut latest_from_client) = (latest_of("portal")?, latest_of("client")?);
    if latest_from_client.is_none() {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM verifications WHERE application = $1 AND environment = $2 AND source = 'client' ORDER BY id DESC LIMIT 1"
        ))
        .bind(application)
        .bind(environment)
        .fetch_optional(db.pool())
        .await?;
        latest_from_client = row.as_ref().map(read).transpose()?;
    }
    Ok(Verifications { latest, latest_from_client, history })
}

/// The latest portal run of every application environment, each check with it; and when each
/// application environment was last verified (by either source).
pub async fn latest_all(db: &Database) -> Result<(Vec<(Verification, CheckResult)>, BTreeMap<(String, String), String>), DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM verifications v WHERE id = (SELECT MAX(id) FROM verifications w \
         WHERE w.application = v.application AND w.environment = v.environment AND w.source = 'portal') ORDER BY application, environment"
    ))
    .fetch_all(db.pool())
    .await?;
    let mut checks = Vec::new();
    for row in &rows {
        let verification = read(row)?;
        for check in &verification.checks {
            checks.push((verification.clone(), check.clone()));
        }
    }
    let times = sqlx::query("SELECT application, environment, MAX(created_at) AS at FROM verifications GROUP BY application, environment")
        .fetch_all(db.pool())
        .await?;
    let mut last = BTreeMap::new();
    for row in times {
        last.insert((row.try_get("application")?, row.try_get("environment")?), row.try_get("at")?);
    }
    Ok((checks, last))
}

/// The outcome of the latest run (either source) of each application environment, for the
/// applications list: one row per target, `only` these applications when given.
pub async fn latest_outcomes(db: &Database, only: Option<&[&str]>) -> Result<HashMap<(String, String), Outcome>, DbError> {
    let (filter, names) = match only {
        Some(names) if names.is_empty() => return Ok(HashMap::new()),
        Some(names) => (format!(" AND v.application IN ({})", (1..=names.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")), names),
        None => (String::new(), &[][..]),
    };
    let query = format!(
        "SELECT application, environment, outcome FROM verifications v WHERE id = (SELECT MAX(id) FROM verifications w \
         WHERE w.application = v.application AND w.environment = v.environment){filter}"
    );
    let mut query = sqlx::query(&query);
    for name in names {
        query = query.bind(*name);
    }
    let mut latest = HashMap::new();
    for row in query.fetch_all(db.pool()).await? {
        let outcome = outcome_of(&row.try_get::<String, _>("outcome")?);
        latest.insert((row.try_get("application")?, row.try_get("environment")?), outcome);
    }
    Ok(latest)
}

/// The current uploaded chain (PEM) of a certificate.
pub async fn chain_pem(db: &Database, environment: &str, name: &str) -> Result<Option<String>, DbError> {
    let row = sqlx::query(
        "SELECT c.chain_pem AS chain_pem FROM certificates c JOIN environments e ON e.id = c.environment_id \
         WHERE e.name = $1 AND c.name = $2 AND c.superseded_at IS NULL",
    )
    .bind(environment)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<String>, _>("chain_pem")?,
        None => None,
    })
}
