//! Server functions of the Certificates area. What the pages show is computed and rendered
//! on the server (`ui::certificates::fragments`); the browser receives HTML, and data only
//! for what it acts on.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::domain::{CertificateUploadInput, Finding, InventoryQuery};

/// The inventory as the page shows it: its HTML, rendered on the server, and the
/// environments the upload form offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryPage {
    pub html: String,
    pub environments: Vec<String>,
}

/// One certificate's page: its HTML, rendered on the server, and what the delete button and
/// the owners' form need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificatePage {
    pub id: i64,
    pub title: String,
    pub html: String,
    pub is_current: bool,
    /// The namespaces that may use it, as the owners' field shows them (`team-a, team-b-*`).
    pub owners: String,
    /// Whether the caller may change the owners (network admins and admins).
    pub may_change_owners: bool,
}

/// What an upload stored, and what the checklist now says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadedView {
    pub id: i64,
    pub findings: Vec<Finding>,
}

#[cfg(feature = "ssr")]
fn use_secret_key() -> Result<std::sync::Arc<crate::backend::certificates::SecretKey>, AppError> {
    use_context::<std::sync::Arc<crate::backend::certificates::SecretKey>>().ok_or_else(|| {
        tracing::error!("no secret key in the Leptos context");
        AppError::Internal
    })
}

#[cfg(feature = "ssr")]
impl From<crate::backend::certificates::CertificateError> for AppError {
    fn from(error: crate::backend::certificates::CertificateError) -> Self {
        use crate::backend::certificates::CertificateError;
        match error {
            CertificateError::Upload(error) => AppError::Fields(vec![error.to_field_error()]),
            CertificateError::Db(error) => error.into(),
            CertificateError::Seal(error) => {
                tracing::error!(%error, "a stored key does not open");
                AppError::Internal
            }
        }
    }
}

/// The inventory for `?environment=…&status=…&sort=…`.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn list_certificates(query: InventoryQuery) -> Result<InventoryPage, AppError> {
    use crate::backend::{certificates, environments, plan};
    let db = crate::api::context::use_database()?;
    let caller = crate::api::context::current()?;
    let all = certificates::list(&db, &caller, &InventoryQuery { sort: query.sort, ..InventoryQuery::default() }).await?;
    let total = all.len();
    let certificates = query.apply(all);
    let environments: Vec<String> = environments::list(&db).await?.into_iter().map(|e| e.name.to_string()).collect();
    let html = crate::ui::certificates::fragments::inventory(certificates, total, environments.clone(), query, plan::now_unix());
    Ok(InventoryPage { html, environments })
}

/// One version with its chain and history.
#[server]
pub async fn get_certificate(id: i64) -> Result<CertificatePage, AppError> {
    let db = crate::api::context::use_database()?;
    let caller = crate::api::context::current()?;
    let certificate = crate::backend::certificates::get(&db, &caller, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no certificate with id {id}")))?;
    Ok(CertificatePage {
        id,
        title: format!("Certificate {} ({})", certificate.name, certificate.environment),
        is_current: certificate.superseded_at.is_none(),
        owners: certificate.owners.to_string(),
        may_change_owners: caller.role >= crate::domain::access::Role::NetworkAdmin,
        html: crate::ui::certificates::fragments::certificate(certificate),
    })
}

/// Parses, verifies and stores an upload (or a Secret reference) for `environment`.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn upload_certificate(environment: String, input: CertificateUploadInput) -> Result<UploadedView, AppError> {
    use crate::backend::certificates;
    let db = crate::api::context::use_database()?;
    let secret_key = use_secret_key()?;
    let upload =
        crate::domain::CertificateUpload::parse(input).map_err(|errors| AppError::Fields(errors.into_vec()))?;
    let uploaded = certificates::upload(&db, &secret_key, &crate::api::context::current()?, &environment, &upload).await?;
    Ok(UploadedView { id: uploaded.certificate.id, findings: uploaded.findings })
}

#[server]
pub async fn delete_certificate(id: i64) -> Result<(), AppError> {
    let db = crate::api::context::use_database()?;
    Ok(crate::backend::certificates::delete(&db, &crate::api::context::current()?, id).await?)
}

/// Changes who may use the certificate `id`: `owners` as typed (`team-a, team-b-*`, or one
/// per line); answers them as stored.
#[server]
pub async fn set_certificate_owners(id: i64, owners: String) -> Result<String, AppError> {
    use crate::domain::certificates::CertificateOwners;
    let db = crate::api::context::use_database()?;
    let owners = CertificateOwners::parse("owners", &CertificateOwners::split(&owners))
        .map_err(|errors| AppError::Fields(errors.into_vec()))?;
    let stored = crate::backend::certificates::set_owners(&db, &crate::api::context::current()?, id, &owners).await?;
    Ok(stored.owners.to_string())
}
