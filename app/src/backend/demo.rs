//! `--demo`: the seed document's example, stored idempotently.
use super::{
    applications,
    db::{Database, DbError},
    environments, pools,
};
use crate::domain::seed_plan;

pub const DEMO_ACTOR: &str = "demo-seed";

/// Treats "another replica created it first" as done.
fn already_there(result: Result<(), DbError>) -> Result<bool, DbError> {
    match result {
        Ok(()) => Ok(true),
        Err(DbError::Conflict(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Stores what the demo plan has and the database lacks; never overwrites a change a user
/// made to a demo object. Returns how many objects it created.
pub async fn seed(db: &Database) -> Result<usize, DbError> {
    let plan = seed_plan();
    let mut created = 0;
    for environment in &plan.environments {
        if environments::get(db, environment.name.as_str()).await?.is_none()
            && already_there(environments::create(db, DEMO_ACTOR, environment).await)?
        {
            created += 1;
        }
    }
    for pool in &plan.pools {
        let existing = pools::list(db, Some(pool.environment.as_str())).await?;
        if !existing.iter().any(|p| p.name == pool.name)
            && already_there(pools::create(db, DEMO_ACTOR, pool).await.map(|_| ()))?
        {
            created += 1;
        }
    }
    for application in &plan.applications {
        if applications::get(db, application.name.as_str()).await?.is_none()
            && already_there(applications::create(db, DEMO_ACTOR, application).await)?
        {
            created += 1;
        }
    }
    Ok(created)
}
