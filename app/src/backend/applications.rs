//! The applications repository; writes pass the plan guard like every other plan write.
use sqlx::Row;

use super::{
    allocations, audit,
    auth::Principal,
    db::{Database, DbError, now_text},
    plan,
    policy::Tenancy,
};
use crate::domain::{Application, Plan, access::Role};

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

/// The applications the caller may read: an app team's, inside its scopes; every one for
/// the other roles.
pub async fn list_for(db: &Database, caller: &Principal) -> Result<Vec<Application>, DbError> {
    let applications = list(db).await?;
    if caller.role != Role::AppTeam {
        return Ok(applications);
    }
    let plan = plan::load_from(db).await?;
    Ok(applications.into_iter().filter(|application| caller.may_read_application(&plan, application)).collect())
}

/// One application, if the caller may read it; an app team gets `NotFound` for another
/// team's, as if it were not there.
pub async fn get_for(db: &Database, caller: &Principal, name: &str) -> Result<Application, DbError> {
    let plan = plan::load_from(db).await?;
    plan.application(name)
        .filter(|application| caller.may_read_application(&plan, application))
        .cloned()
        .ok_or_else(|| not_found(name))
}

/// The caller may change the stored application and, after the change, the new one.
fn may_change(caller: &Principal, tenancy: &Tenancy, plan: &Plan, before: Option<&Application>, after: Option<&Application>) -> Result<(), DbError> {
    for application in before.into_iter().chain(after) {
        caller.require_application(plan, application)?;
    }
    if let Some(after) = after {
        tenancy.check(plan, after).map_err(DbError::Invalid)?;
    }
    Ok(())
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

pub async fn create(db: &Database, tenancy: &Tenancy, caller: &Principal, application: &Application) -> Result<(), DbError> {
    let name = application.name.to_string();
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    unknown_environments(&before, application)?;
    may_change(caller, tenancy, &before, None, Some(application))?;
    if before.application(&name).is_some() {
        return Err(DbError::Conflict(format!(
            "an application named {name:?} already exists; edit it with PUT /api/v1/applications/{name}"
        )));
    }
    let mut after = before.clone();
    after.applications.push(application.clone());
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

pub async fn update(db: &Database, tenancy: &Tenancy, caller: &Principal, application: &Application) -> Result<(), DbError> {
    let name = application.name.to_string();
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = before
        .application(&name)
        .filter(|previous| caller.may_read_application(&before, previous))
        .cloned()
        .ok_or_else(|| not_found(&name))?;
    unknown_environments(&before, application)?;
    may_change(caller, tenancy, &before, Some(&previous), Some(application))?;
    let mut after = before.clone();
    for stored in &mut after.applications {
        if stored.name == application.name {
            *stored = application.clone();
        }
    }
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

pub async fn delete(db: &Database, caller: &Principal, name: &str) -> Result<(), DbError> {
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = before
        .application(name)
        .filter(|previous| caller.may_read_application(&before, previous))
        .cloned()
        .ok_or_else(|| not_found(name))?;
    may_change(caller, &Tenancy::default(), &before, Some(&previous), None)?;
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
