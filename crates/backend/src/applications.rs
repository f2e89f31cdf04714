//! The applications repository; writes pass the plan guard like every other plan write.
use sqlx::Row;

use super::{
    allocations, audit,
    auth::Principal,
    db::{Database, DbError, now_text},
    plan,
    policy::Tenancy,
};
use domain::{Application, Plan};

fn object(name: &str) -> String {
    format!("application/{name}")
}

fn to_json(application: &Application) -> serde_json::Value {
    serde_json::to_value(application).unwrap_or(serde_json::Value::Null)
}

fn not_found(name: &str) -> DbError {
    DbError::NotFound(format!("there is no application named {name:?}"))
}

/// The stored application named `name`, if the caller may see it (one it may not is not found).
fn readable(caller: &Principal, plan: &Plan, name: &str) -> Result<Application, DbError> {
    plan.application(name).filter(|stored| caller.may_read_application(plan, stored)).cloned().ok_or_else(|| not_found(name))
}

/// The end of every write: the application's fixed VIPs held as `plan` now stands (given back
/// when `application` is gone), the audit entry from `previous` to `application`, the commit.
async fn hold_audit_commit(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    plan: &Plan,
    actor: &str,
    name: &str,
    action: &str,
    previous: Option<&Application>,
    application: Option<&Application>,
) -> Result<(), DbError> {
    allocations::hold_fixed_vips(&mut tx, plan, actor, name, application).await?;
    let (before, after) = (previous.map(to_json), application.map(to_json));
    audit::record(&mut tx, actor, action, &object(name), before.as_ref(), after.as_ref()).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(db: &Database) -> Result<Vec<Application>, DbError> {
    sqlx::query("SELECT spec FROM applications ORDER BY name")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| plan::parse_application(&row.try_get::<String, _>("spec")?))
        .collect()
}

/// Which applications a page of the list holds: after the name `after`, at most `limit`,
/// optionally only those in a namespace or deployed to an environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationQuery {
    pub limit: usize,
    pub after: Option<String>,
    pub namespace: Option<String>,
    pub environment: Option<String>,
}

/// A page of applications, by name, and the name to continue after when there are more.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationPage {
    pub items: Vec<Application>,
    pub next: Option<String>,
}

/// One page of the applications the caller may read. Reads rows by name from `after` only
/// until the page is full, and the environments (for where each application is placed) —
/// never the whole plan.
pub async fn page_for(db: &Database, caller: &Principal, query: &ApplicationQuery) -> Result<ApplicationPage, DbError> {
    use futures_util::TryStreamExt;
    let limit = query.limit.max(1);
    let placements = Plan { environments: plan::load_environments(db).await?, ..Plan::default() };
    let mut rows = sqlx::query("SELECT name, spec FROM applications WHERE name > $1 ORDER BY name")
        .bind(query.after.clone().unwrap_or_default())
        .fetch(db.pool());
    let mut items = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let application = plan::parse_application(&row.try_get::<String, _>("spec")?)?;
        let wanted = query.namespace.as_ref().is_none_or(|namespace| application.namespace.as_str() == namespace)
            && query.environment.as_ref().is_none_or(|environment| application.environments.keys().any(|e| e.as_str() == environment))
            && caller.may_read_application(&placements, &application);
        if !wanted {
            continue;
        }
        if items.len() == limit {
            let next = items.last().map(|last: &Application| last.name.to_string());
            return Ok(ApplicationPage { items, next });
        }
        items.push(application);
    }
    Ok(ApplicationPage { items, next: None })
}

/// One application, if the caller may read it; an app team gets `NotFound` for another
/// team's, as if it were not there.
pub async fn get_for(db: &Database, caller: &Principal, name: &str) -> Result<Application, DbError> {
    readable(caller, &*plan::load_from(db).await?, name)
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
fn unknown_environments(plan: &domain::Plan, application: &Application) -> Result<(), DbError> {
    let missing: Vec<String> = application
        .environments
        .keys()
        .filter(|name| plan.environment(name).is_none())
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DbError::Invalid(domain::FieldErrors::from(
        missing
            .iter()
            .map(|name| {
                domain::FieldError::new(
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
    let before = plan::lock_and_load(&mut tx, db).await?;
    unknown_environments(&before, application)?;
    may_change(caller, tenancy, &before, None, Some(application))?;
    if before.application(&name).is_some() {
        return Err(DbError::Conflict(format!(
            "an application named {name:?} already exists; edit it with PUT /api/v1/applications/{name}"
        )));
    }
    let mut after = Plan::clone(&before);
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
    hold_audit_commit(tx, &after, actor, &name, "application.create", None, Some(application)).await
}

pub async fn update(db: &Database, tenancy: &Tenancy, caller: &Principal, application: &Application) -> Result<(), DbError> {
    let name = application.name.to_string();
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    let previous = readable(caller, &before, &name)?;
    unknown_environments(&before, application)?;
    may_change(caller, tenancy, &before, Some(&previous), Some(application))?;
    let mut after = Plan::clone(&before);
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
    hold_audit_commit(tx, &after, actor, &name, "application.update", Some(&previous), Some(application)).await
}

pub async fn delete(db: &Database, caller: &Principal, name: &str) -> Result<(), DbError> {
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = readable(caller, &before, name)?;
    may_change(caller, &Tenancy::default(), &before, Some(&previous), None)?;
    sqlx::query("DELETE FROM applications WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    hold_audit_commit(tx, &before, actor, name, "application.delete", Some(&previous), None).await
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
