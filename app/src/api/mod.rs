//! Server functions: thin wrappers that call the backend and map its errors.
//! The same operations are served as JSON under /api/v1 by the server crate.
pub mod account;
pub mod approvals;
pub mod applications;
pub mod certificates;
pub mod cluster;
#[cfg(feature = "ssr")]
pub mod context;
mod error;
pub mod pools;
pub mod topology;
pub mod verification;

pub use error::AppError;

/// Who is signed in, for the page header.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SignedIn {
    pub name: String,
    pub role: crate::domain::access::Role,
    /// Signed in by `--demo` rather than by a password.
    pub demo: bool,
    /// The Gateway label fix is switched off: every page says so.
    pub label_fix_off: bool,
}

#[server]
pub async fn signed_in_as() -> Result<Option<SignedIn>, AppError> {
    use crate::backend::auth::{Principal, Via};
    let Some(principal) = use_context::<Principal>() else { return Ok(None) };
    let db = crate::api::context::use_database()?;
    let label_fix_off = !crate::backend::cluster::label_fix::enabled(&db).await?;
    Ok(Some(SignedIn { demo: principal.via == Via::Demo, name: principal.name, role: principal.role, label_fix_off }))
}

/// The access rule of every server function, by its URL. The server guards each one with
/// its rule; a server function missing here answers 403 to everyone (and fails the
/// role × route test).
#[cfg(feature = "ssr")]
pub fn server_fn_rule(path: &str) -> crate::domain::access::Access {
    use leptos::server_fn::ServerFn;

    use crate::domain::access::Access;
    let rules = [
        (SignedInAs::PATH, Access::Public),
        (account::GetSignInOptions::PATH, Access::Public),
        (account::GetAccount::PATH, Access::VIEWER),
        (account::ListUsers::PATH, Access::ADMIN),
        (account::SearchAudit::PATH, Access::NETWORK_ADMIN),
        (ListEnvironments::PATH, Access::VIEWER),
        (GetEnvironment::PATH, Access::VIEWER),
        (ChecklistOverview::PATH, Access::VIEWER),
        (LoadPlan::PATH, Access::VIEWER),
        (SaveEnvironment::PATH, Access::NETWORK_ADMIN),
        (DeleteEnvironment::PATH, Access::NETWORK_ADMIN),
        (GenerateOutputs::PATH, Access::VIEWER),
        (PlanFindings::PATH, Access::VIEWER),
        (certificates::ListCertificates::PATH, Access::VIEWER),
        (certificates::GetCertificate::PATH, Access::VIEWER),
        (certificates::UploadCertificate::PATH, Access::NETWORK_ADMIN),
        (certificates::DeleteCertificate::PATH, Access::NETWORK_ADMIN),
        (certificates::SetCertificateOwners::PATH, Access::NETWORK_ADMIN),
        (pools::ListPools::PATH, Access::VIEWER),
        (pools::CreatePool::PATH, Access::NETWORK_ADMIN),
        (pools::GetPool::PATH, Access::VIEWER),
        (pools::UpdatePool::PATH, Access::NETWORK_ADMIN),
        (pools::DeletePool::PATH, Access::NETWORK_ADMIN),
        (pools::PoolMap::PATH, Access::VIEWER),
        (pools::AllocateAddress::PATH, Access::NETWORK_ADMIN),
        (pools::ReserveAddresses::PATH, Access::NETWORK_ADMIN),
        (pools::ReleaseAddress::PATH, Access::NETWORK_ADMIN),
        (pools::ImportPoolsCsv::PATH, Access::NETWORK_ADMIN),
        (pools::AddressHistory::PATH, Access::VIEWER),
        (topology::LoadTopology::PATH, Access::VIEWER),
        (cluster::ListApplicationTargets::PATH, Access::VIEWER),
        (cluster::GetApplicationGlance::PATH, Access::VIEWER),
        (cluster::SubmitToCluster::PATH, Access::APP_TEAM),
        (cluster::TearDown::PATH, Access::APP_TEAM),
        (cluster::RetrySubmission::PATH, Access::APP_TEAM),
        (verification::GetVerifications::PATH, Access::VIEWER),
        (verification::VerifyEnvironment::PATH, Access::APP_TEAM),
        (cluster::AdoptObjects::PATH, Access::NETWORK_ADMIN),
        (cluster::GetSubmissionProgress::PATH, Access::VIEWER),
        (cluster::ClusterStatus::PATH, Access::VIEWER),
        (cluster::SwitchLabelFix::PATH, Access::NETWORK_ADMIN),
        (approvals::ListApprovals::PATH, Access::NETWORK_ADMIN),
        (approvals::GetApproval::PATH, Access::NETWORK_ADMIN),
        (approvals::ApproveSubmission::PATH, Access::NETWORK_ADMIN),
        (approvals::RejectSubmission::PATH, Access::NETWORK_ADMIN),
        (cluster::VipStatuses::PATH, Access::VIEWER),
        (cluster::ClusterDrift::PATH, Access::VIEWER),
        (cluster::ImportPreview::PATH, Access::VIEWER),
        (cluster::ImportFromCluster::PATH, Access::NETWORK_ADMIN),
        (applications::GetApplication::PATH, Access::VIEWER),
        (applications::SaveApplication::PATH, Access::APP_TEAM),
        (applications::PreviewApplication::PATH, Access::APP_TEAM),
    ];
    rules.into_iter().find(|(rule_path, _)| *rule_path == path).map_or(Access::Unlisted, |(_, access)| access)
}

use leptos::prelude::*;

use crate::domain::{Environment, EnvironmentInput, Plan};

/// Every stored environment, by name.
#[server]
pub async fn list_environments() -> Result<Vec<Environment>, AppError> {
    let db = crate::api::context::use_database()?;
    Ok(crate::backend::environments::list(&db).await?)
}

/// One environment; `NotFound` when there is none of that name.
#[server]
pub async fn get_environment(name: String) -> Result<Environment, AppError> {
    let db = crate::api::context::use_database()?;
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
    let db = crate::api::context::use_database()?;
    let (plan, full) = plan::checked(&db).await?;
    let applications = plan
        .applications
        .iter()
        .map(|application| {
            let name = application.name.to_string();
            let report = crate::domain::application_report(&plan, &full, &name);
            (name, report)
        })
        .collect();
    Ok(ChecklistSummary { applications, plan: std::sync::Arc::unwrap_or_clone(full) })
}

/// The stored plan and the server's clock, for checks that run in the browser.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanSnapshot {
    pub plan: Plan,
    pub now_unix: i64,
}

#[server]
pub async fn load_plan() -> Result<PlanSnapshot, AppError> {
    use crate::backend::plan;
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    let plan = caller.redact_other_teams(std::sync::Arc::unwrap_or_clone(plan::load_from(&db).await?));
    Ok(PlanSnapshot { plan, now_unix: plan::now_unix() })
}

/// Creates (`create`) or replaces an environment; answers its name.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn save_environment(input: EnvironmentInput, create: bool) -> Result<String, AppError> {
    use crate::backend::environments;
    let db = crate::api::context::use_database()?;
    let environment = Environment::try_from(input).map_err(|errors| AppError::Fields(errors.into_vec()))?;
    if create {
        environments::create(&db, &crate::api::context::current()?, &environment).await?;
    } else {
        environments::update(&db, &crate::api::context::current()?, &environment).await?;
    }
    Ok(environment.name.to_string())
}

#[server]
pub async fn delete_environment(name: String) -> Result<(), AppError> {
    let db = crate::api::context::use_database()?;
    Ok(crate::backend::environments::delete(&db, &crate::api::context::current()?, &name).await?)
}

/// One generated text, or why it cannot be generated for this environment.
pub type Generated = Result<String, String>;

/// What the cluster and the external router need for one environment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnvironmentOutputs {
    pub environment: String,
    pub cilium: Generated,
    pub frr: Generated,
    pub helm_values: Generated,
}

#[server]
pub async fn generate_outputs() -> Result<Vec<EnvironmentOutputs>, AppError> {
    use crate::backend::{manifests, plan};
    let db = crate::api::context::use_database()?;
    let plan = plan::load_from(&db).await?;
    Ok(plan
        .environments
        .iter()
        .map(|environment| {
            let name = environment.name.as_str();
            EnvironmentOutputs {
                environment: name.to_owned(),
                cilium: manifests::environment_cilium(&plan, name).map(|bundle| bundle.to_yaml()).map_err(|e| e.to_string()),
                frr: manifests::frr_config(&plan, name).map_err(|e| e.to_string()),
                helm_values: manifests::helm_values(&plan, name).map_err(|e| e.to_string()),
            }
        })
        .collect())
}

#[server]
pub async fn plan_findings() -> Result<crate::domain::Report, AppError> {
    use crate::backend::plan;
    let db = crate::api::context::use_database()?;
    Ok(std::sync::Arc::unwrap_or_clone(plan::checked(&db).await?.1))
}
