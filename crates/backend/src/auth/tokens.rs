//! API tokens for /api/v1: per user, with a role at most the user's, shown once, stored as
//! their SHA-256, expiring, revocable — and revoked when their user's password, role or
//! scopes change or the user is disabled.
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::{Principal, Via, random_secret, secret_hash};
use crate::{
    audit,
    db::{Database, DbError, now_text},
};
use domain::{
        FieldError, FieldErrors,
        access::{Role, Scopes},
    };

/// Tokens start with this, so a leaked one is easy to recognise (and to scan for).
pub const PREFIX: &str = "ghp_";

/// How long tokens live, in days: what a token gets unless its maker asks for less or more,
/// and the most anyone may ask for (`--token-days`, `--token-max-days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub default_days: u32,
    pub max_days: u32,
}

impl Default for Lifetimes {
    fn default() -> Lifetimes {
        Lifetimes { default_days: 90, max_days: 365 }
    }
}

/// The time `days` from now, as stored (RFC 3339 UTC, whole seconds, so text order is time
/// order).
fn days_from_now(days: u32) -> String {
    use time::format_description::well_known::Rfc3339;
    (time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)))
        .replace_nanosecond(0)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(now_text)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    /// After this the token no longer answers (`None` only for tokens made before tokens
    /// expired, until the next start gives them a time).
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A created token: its details and the secret, which is never shown again.
#[derive(Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").field("info", &self.info).field("token", &"<redacted>").finish()
    }
}

/// Creates a token for `owner`. `role` defaults to the owner's and may not exceed it;
/// `days` (how long it lives) to the default lifetime, and may not exceed the maximum.
pub async fn create(
    db: &Database,
    owner: &Principal,
    name: &str,
    role: Option<&str>,
    days: Option<i64>,
    lifetimes: Lifetimes,
) -> Result<CreatedToken, DbError> {
    // The demo sign-in is anyone who opens the page; a token made through it would outlive
    // the demo and hand a stranger a network admin's access to a later real start.
    if owner.via == Via::Demo {
        return Err(DbError::Denied(crate::policy::Denied::new(
            "demo_cannot_make_tokens",
            "the demo sign-in cannot make API tokens: sign in as a real user (or start without --demo) and make one then".to_owned(),
        )));
    }
    let mut errors = FieldErrors::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "invalid_token_name", "name the token in 1 to 64 characters, e.g. \"ci\""));
    }
    let role = match role.map(Role::parse).transpose() {
        Ok(role) => role.unwrap_or(owner.role),
        Err(error) => {
            errors.push(FieldError::new("role", "unknown_role", error.to_string()));
            owner.role
        }
    };
    if role > owner.role {
        errors.push(FieldError::new(
            "role",
            "role_above_yours",
            format!("a token may have your role ({}) or a lower one, not {}", owner.role.as_str(), role.as_str()),
        ));
    }
    let days = match days {
        None => lifetimes.default_days.min(lifetimes.max_days),
        Some(days) => match u32::try_from(days) {
            Ok(days) if (1..=lifetimes.max_days).contains(&days) => days,
            _ => {
                errors.push(FieldError::new(
                    "expires_in_days",
                    "token_lifetime_out_of_range",
                    format!("a token lives 1 to {} days ({days} asked); leave it out for {}", lifetimes.max_days, lifetimes.default_days),
                ));
                lifetimes.default_days
            }
        },
    };
    if !errors.is_empty() {
        return Err(DbError::Invalid(errors));
    }
    let secret = format!("{PREFIX}{}", random_secret());
    let created_at = now_text();
    let expires_at = days_from_now(days);
    let mut tx = db.pool().begin().await?;
    // An expired token keeps its name until it is revoked; revoking it here frees the name.
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND name = $3 AND revoked_at IS NULL AND expires_at <= $1")
        .bind(&created_at)
        .bind(owner.user_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let taken = sqlx::query("SELECT id FROM api_tokens WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL")
        .bind(owner.user_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(DbError::Conflict(format!("you already have a token named {name:?}; revoke it or choose another name")));
    }
    let row = sqlx::query(
        "INSERT INTO api_tokens (user_id, name, token_hash, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(owner.user_id)
    .bind(name)
    .bind(secret_hash(&secret))
    .bind(role.as_str())
    .bind(&created_at)
    .bind(&expires_at)
    .fetch_one(&mut *tx)
    .await?;
    let info = TokenInfo {
        id: row.try_get("id")?,
        user: owner.name.clone(),
        name: name.to_owned(),
        role,
        created_at,
        expires_at: Some(expires_at),
        last_used_at: None,
        revoked_at: None,
    };
    let after = serde_json::json!({"user": info.user, "name": info.name, "role": info.role, "expires_at": info.expires_at});
    audit::record(&mut tx, &owner.actor(), "token.create", &format!("token/{}", info.id), None, Some(&after)).await?;
    tx.commit().await?;
    Ok(CreatedToken { info, token: secret })
}

const COLUMNS: &str = "t.id, u.name AS user_name, t.name, t.role, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo, DbError> {
    let role: String = row.try_get("role")?;
    Ok(TokenInfo {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).map_err(|error| DbError::Internal(format!("stored token: {error}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// A user's tokens, newest first, revoked ones included.
pub async fn list(db: &Database, user_id: i64) -> Result<Vec<TokenInfo>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = $1 ORDER BY t.id DESC"
    ))
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Revokes a token of the caller's, or — for admins — anyone's (audited).
pub async fn revoke(db: &Database, caller: &Principal, id: i64) -> Result<TokenInfo, DbError> {
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS}, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let not_found = || DbError::NotFound(format!("you have no API token with id {id}"));
    let row = row.ok_or_else(not_found)?;
    let owner: i64 = row.try_get("user_id")?;
    if owner != caller.user_id && caller.role != Role::Admin {
        return Err(not_found());
    }
    let before = from_row(&row)?;
    if before.revoked_at.is_some() {
        return Ok(before);
    }
    let now = now_text();
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2").bind(&now).bind(id).execute(&mut *tx).await?;
    let after = TokenInfo { revoked_at: Some(now), ..before.clone() };
    let json = |token: &TokenInfo| serde_json::json!({"user": token.user, "name": token.name, "role": token.role, "revoked_at": token.revoked_at});
    audit::record(&mut tx, &caller.actor(), "token.revoke", &format!("token/{id}"), Some(&json(&before)), Some(&json(&after))).await?;
    tx.commit().await?;
    Ok(after)
}

/// The caller a bearer token stands for, or `None` when it is unknown, revoked, expired or
/// its user disabled. The token's role never exceeds the user's current role.
pub async fn resolve(db: &Database, secret: &str) -> Result<Option<Principal>, DbError> {
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let now = now_text();
    let row = sqlx::query(
        "SELECT t.id, t.name, t.role AS token_role, t.last_used_at, u.id AS user_id, u.name AS user_name, u.role, u.scopes \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.disabled = 0",
    )
    .bind(secret_hash(secret))
    .bind(&now)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let parse_role = |column: &str| -> Result<Role, DbError> {
        let text: String = row.try_get(column)?;
        Role::parse(&text).map_err(|error| DbError::Internal(format!("stored token: {error}")))
    };
    let id: i64 = row.try_get("id")?;
    let last_used: Option<String> = row.try_get("last_used_at")?;
    // Once a minute is precise enough, and keeps API reads from writing on every call.
    if last_used.as_deref().is_none_or(|last| last.get(..16) != now.get(..16)) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(&now).bind(id).execute(db.pool()).await?;
    }
    let scopes: String = row.try_get("scopes")?;
    Ok(Some(Principal {
        user_id: row.try_get("user_id")?,
        name: row.try_get("user_name")?,
        role: parse_role("token_role")?.min(parse_role("role")?),
        scopes: Scopes::parse_stored(&scopes).map_err(|error| DbError::Internal(format!("stored user: {error}")))?,
        via: Via::Token { id, name: row.try_get("name")? },
    }))
}

/// Revokes every live token of a user (their password, role or scopes changed, or they were
/// disabled); answers how many.
pub(super) async fn revoke_all_in(tx: &mut Transaction<'_, Any>, user_id: i64) -> Result<u64, DbError> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_text())
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

/// Gives each live token made before tokens expired the longest lifetime, counted from now;
/// answers how many (once per database: afterwards every token has a time).
pub async fn expire_unlimited(db: &Database, lifetimes: Lifetimes) -> Result<u64, DbError> {
    let done = sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE expires_at IS NULL AND revoked_at IS NULL")
        .bind(days_from_now(lifetimes.max_days))
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
