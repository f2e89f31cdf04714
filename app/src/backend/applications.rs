//! The applications repository; writes pass the plan guard like every other plan write.
use sqlx::Row;

use super::{
    allocations, audit,
    db::{Database, DbError, now_text},
    plan,
};
use crate::domain::Application;

fn object(name: &str) -> String {
    format!("application/{name}")
}

fn to_json(application: &Application) -> serde_json::Value {
    serde_json::to_value(application).unwrap_or(serde_json::Value::Null)
}

fn not_found(name: &str) -> DbError {
    DbError::NotFound(format!("there is no application named {name:?}"))
}

pub async fn list(db: &Database) -> Result<Vec<Application>, DbError> {
    sqlx::query("SELECT spec FROM applications ORDER BY name")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| plan::parse_application(&row.try_get::<String, _>("spec")?))
        .collect()
}

pub async fn get(db: &Database, name: &str) -> Result<Option<Application>, DbError> {
    sqlx::query("SELECT spec FROM applications WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .map(|row| plan::parse_application(&row.try_get::<String, _>("spec")?))
        .transpose()
}

/// Every environment an application names must exist.
fn unknown_environments(plan: &crate::domain::Plan, application: &Application) -> Result<(), DbError> {
    let missing: Vec<String> = application
        .environments
        .keys()
        .filter(|name| plan.environment(name).is_none())
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DbError::Invalid(crate::domain::FieldErrors::from(
        missing
            .iter()
            .map(|name| {
                crate::domain::FieldError::new(
                    format!("environments.{name}"),
                    "unknown_environment",
                    format!("there is no environment named {name:?}; create it first or use one of the existing environments"),
                )
            })
            .collect::<Vec<_>>(),
    )))
}

pub async fn create(db: &Database, actor: &str, application: &Application) -> Result<(), DbError> {
    let name = application.name.to_string();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    if before.application(&name).is_some() {
        return Err(DbError::Conflict(format!(
            "an application named {name:?} already exists; edit it with PUT /api/v1/applications/{name}"
        )));
    }
    unknown_environments(&before, application)?;
    let mut after = before.clone();
    after.applications.push(application.clone());
    super::certificates::refuse_not_allowed(&after, application)?;
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;
    let spec = to_json(application);
    sqlx::query(
        "INSERT INTO applications (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(&name)
    .bind(spec.to_string())
    .bind(now_text())
    .execute(&mut *tx)
    .await?;
    allocations::hold_fixed_vips(&mut tx, &after, actor, &name, Some(application)).await?;
    audit::record(
        &mut tx,
        actor,
        "application.create",
        &object(&name),
        None,
        Some(&spec),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn update(db: &Database, actor: &str, application: &Application) -> Result<(), DbError> {
    let name = application.name.to_string();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = before.application(&name).cloned().ok_or_else(|| not_found(&name))?;
    unknown_environments(&before, application)?;
    let mut after = before.clone();
    for stored in &mut after.applications {
        if stored.name == application.name {
            *stored = application.clone();
        }
    }
    super::certificates::refuse_not_allowed(&after, application)?;
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;
    let spec = to_json(application);
    sqlx::query("UPDATE applications SET spec = $1, updated_at = $2 WHERE name = $3")
        .bind(spec.to_string())
        .bind(now_text())
        .bind(&name)
        .execute(&mut *tx)
        .await?;
    allocations::hold_fixed_vips(&mut tx, &after, actor, &name, Some(application)).await?;
    audit::record(
        &mut tx,
        actor,
        "application.update",
        &object(&name),
        Some(&to_json(&previous)),
        Some(&spec),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(db: &Database, actor: &str, name: &str) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = before
        .application(name)
        .cloned()
        .ok_or_else(|| not_found(name))?;
    sqlx::query("DELETE FROM applications WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    allocations::hold_fixed_vips(&mut tx, &before, actor, name, None).await?;
    audit::record(
        &mut tx,
        actor,
        "application.delete",
        &object(name),
        Some(&to_json(&previous)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Holds the fixed VIPs of every application (see [`allocations::hold_fixed_vips`]): at start,
/// for plans stored before applications held their addresses. Idempotent.
pub async fn hold_all_fixed_vips(db: &Database, actor: &str) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let plan = plan::load(&mut tx).await?;
    for application in &plan.applications {
        allocations::hold_fixed_vips(
            &mut tx,
            &plan,
            actor,
            application.name.as_str(),
            Some(application),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
