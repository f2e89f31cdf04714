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
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry, DbError> {
    let parse = |column: &str| -> Result<Option<serde_json::Value>, DbError> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|source| DbError::Corrupt { what: format!("audit entry {column}"), source })
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
}

/// Which entries to show: each part that is set must match. `actor`, `action` and `object`
/// match a part of the value (case-insensitive); `from` and `to` bound `at`, inclusive,
/// as RFC 3339 text or a date (`2026-11-25`, meaning the whole day for `to`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl AuditFilter {
    /// The bounds as stored text, or which of them is malformed.
    fn bounds(&self) -> Result<(Option<String>, Option<String>), domain::FieldErrors> {
        let mut errors = domain::FieldErrors::new();
        let mut bound = |field: &str, value: &Option<String>, end_of_day: bool| {
            let value = value.as_deref().map(str::trim).filter(|value| !value.is_empty())?;
            match time_bound(value, end_of_day) {
                Some(text) => Some(text),
                None => {
                    errors.push(domain::FieldError::new(
                        field,
                        "invalid_time",
                        format!("{value:?} is not a date or time; write 2026-11-25 or 2026-11-25T18:00:00Z"),
                    ));
                    None
                }
            }
        };
        let from = bound("from", &self.from, false);
        let to = bound("to", &self.to, true);
        errors.into_result(|| (from, to))
    }

    /// The filter as a query string (for the CSV link of a filtered page).
    pub fn query_string(&self) -> String {
        [("actor", &self.actor), ("action", &self.action), ("object", &self.object), ("from", &self.from), ("to", &self.to)]
            .into_iter()
            .filter_map(|(key, value)| value.as_deref().filter(|v| !v.is_empty()).map(|v| format!("{key}={}", query_escape(v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes a query-string value (`/` is left as it is, which queries allow).
pub fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn time_bound(value: &str, end_of_day: bool) -> Option<String> {
    use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};
    if let Ok(at) = OffsetDateTime::parse(value, &Rfc3339) {
        return at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok();
    }
    let date = time::Date::parse(value, format_description!("[year]-[month]-[day]")).ok()?;
    let time = if end_of_day { time::Time::from_hms(23, 59, 59).ok()? } else { time::Time::MIDNIGHT };
    date.with_time(time).assume_utc().format(&Rfc3339).ok()
}

/// The most entries a page or an export returns.
pub const SEARCH_LIMIT: i64 = 10_000;

/// Entries matching the filter, newest first (at most [`SEARCH_LIMIT`]).
pub async fn search(db: &Database, filter: &AuditFilter) -> Result<Vec<AuditEntry>, DbError> {
    let (from, to) = filter.bounds().map_err(DbError::Invalid)?;
    let like = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| format!("%{}%", v.to_lowercase()))
    };
    let rows = sqlx::query(
        "SELECT id, at, actor, action, object, before_json, after_json FROM audit_log \
         WHERE ($1 IS NULL OR LOWER(actor) LIKE $1) AND ($2 IS NULL OR LOWER(action) LIKE $2) \
         AND ($3 IS NULL OR LOWER(object) LIKE $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at <= $5) \
         ORDER BY id DESC LIMIT $6",
    )
    .bind(like(&filter.actor))
    .bind(like(&filter.action))
    .bind(like(&filter.object))
    .bind(from)
    .bind(to)
    .bind(SEARCH_LIMIT)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// Entries as CSV (RFC 4180, CRLF): id, at, actor, action, object, before, after.
pub fn to_csv(entries: &[AuditEntry]) -> Result<String, DbError> {
    let mut out = super::csv::Writer::new();
    out.record(&["id", "at", "actor", "action", "object", "before", "after"])?;
    for entry in entries {
        let json = |value: &Option<serde_json::Value>| value.as_ref().map(serde_json::Value::to_string).unwrap_or_default();
        let (id, before, after) = (entry.id.to_string(), json(&entry.before), json(&entry.after));
        out.record(&[&id, &entry.at, &entry.actor, &entry.action, &entry.object, &before, &after])?;
    }
    out.finish()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_accept_dates_and_times_and_name_the_bad_one() {
        let filter = AuditFilter { from: Some("2026-11-25".into()), to: Some("2026-11-25".into()), ..Default::default() };
        assert_eq!(
            filter.bounds().unwrap(),
            (Some("2026-11-25T00:00:00Z".to_owned()), Some("2026-11-25T23:59:59Z".to_owned()))
        );
        let filter = AuditFilter { from: Some("2026-11-25T19:00:00+01:00".into()), to: Some("yesterday".into()), ..Default::default() };
        let errors = filter.bounds().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors.get("to").unwrap().message.contains("not a date or time"));
        assert_eq!(
            AuditFilter { actor: Some("ana b".into()), object: Some(String::new()), ..Default::default() }.query_string(),
            "actor=ana%20b"
        );
    }

    #[test]
    fn entries_export_as_csv_with_their_json() {
        let entry = AuditEntry {
            id: 1,
            at: "2026-11-25T18:00:00Z".into(),
            actor: "ana".into(),
            action: "environment.create".into(),
            object: "environment/dev".into(),
            before: None,
            after: Some(serde_json::json!({"name": "dev"})),
        };
        assert_eq!(
            to_csv(&[entry]).unwrap(),
            "id,at,actor,action,object,before,after\r\n1,2026-11-25T18:00:00Z,ana,environment.create,environment/dev,,\"{\"\"name\"\":\"\"dev\"\"}\"\r\n"
        );
    }
}
