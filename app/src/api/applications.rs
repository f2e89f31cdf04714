//! Server functions of the application form and its preview: they save through the same
//! repository (validation, plan guard, audit) as `POST`/`PUT /api/v1/applications`.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::domain::{Application, ApplicationInput};

/// One stored application the caller may read; `NotFound` when there is none of that name.
#[server]
pub async fn get_application(name: String) -> Result<Application, AppError> {
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    Ok(crate::backend::applications::get_for(&db, &caller, &name).await?)
}

/// The namespaces no application may go to, from the server's configuration.
#[cfg(feature = "ssr")]
pub(crate) fn use_tenancy() -> Result<std::sync::Arc<crate::backend::policy::Tenancy>, AppError> {
    use_context::<std::sync::Arc<crate::backend::policy::Tenancy>>().ok_or_else(|| {
        tracing::error!("no Tenancy in the Leptos context");
        AppError::Internal
    })
}

/// Creates (`create`) or replaces an application; answers its name. Fields that do not parse
/// come back as `Fields`, changes that would break the checklist as `Rejected`.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn save_application(input: ApplicationInput, create: bool) -> Result<String, AppError> {
    use crate::{backend::applications, domain::FieldError};
    let application = Application::try_from(input).map_err(|errors| AppError::Fields(errors.into_vec()))?;
    let name = application.name.to_string();
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    let tenancy = use_tenancy()?;
    let saved = if create {
        applications::create(&db, &tenancy, &caller, &application).await
    } else {
        applications::update(&db, &tenancy, &caller, &application).await
    };
    saved.map_err(|error| match error {
        crate::backend::db::DbError::Conflict(message) => {
            AppError::Fields(vec![FieldError::new("name", "application_exists", message)])
        }
        other => other.into(),
    })?;
    Ok(name)
}

/// How one field of an object compares with the live cluster; values as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub field: String,
    /// `added`, `changed` or `unchanged`.
    pub change: String,
    pub live: Option<String>,
    pub desired: String,
}

/// One object of a preview: its YAML and its fields against the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewItem {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub live: bool,
    pub yaml: String,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub fields: Vec<FieldDiff>,
    pub note: Option<String>,
    /// What is left to the API server at apply time (not a problem).
    pub info: Option<String>,
}

/// Each object's YAML and its field-level diff against the live cluster, from a
/// server-side-apply dry run (`GET /api/v1/applications/{app}/preview` for the page).
#[server]
pub async fn preview_application(application: String, environment: String) -> Result<Vec<PreviewItem>, AppError> {
    let caller = crate::api::context::current()?;
    let submitter = use_context::<crate::backend::cluster::submissions::Submitter>().ok_or(AppError::Internal)?;
    Ok(submitter.preview(&caller, &application, &environment).await?.into_iter().map(PreviewItem::from).collect())
}

#[cfg(feature = "ssr")]
impl From<crate::backend::cluster::submissions::PreviewObject> for PreviewItem {
    fn from(object: crate::backend::cluster::submissions::PreviewObject) -> PreviewItem {
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        PreviewItem {
            kind: object.kind,
            namespace: object.namespace,
            name: object.name,
            live: object.live,
            yaml: object.yaml,
            added: object.added,
            changed: object.changed,
            unchanged: object.unchanged,
            fields: object
                .fields
                .iter()
                .map(|f| FieldDiff { field: f.field.clone(), change: f.change.to_owned(), live: f.live.as_ref().map(text), desired: text(&f.desired) })
                .collect(),
            note: object.note,
            info: object.info,
        }
    }
}
