//! Server functions of the Applications (submit, progress, teardown) and Clusters pages. The
//! shapes mirror /api/v1's submissions and clusters.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;
pub use views::cluster::{AddressDrift, Drift, Import, ImportedAddress, ImportedPool, PoolDrift};
pub use views::submissions::{ObjectState, Operation, SubmissionStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectProgress {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub state: ObjectState,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionProgress {
    pub id: i64,
    pub operation: Operation,
    pub dry_run: bool,
    pub status: SubmissionStatus,
    pub message: String,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub created_at: String,
    pub objects: Vec<ObjectProgress>,
    /// Failed for a cause running it again can cure (the cluster was unreachable, …).
    pub retryable: bool,
}

impl SubmissionProgress {
    /// Still moving: the page keeps asking.
    pub fn is_running(&self) -> bool {
        self.status.is_running()
    }
}

/// One environment an application is deployed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetView {
    pub environment: String,
    /// The cluster and the namespace the environment puts the application in.
    pub cluster: String,
    pub namespace: String,
    pub protected: bool,
    /// Error-level checklist findings of the application: while any, nothing is submitted.
    pub errors: Vec<String>,
    pub latest: Option<SubmissionProgress>,
    /// The caller may adopt objects Gatehouse did not create (network admins and admins).
    #[serde(default)]
    pub may_adopt: bool,
    /// The outcome of the latest verification (from the portal or a client), if any.
    #[serde(default)]
    pub verified: Option<views::verification::Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationTargets {
    pub name: String,
    pub namespace: String,
    pub targets: Vec<TargetView>,
}

#[cfg(feature = "ssr")]
fn progress(submission: crate::backend::cluster::submissions::Submission) -> SubmissionProgress {
    SubmissionProgress {
        id: submission.id,
        operation: submission.operation,
        dry_run: submission.dry_run,
        status: submission.status,
        message: submission.message,
        requested_by: submission.requested_by,
        approved_by: submission.approved_by,
        created_at: submission.created_at,
        retryable: submission.retryable,
        objects: submission
            .objects
            .into_iter()
            .map(|o| ObjectProgress { kind: o.kind, namespace: o.namespace, name: o.name, state: o.state, message: o.message })
            .collect(),
    }
}

#[cfg(feature = "ssr")]
fn submitter() -> Result<crate::backend::cluster::submissions::Submitter, AppError> {
    use_context::<crate::backend::cluster::submissions::Submitter>().ok_or_else(|| {
        tracing::error!("no Submitter in the Leptos context");
        AppError::Internal
    })
}

#[cfg(feature = "ssr")]
impl From<crate::backend::cluster::submissions::SubmitError> for AppError {
    fn from(error: crate::backend::cluster::submissions::SubmitError) -> AppError {
        use crate::backend::cluster::submissions::SubmitError;
        match error {
            SubmitError::NotFound(message) => AppError::NotFound(message),
            SubmitError::Bundle(error) => AppError::Invalid(error.to_string()),
            SubmitError::Checklist(findings) => AppError::Rejected(findings),
            SubmitError::Conflict(message) => AppError::Conflict(message),
            SubmitError::Denied(denied) => AppError::Forbidden(denied.message),
            SubmitError::Cluster(unknown) => AppError::Conflict(unknown.to_string()),
            SubmitError::Invalid(error) => AppError::Fields(vec![error]),
            SubmitError::Db(error) => error.into(),
            SubmitError::Vip(error) => super::pools::allocation_error(error),
            SubmitError::Certificate(cause) => {
                tracing::error!(%cause, "opening a certificate's key for a submission failed");
                AppError::Internal
            }
        }
    }
}

/// Every application, each environment it is deployed to, its blocking findings and its
/// latest submission there.
#[server]
pub async fn list_application_targets() -> Result<Vec<ApplicationTargets>, AppError> {
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    let (plan, full) = crate::backend::plan::checked(&db).await?;
    let readable: Vec<&crate::domain::Application> =
        plan.applications.iter().filter(|application| caller.may_read_application(&plan, application)).collect();
    // A team that reads a few applications of many loads only theirs.
    let names: Vec<&str> = readable.iter().map(|application| application.name.as_str()).collect();
    let only = (readable.len() < plan.applications.len()).then_some(names.as_slice());
    let mut latest = crate::backend::cluster::submissions::latest_per_target(&db, only).await?;
    let verified = crate::backend::verify::store::latest_outcomes(&db, only).await?;
    let mut applications = Vec::new();
    for application in readable {
        applications.push(ApplicationTargets {
            name: application.name.to_string(),
            namespace: application.namespace.to_string(),
            targets: targets_of(&caller, &plan, &full, application, &mut latest, &verified),
        });
    }
    Ok(applications)
}

/// Each environment `application` is deployed to, its blocking findings and its latest
/// submission there. The caller has been checked to read `application`.
#[cfg(feature = "ssr")]
fn targets_of(
    caller: &crate::backend::auth::Principal,
    plan: &crate::domain::Plan,
    full: &crate::domain::Report,
    application: &crate::domain::Application,
    latest: &mut std::collections::HashMap<(String, String), crate::backend::cluster::submissions::Submission>,
    verified: &std::collections::HashMap<(String, String), views::verification::Outcome>,
) -> Vec<TargetView> {
    let may_adopt = caller.role >= crate::domain::access::Role::NetworkAdmin;
    let errors: Vec<String> = crate::domain::application_report(plan, full, application.name.as_str())
        .findings
        .into_iter()
        .filter(|f| f.severity == crate::domain::Severity::Error)
        .map(|f| format!("{}: {}", f.rule, f.sentence()))
        .collect();
    let mut targets = Vec::new();
    for environment in application.environments.keys() {
        let key = (application.name.to_string(), environment.to_string());
        let latest = latest.remove(&key).map(progress);
        targets.push(TargetView {
            environment: environment.to_string(),
            cluster: plan.environment(environment).map_or(crate::domain::DEFAULT_CLUSTER, |e| e.cluster_name()).to_owned(),
            namespace: plan.namespace_in(application, environment).to_string(),
            protected: plan.environments.iter().any(|e| e.name == *environment && e.protected),
            errors: errors.clone(),
            latest,
            may_adopt,
            verified: verified.get(&key).copied(),
        });
    }
    targets
}

/// One environment of an application's page: where it goes, how it is reached, and what the
/// checklist finds there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentGlance {
    pub target: TargetView,
    pub hostnames: Vec<String>,
    pub paths: Vec<String>,
    /// The address the application asks for, or `None` for `auto`.
    pub fixed_vip: Option<String>,
    /// The address the plan holds for it in this environment, if any.
    pub held: Option<String>,
    pub certificate: Option<String>,
    /// Checklist findings about the application in this environment (or about it as a
    /// whole), as `rule: message. Fix: hint`.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// One application at a glance (its page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationGlance {
    pub application: crate::domain::Application,
    pub environments: Vec<EnvironmentGlance>,
}

/// One application the caller may read, with each environment's placement, VIP, findings
/// and latest submission; `NotFound` when there is none of that name for the caller.
#[server]
pub async fn get_application_glance(name: String) -> Result<ApplicationGlance, AppError> {
    use crate::domain::Severity;
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    // The service answers NotFound for an unknown application and one outside the caller's scopes.
    let application = crate::backend::applications::get_for(&db, &caller, &name).await?;
    let (plan, full) = crate::backend::plan::checked(&db).await?;
    let report = crate::domain::application_report(&plan, &full, application.name.as_str());
    let only = [application.name.as_str()];
    let mut latest = crate::backend::cluster::submissions::latest_per_target(&db, Some(&only)).await?;
    let verified = crate::backend::verify::store::latest_outcomes(&db, Some(&only)).await?;
    let targets = targets_of(&caller, &plan, &full, &application, &mut latest, &verified);
    // A finding belongs to an environment when it names it, its pools or its certificates;
    // one naming none of the application's environments concerns every one of them.
    let objects_of = |environment: &crate::domain::EnvironmentName| -> Vec<String> {
        let mut objects = vec![format!("environment/{environment}")];
        objects.extend(plan.pools_of(environment).map(|pool| format!("pool/{}", pool.name)));
        objects
    };
    let concerns = |finding: &crate::domain::Finding, environment: &crate::domain::EnvironmentName| {
        finding.objects.iter().any(|object| {
            objects_of(environment).contains(object) || object.starts_with(&format!("certificate/{environment}/"))
        })
    };
    let environments = application
        .environments
        .iter()
        .zip(targets)
        .map(|((environment, settings), target)| {
            let findings: Vec<&crate::domain::Finding> = report
                .findings
                .iter()
                .filter(|f| concerns(f, environment) || !application.environments.keys().any(|e| concerns(f, e)))
                .collect();
            let lines = |severity: Severity| {
                findings.iter().filter(|f| f.severity == severity).map(|f| format!("{}: {}", f.rule, f.sentence())).collect()
            };
            EnvironmentGlance {
                hostnames: settings.hostnames.iter().map(ToString::to_string).collect(),
                paths: settings.paths.iter().map(ToString::to_string).collect(),
                fixed_vip: settings.vip.address().map(|address| address.to_string()),
                held: plan
                    .allocations
                    .iter()
                    .find(|a| a.environment == *environment && a.application.as_ref() == Some(&application.name))
                    .map(|a| a.address.to_string()),
                certificate: settings.certificate.as_ref().map(ToString::to_string),
                errors: lines(Severity::Error),
                warnings: lines(Severity::Warning),
                target,
            }
        })
        .collect();
    Ok(ApplicationGlance { application, environments })
}

#[server]
pub async fn submit_to_cluster(application: String, environment: String, dry_run: bool) -> Result<i64, AppError> {
    let caller = crate::api::context::current()?;
    Ok(submitter()?.submit(&caller, &application, &environment, dry_run).await?)
}

#[server]
pub async fn tear_down(application: String, environment: String) -> Result<i64, AppError> {
    let caller = crate::api::context::current()?;
    Ok(submitter()?.teardown(&caller, &application, &environment).await?)
}

/// Runs a failed submission again, its recorded objects, under the approval rules it was run
/// under (its requester or a network admin; the service checks).
#[server]
pub async fn retry_submission(id: i64) -> Result<i64, AppError> {
    let caller = crate::api::context::current()?;
    submitter()?.retry(&caller, id).await?;
    Ok(id)
}

/// An object of a submission a network admin asks Gatehouse to adopt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptTarget {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// Lets Gatehouse take over an existing object it did not create (network admins; the
/// service checks the role); answers what was done, in a sentence per object.
#[server]
pub async fn adopt_objects(application: String, environment: String, objects: Vec<AdoptTarget>) -> Result<Vec<String>, AppError> {
    use crate::backend::cluster::submissions::{AdoptError, ObjectRef};
    let caller = crate::api::context::current()?;
    let names: Vec<ObjectRef> =
        objects.into_iter().map(|o| ObjectRef { kind: o.kind, name: o.name, namespace: o.namespace }).collect();
    match submitter()?.adopt(&caller, &application, &environment, &names).await {
        Ok(adopted) => Ok(adopted.into_iter().map(|a| a.message).collect()),
        Err(AdoptError::Submit(error)) => Err(error.into()),
        Err(AdoptError::Denied(denied)) => Err(AppError::Forbidden(denied.message)),
        Err(AdoptError::Invalid(error)) => Err(AppError::Fields(vec![error])),
        Err(AdoptError::Missing(message)) => Err(AppError::NotFound(message)),
        Err(AdoptError::Cluster(failure)) => Err(AppError::Conflict(failure.to_string())),
    }
}

#[server]
pub async fn get_submission_progress(id: i64) -> Result<SubmissionProgress, AppError> {
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    crate::backend::cluster::submissions::get_for(&db, &caller, id)
        .await?
        .map(progress)
        .ok_or_else(|| AppError::NotFound(format!("there is no submission {id}")))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityView {
    pub name: String,
    pub present: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    pub cluster: String,
    /// Where its connection comes from, or `not configured`.
    pub source: String,
    /// The environments that go to it.
    pub environments: Vec<String>,
    pub reachable: bool,
    pub server_version: Option<String>,
    pub capabilities: Vec<CapabilityView>,
    /// Why the cluster could not be asked.
    pub failure: Option<String>,
}

/// Every cluster and the Gateway label fix's switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClustersView {
    pub clusters: Vec<ClusterView>,
    pub label_fix: bool,
}

#[server]
pub async fn cluster_status() -> Result<ClustersView, AppError> {
    use crate::backend::cluster::{label_fix, overview};
    let db = crate::api::context::use_database()?;
    let plan = crate::backend::plan::load_from(&db).await?;
    let clusters = overview(&submitter()?.clusters, &plan)
        .await
        .into_iter()
        .map(|found| ClusterView {
            cluster: found.cluster,
            source: found.source,
            environments: found.environments,
            reachable: found.reachable,
            server_version: found.server_version,
            capabilities: found
                .capabilities
                .into_iter()
                .map(|c| CapabilityView { name: c.name.to_owned(), present: c.present, detail: c.detail })
                .collect(),
            failure: found.failure.map(|f| f.to_string()),
        })
        .collect();
    Ok(ClustersView { clusters, label_fix: label_fix::enabled(&db).await? })
}

#[server]
pub async fn switch_label_fix(enabled: bool) -> Result<bool, AppError> {
    use crate::backend::cluster::label_fix::{LabelFixSwitch, set_enabled};
    let db = crate::api::context::use_database()?;
    let switch = use_context::<LabelFixSwitch>().ok_or(AppError::Internal)?;
    set_enabled(&db, &switch.0, &crate::api::context::current()?, enabled).await?;
    Ok(enabled)
}

/// One LoadBalancer Service's VIP on the VIP status page (`GET /api/v1/vips`'s shape, flat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VipRow {
    pub cluster: String,
    pub namespace: String,
    pub service: String,
    pub gateway: Option<String>,
    pub address: Option<String>,
    pub advertisement_labels: Vec<String>,
    pub labelled: bool,
    pub assigned: bool,
    pub l2_policies: Vec<String>,
    pub bgp_advertisements: Vec<String>,
    pub announced: bool,
}

/// The VIPs of the clusters that answered, and why each other one could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VipReport {
    pub vips: Vec<VipRow>,
    pub unreadable: Vec<String>,
    pub label_fix: bool,
}

#[server]
pub async fn vip_statuses() -> Result<VipReport, AppError> {
    use crate::backend::cluster::{label_fix, vips};
    let db = crate::api::context::use_database()?;
    let plan = crate::backend::plan::load_from(&db).await?;
    let label_fix = label_fix::enabled(&db).await?;
    let (statuses, unreadable) = vips::statuses(&submitter()?.clusters, &plan).await;
    Ok(VipReport {
            vips: statuses
                .into_iter()
                .map(|s| VipRow {
                    cluster: s.cluster,
                    namespace: s.namespace,
                    service: s.service,
                    gateway: s.gateway,
                    address: s.address,
                    advertisement_labels: s.advertisement_labels,
                    labelled: s.labelled,
                    assigned: s.assigned,
                    l2_policies: s.announcement.l2_policies,
                    bgp_advertisements: s.announcement.bgp_advertisements,
                    announced: s.announced,
                })
                .collect(),
            unreadable: unreadable.iter().map(ToString::to_string).collect(),
            label_fix,
    })
}

/// The drift between the plan and the cluster, or why the cluster could not be read.
#[server]
pub async fn cluster_drift() -> Result<Result<Drift, String>, AppError> {
    let db = crate::api::context::use_database()?;
    let plan = crate::backend::plan::load_from(&db).await?;
    Ok(crate::backend::cluster::drift::drift(&submitter()?.clusters, &plan).await.map_err(|failure| failure.to_string()))
}


/// What importing from the cluster would add to the plan.
#[server]
pub async fn import_preview() -> Result<Result<Import, String>, AppError> {
    let db = crate::api::context::use_database()?;
    let plan = crate::backend::plan::load_from(&db).await?;
    Ok(crate::backend::cluster::import::preview(&submitter()?.clusters, &plan).await.map_err(|failure| failure.to_string()))
}

/// Imports the cluster's pools and assigned VIPs into the plan; answers what was imported.
#[server]
pub async fn import_from_cluster() -> Result<Result<Import, String>, AppError> {
    use crate::backend::cluster::import::{ImportError, apply};
    let db = crate::api::context::use_database()?;
    match apply(&db, &submitter()?.clusters, &crate::api::context::current()?).await {
        Ok(import) => Ok(Ok(import)),
        Err(ImportError::Cluster(failure)) => Ok(Err(failure.to_string())),
        Err(ImportError::Db(error)) => Err(error.into()),
    }
}
