//! The environments repository. Every write validates through the domain types, passes the
//! plan guard (no new error-level checklist finding) and records itself in the audit log, all
//! in one transaction.
use sqlx::Row;

use super::{
    audit,
    auth::Principal,
    db::{Database, DbError, now_text},
    plan,
};
use domain::{Environment, Plan, access::Role, is_production_name};

fn object(name: &str) -> String {
    format!("environment/{name}")
}

fn to_json(environment: &Environment) -> serde_json::Value {
    // An Environment is plain data; serialising it cannot fail.
    serde_json::to_value(environment).unwrap_or(serde_json::Value::Null)
}

fn not_found(name: &str) -> DbError {
    DbError::NotFound(format!("there is no environment named {name:?}"))
}

pub async fn list(db: &Database) -> Result<Vec<Environment>, DbError> {
    let rows = sqlx::query("SELECT spec FROM environments ORDER BY name")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| plan::parse_environment(&row.try_get::<String, _>("spec")?))
        .collect()
}

pub async fn get(db: &Database, name: &str) -> Result<Option<Environment>, DbError> {
    let row = sqlx::query("SELECT spec FROM environments WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| plan::parse_environment(&row.try_get::<String, _>("spec")?))
        .transpose()
}

/// GH-ENV-NAMESPACE where the clash is made: an environment whose namespace template (or
/// cluster) puts an existing application where another environment already does is refused
/// when it is saved, not later on the application's form.
fn refuse_namespace_clashes(after: &domain::Plan, environment: &Environment) -> Result<(), DbError> {
    let clashes = domain::namespace_clashes(after, environment);
    if clashes.is_empty() { Ok(()) } else { Err(DbError::Rejected(clashes)) }
}

/// Creates an environment; answers it as stored. One the model takes for production by its
/// name (`prod`, `production`, `prd`) is created protected whatever the input says, so its
/// submissions wait for a second person until an admin decides otherwise.
pub async fn create(db: &Database, caller: &crate::auth::Principal, environment: &Environment) -> Result<Environment, DbError> {
    caller.require(domain::access::Role::NetworkAdmin, "create environments").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut environment = environment.clone();
    environment.protected |= is_production_name(&environment.name);
    let environment = &environment;
    let name = environment.name.to_string();
    let mut tx = db.pool().begin().await?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    if before.environment(&environment.name).is_some() {
        return Err(DbError::Conflict(format!(
            "an environment named {name:?} already exists; choose another name or edit it with PUT /api/v1/environments/{name}"
        )));
    }
    let mut after = Plan::clone(&before);
    after.environments.push(environment.clone());
    refuse_namespace_clashes(&after, environment)?;
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;

    let spec = to_json(environment);
    let now = now_text();
    sqlx::query(
        "INSERT INTO environments (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(&name)
    .bind(spec.to_string())
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut tx, actor, "environment.create", &object(&name), None, Some(&spec)).await?;
    tx.commit().await?;
    Ok(environment.clone())
}

/// Replaces the stored environment of that name. Lowering its protection (`protected`
/// true → false) lifts the two-person rule, so only an admin may, and it has an audit
/// entry of its own.
pub async fn update(db: &Database, caller: &Principal, environment: &Environment) -> Result<(), DbError> {
    let name = environment.name.to_string();
    let actor = caller.actor();
    let actor = actor.as_str();
    let mut tx = db.pool().begin().await?;
    let before = plan::lock_and_load(&mut tx, db).await?;
    let previous = before.environment(&environment.name).cloned().ok_or_else(|| not_found(&name))?;
    let lowers_protection = previous.protected && !environment.protected;
    if lowers_protection && caller.role != Role::Admin {
        return Err(crate::policy::Denied::new(
            "protection_needs_admin",
            format!(
                "protected: environment {name:?} is protected, and lifting that lets one person submit to it without a second's \
                 approval; only an admin may (you are {}). Send \"protected\": true to change the rest",
                caller.role.label()
            ),
        )
        .on("protected")
        .into());
    }
    let mut after = Plan::clone(&before);
    for stored in &mut after.environments {
        if stored.name == environment.name {
            *stored = environment.clone();
        }
    }
    if environment.namespace_template != previous.namespace_template || environment.cluster != previous.cluster {
        refuse_namespace_clashes(&after, environment)?;
    }
    plan::refuse_new_errors(&before, &after, plan::now_unix())?;

    let after_json = to_json(environment);
    sqlx::query("UPDATE environments SET spec = $1, updated_at = $2 WHERE name = $3")
        .bind(after_json.to_string())
        .bind(now_text())
        .bind(&name)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        "environment.update",
        &object(&name),
        Some(&to_json(&previous)),
        Some(&after_json),
    )
    .await?;
    if lowers_protection {
        let change = |protected: bool| serde_json::json!({"protected": protected});
        audit::record(&mut tx, actor, "environment.unprotect", &object(&name), Some(&change(true)), Some(&change(false))).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes an environment that no pool, application or certificate uses.
pub async fn delete(db: &Database, caller: &crate::auth::Principal, name: &str) -> Result<(), DbError> {
    caller.require(domain::access::Role::NetworkAdmin, "delete environments").map_err(DbError::from)?;
    let actor = &caller.actor();
    let mut tx = db.pool().begin().await?;
    plan::lock(&mut tx).await?;
    let before = plan::load(&mut tx).await?;
    let previous = before
        .environments
        .iter()
        .find(|e| e.name.as_str() == name)
        .cloned()
        .ok_or_else(|| not_found(name))?;
    let pools: Vec<String> = before.pools_of(&previous.name).map(|p| p.name.to_string()).collect();
    let applications: Vec<String> = before
        .applications
        .iter()
        .filter(|a| a.environments.contains_key(&previous.name))
        .map(|a| a.name.to_string())
        .collect();
    let certificates: Vec<String> = before
        .certificates
        .iter()
        .flatten()
        .filter(|c| c.environment == previous.name)
        .map(|c| c.name.to_string())
        .collect();
    if !pools.is_empty() || !applications.is_empty() || !certificates.is_empty() {
        return Err(DbError::Conflict(format!(
            "environment {name:?} is in use (pools: [{}]; applications: [{}]; certificates: [{}]); delete or move those first",
            pools.join(", "),
            applications.join(", "),
            certificates.join(", ")
        )));
    }
    sqlx::query("DELETE FROM environments WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, actor, "environment.delete", &object(name), Some(&to_json(&previous)), None)
        .await?;
    tx.commit().await?;
    Ok(())
}
