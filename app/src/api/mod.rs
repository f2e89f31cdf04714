//! Server functions: thin wrappers that call the backend and map its errors.
//! The same operations are served as JSON under /api/v1 by the server crate.
mod error;

pub use error::AppError;

use leptos::prelude::*;

use crate::domain::Environment;

/// Every stored environment, by name.
#[server]
pub async fn list_environments() -> Result<Vec<Environment>, AppError> {
    let db = crate::backend::db::use_database()?;
    Ok(crate::backend::environments::list(&db).await?)
}

/// One environment; `NotFound` when there is none of that name.
#[server]
pub async fn get_environment(name: String) -> Result<Environment, AppError> {
    let db = crate::backend::db::use_database()?;
    crate::backend::environments::get(&db, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no environment named {name:?}")))
}

/// The checklist of every application, and the findings of the plan as a whole.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChecklistSummary {
    pub applications: Vec<(String, crate::domain::Report)>,
    pub plan: crate::domain::Report,
}

#[server]
pub async fn checklist_overview() -> Result<ChecklistSummary, AppError> {
    use crate::backend::plan;
    let db = crate::backend::db::use_database()?;
    let plan = plan::load_from(&db).await?;
    let now = plan::now_unix();
    let applications = plan
        .applications
        .iter()
        .map(|application| {
            let name = application.name.to_string();
            let report = crate::domain::check_application(&plan, &name, now);
            (name, report)
        })
        .collect();
    Ok(ChecklistSummary { applications, plan: crate::domain::check_plan(&plan, now) })
}
