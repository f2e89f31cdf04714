//! Browser sessions, stored in the database by the SHA-256 of their id, with an idle and an
//! absolute timeout. A sign-in always starts a new session (no fixation).
use sqlx::{Any, Row, Transaction};

use super::{Principal, Via, random_secret, secret_hash};
use crate::db::{Database, DbError};
use domain::access::{Role, Scopes};

/// How long a session lives: `idle` seconds after its last request, `absolute` seconds
/// after sign-in, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle: i64,
    pub absolute: i64,
}

impl Timeouts {
    pub fn expired(self, created_at: i64, last_seen: i64, now: i64) -> bool {
        now - last_seen >= self.idle || now - created_at >= self.absolute
    }
}

/// A request refreshes `last_seen` at most once a minute, so reading pages does not write
/// on every request.
const TOUCH_EVERY: i64 = 60;

/// Starts a session for the user; answers the id for the cookie (stored only hashed).
pub async fn start(db: &Database, user_id: i64, now: i64) -> Result<String, DbError> {
    let id = random_secret();
    sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, last_seen) VALUES ($1, $2, $3, $3)")
        .bind(secret_hash(&id))
        .bind(user_id)
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(id)
}

/// The signed-in user of a session id, or `None` when it is unknown, expired (then it is
/// deleted) or its user is disabled.
pub async fn resolve(db: &Database, id: &str, timeouts: Timeouts, now: i64) -> Result<Option<Principal>, DbError> {
    let id_hash = secret_hash(id);
    let row = sqlx::query(
        "SELECT s.created_at, s.last_seen, u.id, u.name, u.role, u.scopes, u.disabled \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
    )
    .bind(&id_hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let created_at: i64 = row.try_get("created_at")?;
    let last_seen: i64 = row.try_get("last_seen")?;
    let disabled: i64 = row.try_get("disabled")?;
    if timeouts.expired(created_at, last_seen, now) || disabled != 0 {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(&id_hash).execute(db.pool()).await?;
        return Ok(None);
    }
    if now - last_seen >= TOUCH_EVERY {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2").bind(now).bind(&id_hash).execute(db.pool()).await?;
    }
    let role: String = row.try_get("role")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(Some(Principal {
        user_id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).map_err(|error| DbError::Internal(format!("stored user: {error}")))?,
        scopes: Scopes::parse_stored(&scopes).map_err(|error| DbError::Internal(format!("stored user: {error}")))?,
        via: Via::Session { id_hash },
    }))
}

/// Signs out one session.
pub async fn end(db: &Database, id_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(db.pool()).await?;
    Ok(())
}

/// Signs the user out everywhere; answers how many sessions ended.
pub async fn end_all(db: &Database, user_id: i64) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(db.pool()).await?;
    Ok(done.rows_affected())
}

pub(super) async fn end_all_in(tx: &mut Transaction<'_, Any>, user_id: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_expires_when_idle_or_too_old() {
        let timeouts = Timeouts { idle: 1800, absolute: 43_200 };
        assert!(!timeouts.expired(0, 0, 1799));
        assert!(timeouts.expired(0, 0, 1800), "idle");
        assert!(!timeouts.expired(0, 43_000, 43_199));
        assert!(timeouts.expired(0, 43_100, 43_200), "absolute, although active a moment ago");
    }
}
