//! The audit log: who changed what, when, with the object before and after.
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::db::{Database, DbError, now_text};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Appends an entry inside the caller's transaction, so a change and its record commit
/// together or not at all.
pub async fn record(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now_text())
    .bind(actor)
    .bind(action)
    .bind(object)
    .bind(before.map(serde_json::Value::to_string))
    .bind(after.map(serde_json::Value::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Entries for one object (or all when `object` is `None`), oldest first.
pub async fn list(db: &Database, object: Option<&str>) -> Result<Vec<AuditEntry>, DbError> {
    let rows = match object {
        Some(object) => {
            sqlx::query(
                "SELECT id, at, actor, action, object, before_json, after_json \
                 FROM audit_log WHERE object = $1 ORDER BY id",
            )
            .bind(object)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query(
                "SELECT id, at, actor, action, object, before_json, after_json \
                 FROM audit_log ORDER BY id",
            )
            .fetch_all(db.pool())
            .await?
        }
    };
    rows.iter()
        .map(|row| {
            let parse = |column: &str| -> Result<Option<serde_json::Value>, DbError> {
                let text: Option<String> = row.try_get(column)?;
                text.map(|text| {
                    serde_json::from_str(&text).map_err(|source| DbError::Corrupt {
                        what: format!("audit entry {column}"),
                        source,
                    })
                })
                .transpose()
            };
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                object: row.try_get("object")?,
                before: parse("before_json")?,
                after: parse("after_json")?,
            })
        })
        .collect()
}
