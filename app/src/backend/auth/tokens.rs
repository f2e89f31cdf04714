//! API tokens for /api/v1: per user, with a role at most the user's, shown once, stored as
//! their SHA-256, revocable.
use serde::Serialize;
use sqlx::Row;

use super::{Principal, Via, random_secret, secret_hash};
use crate::{
    backend::{
        audit,
        db::{Database, DbError, now_text},
    },
    domain::{
        FieldError, FieldErrors,
        access::{Role, Scopes},
    },
};

/// Tokens start with this, so a leaked one is easy to recognise (and to scan for).
pub const PREFIX: &str = "ghp_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
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

/// Creates a token for `owner`. `role` defaults to the owner's and may not exceed it.
pub async fn create(db: &Database, owner: &Principal, name: &str, role: Option<&str>) -> Result<CreatedToken, DbError> {
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
    if !errors.is_empty() {
        return Err(DbError::Invalid(errors));
    }
    let secret = format!("{PREFIX}{}", random_secret());
    let mut tx = db.pool().begin().await?;
    let taken = sqlx::query("SELECT id FROM api_tokens WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL")
        .bind(owner.user_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(DbError::Conflict(format!("you already have a token named {name:?}; revoke it or choose another name")));
    }
    let created_at = now_text();
    let row = sqlx::query(
        "INSERT INTO api_tokens (user_id, name, token_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(owner.user_id)
    .bind(name)
    .bind(secret_hash(&secret))
    .bind(role.as_str())
    .bind(&created_at)
    .fetch_one(&mut *tx)
    .await?;
    let info = TokenInfo {
        id: row.try_get("id")?,
        user: owner.name.clone(),
        name: name.to_owned(),
        role,
        created_at,
        last_used_at: None,
        revoked_at: None,
    };
    let after = serde_json::json!({"user": info.user, "name": info.name, "role": info.role});
    audit::record(&mut tx, &owner.actor(), "token.create", &format!("token/{}", info.id), None, Some(&after)).await?;
    tx.commit().await?;
    Ok(CreatedToken { info, token: secret })
}

const COLUMNS: &str = "t.id, u.name AS user_name, t.name, t.role, t.created_at, t.last_used_at, t.revoked_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo, DbError> {
    let role: String = row.try_get("role")?;
    Ok(TokenInfo {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).map_err(|error| DbError::Internal(format!("stored token: {error}")))?,
        created_at: row.try_get("created_at")?,
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

/// The caller a bearer token stands for, or `None` when it is unknown, revoked or its user
/// disabled. The token's role never exceeds the user's current role.
pub async fn resolve(db: &Database, secret: &str) -> Result<Option<Principal>, DbError> {
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT t.id, t.name, t.role AS token_role, t.last_used_at, u.id AS user_id, u.name AS user_name, u.role, u.scopes \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
    )
    .bind(secret_hash(secret))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let parse_role = |column: &str| -> Result<Role, DbError> {
        let text: String = row.try_get(column)?;
        Role::parse(&text).map_err(|error| DbError::Internal(format!("stored token: {error}")))
    };
    let id: i64 = row.try_get("id")?;
    let now = now_text();
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
        scopes: Scopes::parse(&scopes).map_err(|error| DbError::Internal(format!("stored user: {error}")))?,
        via: Via::Token { id, name: row.try_get("name")? },
    }))
}
