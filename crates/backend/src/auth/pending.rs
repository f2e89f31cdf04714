//! OpenID Connect sign-ins on their way through the provider, kept in the database by the
//! SHA-256 of their `state`, so the provider may send the browser back to any replica.
use sqlx::Row;

use super::secret_hash;
use crate::db::{Database, DbError};

/// What the callback needs of the sign-in it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub verifier: String,
    pub nonce: String,
    pub return_to: String,
    pub redirect_uri: String,
}

/// Records a sign-in started at `now` (Unix ms), and forgets those older than `max_age_ms`.
pub async fn store(db: &Database, state: &str, pending: &Pending, now: i64, max_age_ms: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM oidc_pending WHERE started_ms < $1").bind(now - max_age_ms).execute(db.pool()).await?;
    sqlx::query(
        "INSERT INTO oidc_pending (state_hash, verifier, nonce, return_to, redirect_uri, started_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(secret_hash(state))
    .bind(&pending.verifier)
    .bind(&pending.nonce)
    .bind(&pending.return_to)
    .bind(&pending.redirect_uri)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Takes the sign-in of `state` if it is no older than `max_age_ms`: once only, whichever
/// replica asks (the row is deleted by the same statement that reads it).
pub async fn take(db: &Database, state: &str, now: i64, max_age_ms: i64) -> Result<Option<Pending>, DbError> {
    let row = sqlx::query(
        "DELETE FROM oidc_pending WHERE state_hash = $1 RETURNING verifier, nonce, return_to, redirect_uri, started_ms",
    )
    .bind(secret_hash(state))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let started: i64 = row.try_get("started_ms")?;
    if now - started > max_age_ms {
        return Ok(None);
    }
    Ok(Some(Pending {
        verifier: row.try_get("verifier")?,
        nonce: row.try_get("nonce")?,
        return_to: row.try_get("return_to")?,
        redirect_uri: row.try_get("redirect_uri")?,
    }))
}
