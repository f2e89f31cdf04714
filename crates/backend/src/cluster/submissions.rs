//! Submissions: an application's bundle for one environment, applied to the cluster with
//! server-side apply (field manager `gatehouse`) in dependency order, then watched until
//! every object is ready — or torn down in reverse order. Every object's progress and the API
//! server's answers are written to the database as they happen, so a failed apply records
//! exactly which objects were applied. Only objects Gatehouse made are written or deleted
//! (`ownership`).
mod ownership;

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};

use futures_util::future::join_all;
use kube::{
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    runtime::wait::await_condition,
};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::{
    Cluster, Clusters, FIELD_MANAGER, UnknownCluster, failure,
    jobs::{self, Outcome},
    label_fix, vips,
};
use crate::{
    allocations, audit,
    auth::Principal,
    certificates::{self, SecretKey},
    db::{Database, DbError, now_text},
    manifests::{self, Bundle, BundleError, TlsPem},
    plan,
};
use domain::{Finding, Plan, Severity, VipRequest, access::Role, check_application};
use ownership::Verdict;
pub use ownership::{AdoptError, Adopted, ObjectRef, is_managed};

/// Where a submission stands.
pub mod status {
    pub const AWAITING_APPROVAL: &str = "awaiting_approval";
    pub const APPLYING: &str = "applying";
    pub const READY: &str = "ready";
    pub const FAILED: &str = "failed";
    /// A dry run that every object passed; nothing changed in the cluster.
    pub const VALIDATED: &str = "validated";
    pub const TEARING_DOWN: &str = "tearing_down";
    pub const TORN_DOWN: &str = "torn_down";
    /// A network admin declined it; nothing was applied.
    pub const REJECTED: &str = "rejected";
}

/// Where one object stands.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const APPLIED: &str = "applied";
    pub const WAITING: &str = "waiting";
    pub const READY: &str = "ready";
    pub const FAILED: &str = "failed";
    pub const DELETED: &str = "deleted";
    /// Not applied because an earlier object failed.
    pub const SKIPPED: &str = "skipped";
    /// Exists in the cluster and Gatehouse did not create it: the submission applied nothing
    /// (see `ownership`).
    pub const UNMANAGED: &str = "unmanaged";
    /// Left in the cluster by a teardown: not Gatehouse's to delete (see `ownership`).
    pub const KEPT: &str = "kept";
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmissionObject {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub state: String,
    pub message: String,
    /// The API server's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submission {
    pub id: i64,
    pub application: String,
    pub environment: String,
    pub cluster: String,
    /// `apply` or `teardown`.
    pub operation: String,
    pub dry_run: bool,
    pub status: String,
    pub message: String,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub objects: Vec<SubmissionObject>,
    /// The YAML applied, Secret data left out.
    pub bundle: String,
    /// How many times a worker has claimed the job (more than one: resumed or retried).
    pub attempts: i64,
    /// The replica that holds (or last held) the job's claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// Why it failed, as a code (`cluster_unreachable`, `not_ready`, …), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    /// Whether `POST /api/v1/submissions/{id}/retry` may run it again: it failed for a
    /// cause a retry can cure.
    pub retryable: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// Error-level checklist findings block the submission.
    #[error("the checklist finds {}", domain::counted(.0.len(), "error"))]
    Checklist(Vec<Finding>),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    /// The environment goes to a cluster Gatehouse is not configured with.
    #[error(transparent)]
    Cluster(#[from] UnknownCluster),
    /// A field of the request is wrong.
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(domain::FieldError),
    #[error(transparent)]
    Db(#[from] DbError),
    /// Not the user's fault: the stored key could not be opened.
    #[error("the certificate's key could not be opened: {0}")]
    Certificate(String),
    /// The application's `auto` VIP could not be held (no pool, pools exhausted, busy).
    #[error(transparent)]
    Vip(allocations::AllocationError),
}

/// What to do with an `auto` VIP the plan does not hold yet.
#[derive(Debug, Clone, Copy)]
enum Vip<'a> {
    /// Hold it, as this actor (a submission).
    Hold(&'a str),
    /// Only show the address it would get (a preview, a dry run).
    Preview,
}

/// Applies and tears down submissions, each on the cluster its environment goes to.
#[derive(Clone)]
pub struct Submitter {
    pub clusters: Clusters,
    pub db: Database,
    pub secret_key: Arc<SecretKey>,
    /// How long to wait for every object to be ready.
    pub timeout: Duration,
    /// The namespaces no application may go to.
    pub tenancy: Arc<crate::policy::Tenancy>,
    /// Wakes this replica's job workers when a job becomes runnable (`jobs`).
    pub jobs: jobs::Wake,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter").field("clusters", &self.clusters).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// Apply order: what an object needs exists before it.
fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "ConfigMap" => 1,
        "Secret" => 2,
        "Deployment" => 3,
        "Service" => 4,
        "CiliumLoadBalancerIPPool" => 5,
        "CiliumL2AnnouncementPolicy" | "CiliumBGPClusterConfig" | "CiliumBGPPeerConfig" | "CiliumBGPAdvertisement" => 6,
        "ReferenceGrant" => 7,
        "Gateway" => 8,
        "HTTPRoute" => 9,
        _ => 10,
    }
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// `Deployment cd-service/api` or `CiliumLoadBalancerIPPool dev-vips`.
fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn identity(object: &Value) -> SubmissionObject {
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
    SubmissionObject {
        api_version: text(object, "/apiVersion").to_owned(),
        kind: text(object, "/kind").to_owned(),
        namespace,
        name: text(object, "/metadata/name").to_owned(),
        state: state::PENDING.to_owned(),
        message: String::new(),
        answer: None,
    }
}

/// The bundle as recorded: Secret values are replaced, so no key reaches the database.
fn recorded_bundle(objects: &[Value]) -> String {
    let mut bundle = Bundle::new();
    for object in objects {
        let mut object = object.clone();
        if text(&object, "/kind") == "Secret"
            && let Some(data) = object.get_mut("data").and_then(Value::as_object_mut)
        {
            for value in data.values_mut() {
                *value = Value::String("(not recorded)".to_owned());
            }
        }
        let _ = bundle.push(&object);
    }
    bundle.to_yaml()
}

fn blocking_findings(plan: &Plan, application: &str) -> Vec<Finding> {
    check_application(plan, application, plan::now_unix())
        .findings
        .into_iter()
        .filter(|finding| finding.severity == Severity::Error)
        .collect()
}

fn unknown(plan: &Plan, application: &str, environment: &str) -> Option<SubmitError> {
    if plan.application(application).is_none() {
        return Some(SubmitError::NotFound(format!(
            "there is no application named {application:?}; GET /api/v1/applications lists them"
        )));
    }
    if !plan.environments.iter().any(|e| e.name.as_str() == environment) {
        return Some(SubmitError::NotFound(format!(
            "there is no environment named {environment:?}; GET /api/v1/environments lists them"
        )));
    }
    None
}

impl Submitter {
    /// The objects of one application in one environment, in apply order: its bundle with the
    /// TLS Secret, and the environment's pools and announcement policies before the Gateway.
    async fn objects(&self, plan: &Plan, application: &str, environment: &str) -> Result<Vec<Value>, SubmitError> {
        let tls = certificates::tls_for(&self.db, &self.secret_key, plan, application, environment).await?;
        let tls_pem = tls.as_ref().map(|tls| TlsPem { chain_pem: &tls.chain_pem, key_pem: &tls.key_pem });
        let mut objects = manifests::application_bundle_with_tls(plan, application, environment, tls_pem)?.into_objects();
        objects.extend(manifests::environment_cilium(plan, environment)?.into_objects());
        objects.sort_by_key(|object| rank(text(object, "/kind")));
        if !label_fix::enabled(&self.db).await? {
            for gateway in objects.iter_mut().filter(|o| text(o, "/kind") == "Gateway") {
                if let Some(spec) = gateway.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("infrastructure");
                }
            }
        }
        Ok(objects)
    }

    /// `plan` with `application`'s VIP in `environment` as its Gateway asks LB-IPAM for it: a
    /// fixed address as it is; `auto` as the address the plan holds for it — held now for a
    /// submission, or for a preview the address it would be given (the one the cluster
    /// assigned, when the plan has it free, else the lowest free one).
    async fn with_vip(&self, plan: &Plan, application: &str, environment: &str, cluster: &Cluster, vip: Vip<'_>) -> Result<Plan, SubmitError> {
        let (Some(app), Some(env)) = (plan.application(application), plan.environments.iter().find(|e| e.name.as_str() == environment))
        else {
            return Ok(plan.clone());
        };
        let wants_auto = app.environments.get(&env.name).is_some_and(|target| target.vip == VipRequest::Auto);
        if !wants_auto || plan.pools_of(&env.name).next().is_none() {
            // Nothing to hold; the bundle says what is missing.
            return Ok(plan.clone());
        }
        let held = allocations::auto_vips(&mut *self.db.pool().acquire().await.map_err(DbError::from)?).await?;
        let address = match allocations::held_auto_vip(&held, application, environment) {
            Some(address) => address,
            None => {
                let assigned = Self::assigned_vip(cluster, plan, app, &env.name).await;
                match vip {
                    Vip::Hold(actor) => allocations::hold_auto_vip(&self.db, actor, plan, app, &env.name, assigned)
                        .await
                        .map_err(SubmitError::Vip)?,
                    Vip::Preview => {
                        let free_in_plan = match assigned {
                            Some(address) if plan.pools_of(&env.name).any(|pool| pool.contains(&address)) => {
                                allocations::get(&self.db, address).await?.is_none().then_some(address)
                            }
                            _ => None,
                        };
                        match free_in_plan {
                            Some(address) => address,
                            None => match allocations::next_free_auto_vip(&self.db, plan, &env.name).await.map_err(SubmitError::Vip)? {
                                Some(address) => address,
                                // Exhausted: the submission says so; the preview shows `auto`.
                                None => return Ok(plan.clone()),
                            },
                        }
                    }
                }
            }
        };
        let mut plan = plan.clone();
        if let Some(target) = plan
            .applications
            .iter_mut()
            .find(|a| a.name.as_str() == application)
            .and_then(|a| a.environments.get_mut(&env.name))
        {
            target.vip = VipRequest::Address(address);
        }
        Ok(plan)
    }

    /// The address LB-IPAM assigned the Service Cilium generated for the application's
    /// Gateway, when it exists and has one. A cluster that cannot be asked has none to offer:
    /// the apply reports what is wrong with it.
    async fn assigned_vip(cluster: &Cluster, plan: &Plan, app: &domain::Application, environment: &domain::EnvironmentName) -> Option<domain::IpAddr> {
        let namespace = plan.namespace_in(app, environment);
        let services: kube::Api<k8s_openapi::api::core::v1::Service> = kube::Api::namespaced(cluster.client.clone(), namespace.as_str());
        let name = vips::generated_service_name(&format!("{}-{environment}", app.name));
        match services.get_opt(&name).await {
            Ok(service) => {
                let service = serde_json::to_value(service?).ok()?;
                vips::assigned_address(&service).and_then(|address| domain::IpAddr::parse(&address).ok())
            }
            Err(error) => {
                tracing::warn!(%error, service = %name, "reading the Gateway's Service for its VIP failed");
                None
            }
        }
    }

    /// The cluster `environment` of `plan` goes to (an environment `unknown` has vetted).
    fn cluster_of(&self, plan: &Plan, environment: &str) -> Result<Cluster, SubmitError> {
        let env = plan.environments.iter().find(|e| e.name.as_str() == environment);
        let env = env.ok_or_else(|| SubmitError::NotFound(format!("there is no environment named {environment:?}")))?;
        Ok(self.clusters.of(env)?.clone())
    }

    /// The application and environment exist, the caller may act on the application (an app
    /// team only inside its scopes, as the application is placed now) and no placement is
    /// a reserved namespace (an environment's template may have changed since it was saved).
    fn allowed(&self, caller: &Principal, plan: &Plan, application: &str, environment: &str) -> Result<(), SubmitError> {
        let app = plan.application(application).filter(|app| caller.may_read_application(plan, app));
        let Some(app) = app else {
            return Err(SubmitError::NotFound(format!("there is no application named {application:?}")));
        };
        caller.require_application(plan, app)?;
        if let Some(error) = unknown(plan, application, environment) {
            return Err(error);
        }
        self.tenancy.check(plan, app).map_err(DbError::Invalid)?;
        Ok(())
    }

    /// The application's bundle for one environment with its TLS Secret — the one output that
    /// carries a private key — for a caller who may act on the application. Each `auto` VIP
    /// is as the plan holds it (`auto` until a submission holds one).
    pub async fn bundle(&self, caller: &Principal, application: &str, environment: &str) -> Result<Bundle, SubmitError> {
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let held = allocations::auto_vips(&mut *self.db.pool().acquire().await.map_err(DbError::from)?).await?;
        let plan = allocations::with_auto_vips(&plan, &held);
        let tls = certificates::tls_for(&self.db, &self.secret_key, &plan, application, environment).await?;
        let tls_pem = tls.as_ref().map(|tls| TlsPem { chain_pem: &tls.chain_pem, key_pem: &tls.key_pem });
        Ok(manifests::application_bundle_with_tls(&plan, application, environment, tls_pem)?)
    }

    /// Checks the plan, records the submission and — unless the environment is protected —
    /// starts applying it. Returns the submission's id.
    pub async fn submit(&self, caller: &Principal, application: &str, environment: &str, dry_run: bool) -> Result<i64, SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let findings = blocking_findings(&plan, application);
        if !findings.is_empty() {
            return Err(SubmitError::Checklist(findings));
        }
        certificates::require_usable(&plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        // A dry run changes nothing, the plan's allocations included.
        let vip = if dry_run { Vip::Preview } else { Vip::Hold(actor) };
        let plan = self.with_vip(&plan, application, environment, &cluster, vip).await?;
        let objects = self.objects(&plan, application, environment).await?;
        let protected = plan.environments.iter().any(|e| e.name.as_str() == environment && e.protected);
        let awaiting = protected && !dry_run;
        let (status, message) = if awaiting {
            (
                status::AWAITING_APPROVAL,
                format!("environment {environment} is protected: someone other than {actor} must approve (POST /api/v1/submissions/{{id}}/approve)"),
            )
        } else {
            (status::APPLYING, "applying".to_owned())
        };
        let id = self.record("apply", actor, application, environment, &cluster, dry_run, status, &message, &objects).await?;
        if !awaiting {
            self.jobs.job_ready();
        }
        Ok(id)
    }

    /// Approves a submission waiting for it and starts it. The requester cannot approve their
    /// own, and the plan must still produce the bundle that was requested.
    /// Someone other than the requester — whether either signed in or used an API token —
    /// lets a submission to a protected environment go ahead.
    pub async fn approve(&self, caller: &Principal, id: i64) -> Result<(), SubmitError> {
        caller.require(Role::NetworkAdmin, "approve submissions")?;
        let actor = caller.actor();
        let actor = actor.as_str();
        let submission = get(&self.db, id).await?.ok_or_else(|| not_found(id))?;
        if submission.status != status::AWAITING_APPROVAL {
            return Err(SubmitError::Conflict(format!(
                "submission {id} is {}; only a submission awaiting approval can be approved",
                submission.status
            )));
        }
        if Principal::person_of(&submission.requested_by) == Principal::person_of(actor) {
            return Err(crate::policy::Denied::new(
                "own_submission",
                format!("{actor} requested submission {id} and cannot approve it too; another person must approve it"),
            )
            .into());
        }
        let plan = plan::load_from(&self.db).await?;
        self.require_recorded_bundle(&plan, &submission, Vip::Hold(actor), "is not the one to approve").await?;
        let next = if submission.operation == "teardown" { status::TEARING_DOWN } else { status::APPLYING };
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let updated = sqlx::query(
            "UPDATE submissions SET status = $1, approved_by = $2, message = $3, updated_at = $4 WHERE id = $5 AND status = $6",
        )
        .bind(next)
        .bind(actor)
        .bind(format!("approved by {actor}"))
        .bind(now_text())
        .bind(id)
        .bind(status::AWAITING_APPROVAL)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        if updated.rows_affected() != 1 {
            return Err(SubmitError::Conflict(format!("submission {id} was approved or changed meanwhile")));
        }
        audit::record(&mut tx, actor, "submission.approve", &format!("submission/{id}"), None, None).await?;
        tx.commit().await.map_err(DbError::from)?;
        // The job applies the objects recorded with the request, which give this bundle.
        self.jobs.job_ready();
        Ok(())
    }

    /// Declines a submission waiting for approval, with the reason the requester reads. The
    /// requester may withdraw their own this way.
    pub async fn reject(&self, caller: &Principal, id: i64, reason: &str) -> Result<(), SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let withdraws = get(&self.db, id).await?.is_some_and(|submission| {
            Principal::person_of(&submission.requested_by) == Principal::person_of(actor)
        });
        if !withdraws {
            caller.require(Role::NetworkAdmin, "reject another person's submission")?;
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SubmitError::Invalid(domain::FieldError::new(
                "reason",
                "required",
                "say why the submission is rejected, so its requester knows what to change",
            )));
        }
        let message = format!("rejected by {actor}: {reason}");
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let updated = sqlx::query(
            "UPDATE submissions SET status = $1, message = $2, updated_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(status::REJECTED)
        .bind(&message)
        .bind(now_text())
        .bind(id)
        .bind(status::AWAITING_APPROVAL)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        if updated.rows_affected() != 1 {
            let submission = get(&self.db, id).await?.ok_or_else(|| not_found(id))?;
            return Err(SubmitError::Conflict(format!(
                "submission {id} is {}; only a submission awaiting approval can be rejected",
                submission.status
            )));
        }
        sqlx::query(
            "UPDATE submission_objects SET state = $1, updated_at = $2 WHERE submission_id = $3",
        )
        .bind(state::SKIPPED)
        .bind(now_text())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        let after = serde_json::json!({"status": status::REJECTED, "reason": reason});
        audit::record(
            &mut tx,
            actor,
            "submission.reject",
            &format!("submission/{id}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    /// Runs a failed job again — the same recorded objects, from the first one not confirmed —
    /// when it failed for a cause a retry can cure ([`RETRYABLE`]). Its requester or a
    /// network admin may retry it, under the approval rules it was run under: the plan must
    /// still give the recorded (and, in a protected environment, approved) bundle; a
    /// submission to an environment protected now that nobody approved waits for approval.
    pub async fn retry(&self, caller: &Principal, id: i64) -> Result<(), SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let submission = get_for(&self.db, caller, id).await?.ok_or_else(|| not_found(id))?;
        if Principal::person_of(&submission.requested_by) != Principal::person_of(actor) {
            caller.require(Role::NetworkAdmin, "retry another person's submission")?;
        }
        if submission.status != status::FAILED {
            return Err(SubmitError::Conflict(format!(
                "submission {id} is {}; only a failed submission can be retried",
                submission.status
            )));
        }
        if !submission.retryable {
            let code = submission.failure_code.as_deref().unwrap_or("a refusal");
            return Err(SubmitError::Conflict(format!(
                "submission {id} failed with {code}, which running it again cannot cure; fix what its message names and submit again"
            )));
        }
        let plan = plan::load_from(&self.db).await?;
        let environment = submission.environment.as_str();
        self.allowed(caller, &plan, &submission.application, environment)?;
        // The job applies its recorded objects; the plan must still give that bundle, so a
        // retry never applies what the plan no longer says, nor anything not approved.
        let vip = if submission.dry_run { Vip::Preview } else { Vip::Hold(&submission.requested_by) };
        self.require_recorded_bundle(&plan, &submission, vip, "is no longer the plan's").await?;
        let protected = plan.environments.iter().any(|e| e.name.as_str() == environment && e.protected);
        let (next, message) = if protected && !submission.dry_run && submission.approved_by.is_none() {
            (
                status::AWAITING_APPROVAL,
                format!("retried by {actor}; environment {environment} is protected now: someone other than {} must approve it", submission.requested_by),
            )
        } else if submission.operation == "teardown" {
            (status::TEARING_DOWN, format!("retried by {actor}"))
        } else {
            (status::APPLYING, format!("retried by {actor}"))
        };
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let updated = sqlx::query(
            "UPDATE submissions SET status = $1, message = $2, updated_at = $3, failure_code = NULL, claimed_by = NULL, heartbeat_ms = NULL \
             WHERE id = $4 AND status = $5",
        )
        .bind(next)
        .bind(&message)
        .bind(now_text())
        .bind(id)
        .bind(status::FAILED)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
        if updated.rows_affected() != 1 {
            return Err(SubmitError::Conflict(format!("submission {id} was retried or changed meanwhile")));
        }
        // What failed or was skipped is written again; what was confirmed stays confirmed.
        sqlx::query("UPDATE submission_objects SET state = $1, message = $2, updated_at = $3 WHERE submission_id = $4 AND state IN ($5, $6)")
            .bind(state::PENDING)
            .bind(&message)
            .bind(now_text())
            .bind(id)
            .bind(state::FAILED)
            .bind(state::SKIPPED)
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
        let before = serde_json::json!({"status": status::FAILED, "failure_code": submission.failure_code, "message": submission.message});
        let after = serde_json::json!({"status": next, "attempts_before": submission.attempts});
        audit::record(&mut tx, actor, "submission.retry", &format!("submission/{id}"), Some(&before), Some(&after)).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.jobs.job_ready();
        Ok(())
    }

    /// Refuses to go on with a recorded submission (an approval, a retry) unless its
    /// environment still goes to the cluster it was requested for and `plan` still gives the
    /// bundle that was recorded; `mismatch` ends the sentence when it does not.
    async fn require_recorded_bundle(&self, plan: &Plan, submission: &Submission, vip: Vip<'_>, mismatch: &str) -> Result<(), SubmitError> {
        let (id, application, environment) = (submission.id, submission.application.as_str(), submission.environment.as_str());
        let cluster = self.cluster_of(plan, environment)?;
        if cluster.name != submission.cluster {
            return Err(SubmitError::Conflict(format!(
                "environment {environment} went to cluster {} when submission {id} was requested and goes to cluster {} now; submit again",
                submission.cluster, cluster.name
            )));
        }
        let objects = match submission.operation.as_str() {
            "teardown" => self.teardown_objects(plan, application, environment)?,
            _ => {
                let plan = self.with_vip(plan, application, environment, &cluster, vip).await?;
                self.objects(&plan, application, environment).await?
            }
        };
        if recorded_bundle(&objects) != submission.bundle {
            return Err(SubmitError::Conflict(format!(
                "the plan changed since submission {id} was requested, so its bundle {mismatch}; submit again"
            )));
        }
        Ok(())
    }

    /// What a teardown deletes, in reverse apply order: the application's objects (not the
    /// environment's pools and policies, which other applications share), its Namespace only
    /// when nothing else of the plan goes to that namespace of that cluster.
    fn teardown_objects(&self, plan: &Plan, application: &str, environment: &str) -> Result<Vec<Value>, SubmitError> {
        let mut objects = manifests::application_bundle(plan, application, environment)?.into_objects();
        let app = plan.application(application).ok_or_else(|| SubmitError::NotFound(application.to_owned()))?;
        let env = plan.environments.iter().find(|e| e.name.as_str() == environment);
        let env = env.ok_or_else(|| SubmitError::NotFound(environment.to_owned()))?;
        let namespace = plan.namespace_in(app, &env.name);
        if let Some(entry) = app.environments.get(&env.name)
            && let Some(certificate) = &entry.certificate
            && plan.certificates.iter().flatten().any(|c| c.environment == env.name && c.name == *certificate)
        {
            objects.push(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": certificate.as_str(), "namespace": namespace.as_str()}}));
        }
        let shared_namespace = plan.applications.iter().any(|other| {
            other.environments.keys().filter_map(|e| plan.environment(e)).any(|other_env| {
                (other.name != app.name || other_env.name != env.name)
                    && other_env.cluster_name() == env.cluster_name()
                    && plan.namespace_in(other, &other_env.name) == namespace
            })
        });
        if shared_namespace {
            objects.retain(|object| text(object, "/kind") != "Namespace");
        }
        objects.sort_by_key(|object| std::cmp::Reverse(rank(text(object, "/kind"))));
        Ok(objects)
    }

    /// Records a teardown of an application in an environment and — unless the environment
    /// is protected — starts it.
    pub async fn teardown(&self, caller: &Principal, application: &str, environment: &str) -> Result<i64, SubmitError> {
        let actor = caller.actor();
        let actor = actor.as_str();
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        let objects = self.teardown_objects(&plan, application, environment)?;
        let protected = plan.environments.iter().any(|e| e.name.as_str() == environment && e.protected);
        let (status, message) = if protected {
            (status::AWAITING_APPROVAL, format!("environment {environment} is protected: someone other than {actor} must approve the teardown"))
        } else {
            (status::TEARING_DOWN, "deleting in reverse order".to_owned())
        };
        let id = self.record("teardown", actor, application, environment, &cluster, false, status, &message, &objects).await?;
        if !protected {
            self.jobs.job_ready();
        }
        Ok(id)
    }

    #[expect(clippy::too_many_arguments, reason = "the columns of one row")]
    async fn record(
        &self,
        operation: &str,
        actor: &str,
        application: &str,
        environment: &str,
        cluster: &Cluster,
        dry_run: bool,
        status: &str,
        message: &str,
        objects: &[Value],
    ) -> Result<i64, DbError> {
        let now = now_text();
        // What the job writes, Secrets sealed: a resumed job applies exactly this.
        let stored = jobs::seal_objects(&self.secret_key, objects)?;
        let mut tx = self.db.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO submissions (application, environment, cluster, operation, dry_run, status, message, bundle, \
             requested_by, created_at, updated_at, job_objects) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id",
        )
        .bind(application)
        .bind(environment)
        .bind(&cluster.name)
        .bind(operation)
        .bind(i64::from(dry_run))
        .bind(status)
        .bind(message)
        .bind(recorded_bundle(objects))
        .bind(actor)
        .bind(&now)
        .bind(stored)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for (position, object) in objects.iter().enumerate() {
            insert_object(&mut *tx, id, position, &identity(object), &now).await?;
        }
        let after = serde_json::json!({"application": application, "environment": environment, "operation": operation,
                                       "dry_run": dry_run, "status": status, "objects": objects.len()});
        audit::record(&mut tx, actor, &format!("submission.{operation}"), &format!("submission/{id}"), None, Some(&after)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records an object's progress; inside a job only while the job still holds its claim.
    async fn set_object(&self, id: i64, position: usize, state: &str, message: &str, answer: Option<&str>) {
        let fence = if jobs::claim().is_some() { " AND EXISTS (SELECT 1 FROM submissions WHERE id = $5 AND claim = $7)" } else { "" };
        let query = format!(
            "UPDATE submission_objects SET state = $1, message = $2, answer = COALESCE($3, answer), updated_at = $4 \
             WHERE submission_id = $5 AND position = $6{fence}"
        );
        let mut query = sqlx::query(&query)
            .bind(state)
            .bind(message)
            .bind(answer)
            .bind(now_text())
            .bind(id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX));
        if let Some(claim) = jobs::claim() {
            query = query.bind(claim);
        }
        match query.execute(self.db.pool()).await {
            // The fence held nothing: another replica holds the job now; stop writing at once.
            Ok(done) if done.rows_affected() == 0 && jobs::claim().is_some() => jobs::claim_lost(),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, id, position, "recording an object's progress failed"),
        }
    }

    async fn add_object(&self, id: i64, position: usize, object: &SubmissionObject) {
        if let Some(claim) = jobs::claim()
            && claim != self.current_claim_of(id).await
        {
            return;
        }
        if let Err(error) = insert_object(self.db.pool(), id, position, object, &now_text()).await {
            tracing::error!(%error, id, position, "recording an object failed");
        }
    }

    async fn finish(&self, id: i64, status: &str, message: &str) {
        self.finish_with(id, status, None, message).await;
    }

    /// Records a failure and its code (which says whether a retry may cure it).
    async fn fail(&self, id: i64, code: &str, message: &str) {
        self.finish_with(id, status::FAILED, Some(code), message).await;
    }

    /// Records the outcome; inside a job only while the job still holds its claim.
    async fn finish_with(&self, id: i64, status: &str, code: Option<&str>, message: &str) {
        let fence = if jobs::claim().is_some() { " AND claim = $6" } else { "" };
        let query =
            format!("UPDATE submissions SET status = $1, message = $2, updated_at = $3, failure_code = $5 WHERE id = $4{fence}");
        let mut query = sqlx::query(&query).bind(status).bind(message).bind(now_text()).bind(id).bind(code);
        if let Some(claim) = jobs::claim() {
            query = query.bind(claim);
        }
        match query.execute(self.db.pool()).await {
            Ok(done) if done.rows_affected() == 0 => tracing::warn!(id, status, "a job that lost its claim did not record its outcome"),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, id, "recording a submission's outcome failed"),
        }
    }

    /// The claim number the row carries now (0 when it cannot be read).
    async fn current_claim_of(&self, id: i64) -> i64 {
        sqlx::query("SELECT claim FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<i64, _>("claim").ok())
            .unwrap_or(0)
    }

    /// Per position, whether a run before this one confirmed the object in one of `done`.
    async fn confirmed(&self, id: i64, total: usize, done: &[&str]) -> Vec<bool> {
        let rows = sqlx::query("SELECT position, state FROM submission_objects WHERE submission_id = $1")
            .bind(id)
            .fetch_all(self.db.pool())
            .await
            .unwrap_or_default();
        let mut confirmed = vec![false; total];
        for row in rows {
            let (Ok(position), Ok(state)) = (row.try_get::<i64, _>("position"), row.try_get::<String, _>("state")) else { continue };
            if let Some(slot) = usize::try_from(position).ok().and_then(|position| confirmed.get_mut(position)) {
                *slot = done.contains(&state.as_str());
            }
        }
        confirmed
    }

    /// Runs the job of submission `id` (a worker holds its claim): the objects recorded with
    /// it, never a bundle other than the recorded one, from the first object not confirmed.
    pub(super) async fn run_job(&self, id: i64) -> Outcome {
        let submission = match get(&self.db, id).await {
            Ok(Some(submission)) => submission,
            Ok(None) => return Outcome::Finished,
            Err(error) => {
                tracing::error!(%error, id, "reading a job failed");
                return Outcome::Stopped;
            }
        };
        let Some(cluster) = self.clusters.by_name(&submission.cluster).cloned() else {
            self.fail(id, "cluster_not_configured", &format!(
                "cluster {} is not configured in this Gatehouse (--kubeconfig, --in-cluster or --cluster {}=…); configure it and retry the submission",
                submission.cluster, submission.cluster
            )).await;
            return Outcome::Finished;
        };
        let stored = sqlx::query("SELECT job_objects FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await
            .and_then(|row| row.try_get::<Option<String>, _>("job_objects"));
        let objects = match stored {
            Ok(Some(stored)) => match jobs::open_objects(&self.secret_key, &stored) {
                Ok(objects) => objects,
                Err(why) => {
                    self.fail(id, "job_unreadable", &format!("{why}; submit again")).await;
                    return Outcome::Finished;
                }
            },
            Ok(None) => {
                self.fail(id, "interrupted", "this submission was interrupted before Gatehouse recorded jobs durably, so it cannot be resumed; submit again").await;
                return Outcome::Finished;
            }
            Err(error) => {
                tracing::error!(%error, id, "reading a job's objects failed");
                return Outcome::Stopped;
            }
        };
        if recorded_bundle(&objects) != submission.bundle {
            self.fail(id, "bundle_mismatch", "the stored objects do not give the bundle that was recorded and approved, so nothing more is applied; submit again").await;
            return Outcome::Finished;
        }
        if submission.operation == "teardown" {
            let actor = submission.approved_by.as_deref().unwrap_or(&submission.requested_by).to_owned();
            self.delete(&cluster, id, objects, &actor).await
        } else {
            self.apply(&cluster, id, objects, submission.dry_run).await
        }
    }

    async fn skip_rest(&self, id: i64, from: usize, total: usize, reason: &str) {
        for position in from..total {
            self.set_object(id, position, state::SKIPPED, reason, None).await;
        }
    }

    /// Server-side apply of every object in order; stops at the first refusal. A resumed job
    /// starts at the first object an earlier run did not confirm; a stopping replica stops
    /// between objects.
    pub async fn apply(&self, cluster: &Cluster, id: i64, objects: Vec<Value>, dry_run: bool) -> Outcome {
        // Nothing is written while one of the objects exists and is not Gatehouse's.
        let Some(survey) = self.survey(cluster, id, &objects).await else { return Outcome::Finished };
        // A dry run writes nothing, so it simply runs again.
        let confirmed = if dry_run {
            vec![false; objects.len()]
        } else {
            self.confirmed(id, objects.len(), &[state::APPLIED, state::WAITING, state::READY]).await
        };
        let mut applied = Vec::new();
        // A dry run cannot create the Namespace, and an API server checks namespaced objects
        // only in a Namespace that exists: those are left out and say so.
        let mut new_namespaces = Vec::new();
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
            if confirmed[position] {
                applied.push(label);
                continue;
            }
            if jobs::stopping() {
                return Outcome::Stopped;
            }
            if dry_run && target.namespace.as_ref().is_some_and(|ns| new_namespaces.contains(ns)) {
                let namespace = target.namespace.as_deref().unwrap_or_default();
                let message = format!(
                    "not checked: namespace {namespace} does not exist yet and a server-side dry run needs it; it is created when the bundle is submitted"
                );
                self.set_object(id, position, state::SKIPPED, &message, None).await;
                continue;
            }
            if dry_run && target.kind == "Namespace" && !Self::namespace_exists(cluster, &target.name).await {
                new_namespaces.push(target.name.clone());
            }
            let result = async {
                let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
                let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
                let mut params = PatchParams::apply(FIELD_MANAGER);
                params.dry_run = dry_run;
                // An adopted object's first apply takes over the fields others hold.
                params.force = survey.force(position);
                api.patch(&target.name, &params, &Patch::Apply(object)).await
            }
            .await;
            match result {
                Ok(written) => {
                    let written_value = serde_json::to_value(&written).unwrap_or(Value::Null);
                    self.applied(cluster, id, position, &written_value, &survey, dry_run).await;
                    let version = written.metadata.resource_version.unwrap_or_default();
                    let (message, answer) = if dry_run {
                        ("accepted by a server-side dry run".to_owned(), "dry run: accepted".to_owned())
                    } else {
                        ("applied".to_owned(), format!("applied: resourceVersion {version}"))
                    };
                    self.set_object(id, position, state::APPLIED, &message, Some(&answer)).await;
                    applied.push(label);
                }
                Err(error) => {
                    let failure = failure::explain(&error, &label);
                    let message = format!("{} — {}", failure.message, failure.hint);
                    self.set_object(id, position, state::FAILED, &message, Some(&failure::answer(&error, &failure))).await;
                    self.skip_rest(id, position + 1, objects.len(), &format!("not applied: {label} failed before it")).await;
                    let done = if applied.is_empty() { "nothing was applied".to_owned() } else { format!("applied before it: {}", applied.join(", ")) };
                    self.fail(id, failure.code, &format!("{label}: {} ({}); {done}. {}", failure.message, failure.code, failure.hint))
                        .await;
                    return Outcome::Finished;
                }
            }
        }
        if dry_run {
            self.finish(id, status::VALIDATED, "every object checked passed a server-side dry run; nothing was changed").await;
            return Outcome::Finished;
        }
        self.wait(cluster, id, &objects).await
    }

    /// The Namespaces of the bundle the cluster does not have yet. A dry run does not create
    /// one, so the API server answers `namespaces "x" not found` for every object inside it.
    async fn new_namespaces(cluster: &Cluster, objects: &[Value]) -> BTreeSet<String> {
        let mut new = BTreeSet::new();
        for target in objects.iter().map(identity).filter(|t| t.kind == "Namespace") {
            if !Self::namespace_exists(cluster, &target.name).await {
                new.insert(target.name);
            }
        }
        new
    }

    async fn namespace_exists(cluster: &Cluster, name: &str) -> bool {
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(cluster.client.clone());
        // When the question fails, the dry run of the Namespace itself reports why.
        namespaces.get_opt(name).await.map(|found| found.is_some()).unwrap_or(true)
    }

    /// Waits for the Deployment to be available, the Gateway to be Programmed with an address,
    /// the VIP to be assigned and the HTTPRoute to be accepted; reports what is not ready.
    async fn wait(&self, cluster: &Cluster, id: i64, objects: &[Value]) -> Outcome {
        let deadline = tokio::time::Instant::now() + self.timeout;
        // The rows of generated objects an earlier run added are added again below.
        let total = i64::try_from(objects.len()).unwrap_or(i64::MAX);
        // Fenced like every progress write: a holder that lost its claim clears nothing.
        let fence = if jobs::claim().is_some() { " AND EXISTS (SELECT 1 FROM submissions WHERE id = $1 AND claim = $3)" } else { "" };
        let query = format!("DELETE FROM submission_objects WHERE submission_id = $1 AND position >= $2{fence}");
        let mut query = sqlx::query(&query).bind(id).bind(total);
        if let Some(claim) = jobs::claim() {
            query = query.bind(claim);
        }
        if let Err(error) = query.execute(self.db.pool()).await {
            tracing::error!(%error, id, "clearing a resumed job's generated rows failed");
        }
        let mut waits = Vec::new();
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            let condition: Option<Readiness> = match target.kind.as_str() {
                "Deployment" => Some(Readiness::DeploymentAvailable),
                "Gateway" => Some(Readiness::GatewayProgrammed),
                "HTTPRoute" => Some(Readiness::RouteAccepted),
                _ => None,
            };
            let is_gateway = target.kind == "Gateway";
            let gateway_name = target.name.clone();
            let namespace = target.namespace.clone();
            match condition {
                Some(readiness) => {
                    self.set_object(id, position, state::WAITING, readiness.waiting(), None).await;
                    waits.push((position, target, readiness));
                }
                None => self.set_object(id, position, state::READY, "applied; nothing to wait for", None).await,
            }
            if is_gateway {
                let service = SubmissionObject {
                    api_version: "v1".to_owned(),
                    kind: "Service".to_owned(),
                    namespace,
                    name: vips::generated_service_name(&gateway_name),
                    state: state::WAITING.to_owned(),
                    message: format!("created by Cilium for Gateway {gateway_name}; waiting for LB-IPAM to assign the VIP"),
                    answer: None,
                };
                let position = objects.len() + waits.len();
                self.add_object(id, position, &service).await;
                waits.push((position, service, Readiness::VipAssigned));
            }
        }
        let outcomes = join_all(waits.into_iter().map(|(position, target, readiness)| async move {
            let outcome = Self::wait_for(cluster, &target, readiness, deadline).await;
            match &outcome {
                Ok(message) => self.set_object(id, position, state::READY, message, None).await,
                Err(message) => self.set_object(id, position, state::FAILED, message, None).await,
            }
            outcome.err().map(|message| format!("{}: {message}", describe(&target.kind, target.namespace.as_deref(), &target.name)))
        }));
        // Waiting writes nothing: a stopping replica leaves it to the next holder at once.
        let outcomes = tokio::select! {
            outcomes = outcomes => outcomes,
            () = jobs::stopped() => return Outcome::Stopped,
        };
        let not_ready: Vec<String> = outcomes.into_iter().flatten().collect();
        if not_ready.is_empty() {
            self.finish(id, status::READY, "every object is ready").await;
        } else {
            self.fail(id, "not_ready", &format!("not ready after {} s: {}", self.timeout.as_secs(), not_ready.join("; ")))
                .await;
        }
        Outcome::Finished
    }

    async fn wait_for(cluster: &Cluster, target: &SubmissionObject, readiness: Readiness, deadline: tokio::time::Instant) -> Result<String, String> {
        let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
        let (resource, capabilities) =
            cluster.resource(&target.api_version, &target.kind).await.map_err(|e| failure::explain(&e, &label).to_string())?;
        let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
        let check = move |object: Option<&DynamicObject>| object.is_some_and(|o| readiness.why_not(&o.data).is_none());
        match tokio::time::timeout_at(deadline, await_condition(api.clone(), &target.name, check)).await {
            Ok(Ok(Some(object))) => Ok(readiness.ready(&object.data)),
            Ok(Ok(None)) => Err("it was deleted while Gatehouse waited for it".to_owned()),
            Ok(Err(error)) => {
                let failure = failure::explain_wait(&error, &label);
                Err(format!("Gatehouse could not watch it: {} — {}", failure.message, failure.hint))
            }
            Err(_) => {
                let why = match api.get_opt(&target.name).await {
                    Ok(Some(object)) => readiness.why_not(&object.data).unwrap_or_else(|| "it became ready just now".to_owned()),
                    Ok(None) => "it does not exist".to_owned(),
                    Err(error) => failure::explain(&error, &label).to_string(),
                };
                Err(format!("{} — {why}", readiness.timed_out()))
            }
        }
    }

    /// Deletes every object in order that is Gatehouse's to delete (already gone counts as
    /// deleted; anything else is kept and says why — see `ownership`), then releases the
    /// application's VIPs in the environment's pools.
    pub async fn delete(&self, cluster: &Cluster, id: i64, objects: Vec<Value>, actor: &str) -> Outcome {
        // The application's namespace: its Deployment's, which every bundle has.
        let app_namespace = objects
            .iter()
            .find(|object| text(object, "/kind") == "Deployment")
            .and_then(|object| object.pointer("/metadata/namespace"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut deleted = Vec::new();
        let mut kept = Vec::new();
        // A resumed teardown starts at the first object an earlier run did not settle.
        let settled = self.confirmed(id, objects.len(), &[state::DELETED]).await;
        let left = self.confirmed(id, objects.len(), &[state::KEPT]).await;
        for (position, object) in objects.iter().enumerate() {
            let target = identity(object);
            let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
            if settled[position] {
                deleted.push(label);
                continue;
            }
            if left[position] {
                kept.push(label);
                continue;
            }
            if jobs::stopping() {
                return Outcome::Stopped;
            }
            let result = match self.verdict(cluster, &target, app_namespace.as_deref()).await {
                Verdict::Keep(message) => {
                    self.set_object(id, position, state::KEPT, &message, None).await;
                    kept.push(label);
                    continue;
                }
                Verdict::Gone(answer) => {
                    self.set_object(id, position, state::DELETED, "was already gone", Some(&answer)).await;
                    continue;
                }
                Verdict::Failed(error) => Err(error),
                Verdict::Delete => {
                    async {
                        let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
                        let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
                        api.delete(&target.name, &DeleteParams::default()).await
                    }
                    .await
                }
            };
            match result {
                Ok(_) => {
                    self.set_object(id, position, state::DELETED, "deleted", Some("deleted")).await;
                    if target.kind == "Namespace" {
                        self.forget_namespace(&cluster.name, &target.name).await;
                    }
                    deleted.push(label);
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    self.set_object(id, position, state::DELETED, "was already gone", Some(&status.message)).await;
                }
                Err(error) => {
                    let failure = failure::explain(&error, &label);
                    let message = format!("{} — {}", failure.message, failure.hint);
                    self.set_object(id, position, state::FAILED, &message, Some(&failure::answer(&error, &failure))).await;
                    self.skip_rest(id, position + 1, objects.len(), &format!("not deleted: {label} failed before it")).await;
                    self.fail(id, failure.code, &format!("{label}: {} ({}); deleted before it: {}. {}", failure.message, failure.code,
                        if deleted.is_empty() { "nothing".to_owned() } else { deleted.join(", ") }, failure.hint)).await;
                    return Outcome::Finished;
                }
            }
        }
        let released = self.release_vips(id, actor).await;
        let released = if released.is_empty() { "no VIP was allocated to it".to_owned() } else { format!("released {}", released.join(", ")) };
        let kept = if kept.is_empty() {
            String::new()
        } else {
            format!("; left {} in place that Gatehouse did not create or may not delete: {}", kept.len(), kept.join(", "))
        };
        self.finish(id, status::TORN_DOWN, &format!("deleted {}{kept}; {released}", domain::counted(deleted.len(), "object"))).await;
        Outcome::Finished
    }

    async fn release_vips(&self, id: i64, actor: &str) -> Vec<String> {
        let Ok(Some(submission)) = get(&self.db, id).await else { return Vec::new() };
        let Ok(plan) = plan::load_from(&self.db).await else { return Vec::new() };
        let Some(environment) = plan.environments.iter().find(|e| e.name.as_str() == submission.environment) else {
            return Vec::new();
        };
        let mut released = Vec::new();
        for pool in plan.pools_of(&environment.name) {
            let Some(pool_id) = pool.id else { continue };
            let Ok(holdings) = allocations::list(&self.db, pool_id).await else { continue };
            for holding in holdings {
                if holding.state == allocations::AddressState::Allocated
                    && holding.application.as_ref().is_some_and(|a| a.as_str() == submission.application)
                {
                    let reason = format!("teardown of {} in {} (submission {id})", submission.application, submission.environment);
                    match allocations::release(&self.db, &Principal::system(actor), holding.address, Some(&reason)).await {
                        Ok(_) => released.push(holding.address.to_string()),
                        Err(error) => tracing::warn!(%error, address = %holding.address, "releasing a VIP after teardown failed"),
                    }
                }
            }
        }
        released
    }
}

/// What "ready" means for a kind, read from its status.
#[derive(Debug, Clone, Copy)]
enum Readiness {
    DeploymentAvailable,
    GatewayProgrammed,
    RouteAccepted,
    VipAssigned,
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object.pointer("/status/conditions").and_then(Value::as_array)?.iter().find(|c| c["type"] == kind)
}

fn condition_text(condition: Option<&Value>, kind: &str) -> String {
    match condition {
        Some(c) => format!("{kind} is {} ({}: {})", text(c, "/status"), text(c, "/reason"), text(c, "/message")),
        None => format!("no {kind} condition yet: no controller has reported on it"),
    }
}

impl Readiness {
    fn waiting(self) -> &'static str {
        match self {
            Readiness::DeploymentAvailable => "waiting for the Deployment to be Available",
            Readiness::GatewayProgrammed => "waiting for the Gateway to be Programmed with an address",
            Readiness::RouteAccepted => "waiting for the HTTPRoute to be Accepted by its Gateway",
            Readiness::VipAssigned => "waiting for LB-IPAM to assign the VIP",
        }
    }

    fn timed_out(self) -> &'static str {
        match self {
            Readiness::DeploymentAvailable => "the Deployment is not Available",
            Readiness::GatewayProgrammed => "the Gateway is not Programmed",
            Readiness::RouteAccepted => "the HTTPRoute is not Accepted",
            Readiness::VipAssigned => "no VIP is assigned",
        }
    }

    /// `None` when ready; otherwise why not, from the object's status.
    fn why_not(self, object: &Value) -> Option<String> {
        match self {
            Readiness::DeploymentAvailable => {
                let available = condition(object, "Available");
                let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
                let observed = object.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
                (available.is_none_or(|c| c["status"] != "True") || observed < generation)
                    .then(|| condition_text(available, "Available"))
            }
            Readiness::GatewayProgrammed => {
                let programmed = condition(object, "Programmed");
                let address = object.pointer("/status/addresses/0/value").and_then(Value::as_str);
                (programmed.is_none_or(|c| c["status"] != "True") || address.is_none())
                    .then(|| condition_text(programmed, "Programmed"))
            }
            Readiness::RouteAccepted => {
                let parents = object.pointer("/status/parents").and_then(Value::as_array).cloned().unwrap_or_default();
                let refused: Vec<String> = parents
                    .iter()
                    .filter_map(|parent| {
                        let accepted = condition(&serde_json::json!({"status": parent}), "Accepted").cloned();
                        accepted
                            .as_ref()
                            .is_none_or(|c| c["status"] != "True")
                            .then(|| condition_text(accepted.as_ref(), &format!("Accepted by {}", text(parent, "/parentRef/name"))))
                    })
                    .collect();
                if parents.is_empty() {
                    Some("no Gateway has reported on it yet (status.parents is empty)".to_owned())
                } else if refused.is_empty() {
                    None
                } else {
                    Some(refused.join("; "))
                }
            }
            Readiness::VipAssigned => match vips::assigned_address(object) {
                Some(_) => None,
                None => Some(condition_text(condition(object, "io.cilium/lb-ipam-request-satisfied"), "LB-IPAM request satisfied")),
            },
        }
    }

    fn ready(self, object: &Value) -> String {
        match self {
            Readiness::DeploymentAvailable => format!(
                "Available: {} of {} replicas",
                object.pointer("/status/availableReplicas").and_then(Value::as_i64).unwrap_or(0),
                object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
            ),
            Readiness::GatewayProgrammed => format!("Programmed at {}", text(object, "/status/addresses/0/value")),
            Readiness::RouteAccepted => "Accepted by its Gateway".to_owned(),
            Readiness::VipAssigned => {
                let labels: Vec<String> = vips::labels_of(object).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("VIP {} assigned; labels {}", vips::assigned_address(object).unwrap_or_default(), labels.join(", "))
            }
        }
    }
}

fn not_found(id: i64) -> SubmitError {
    SubmitError::NotFound(format!("there is no submission {id}; GET /api/v1/applications/{{app}}/submissions lists them"))
}

const SUBMISSION_COLUMNS: &str = "id, application, environment, cluster, operation, dry_run, status, message, bundle, \
    requested_by, approved_by, created_at, updated_at, attempts, claimed_by, failure_code";

/// The failure codes a retry may cure: the cluster could not be reached or answered with a
/// server error, an object changed while it was written, it was not ready in time, or the
/// job was interrupted before jobs were durable.
pub const RETRYABLE: &[&str] = &["cluster_unreachable", "api_error", "conflict", "not_ready", "cluster_not_configured"];

fn submission_from(row: &sqlx::any::AnyRow) -> Result<Submission, DbError> {
    Ok(Submission {
        id: row.try_get("id")?,
        application: row.try_get("application")?,
        environment: row.try_get("environment")?,
        cluster: row.try_get("cluster")?,
        operation: row.try_get("operation")?,
        dry_run: row.try_get::<i64, _>("dry_run")? != 0,
        status: row.try_get("status")?,
        message: row.try_get("message")?,
        bundle: row.try_get("bundle")?,
        requested_by: row.try_get("requested_by")?,
        approved_by: row.try_get("approved_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        objects: Vec::new(),
        attempts: row.try_get("attempts")?,
        claimed_by: row.try_get("claimed_by")?,
        retryable: false,
        failure_code: row.try_get("failure_code")?,
    })
    .map(|mut submission: Submission| {
        submission.retryable = submission.status == status::FAILED
            && submission.failure_code.as_deref().is_some_and(|code| RETRYABLE.contains(&code));
        submission
    })
}

/// Whether the caller may read the submissions of `application`: an app team those of the
/// applications inside its scopes.
async fn may_read(db: &Database, caller: &Principal, application: &str) -> Result<bool, DbError> {
    if caller.role != Role::AppTeam {
        return Ok(true);
    }
    let plan = plan::load_from(db).await?;
    Ok(plan.application(application).is_some_and(|app| caller.may_read_application(&plan, app)))
}

/// One submission the caller may read, with its objects in apply order.
pub async fn get_for(db: &Database, caller: &Principal, id: i64) -> Result<Option<Submission>, DbError> {
    match get(db, id).await? {
        Some(submission) if may_read(db, caller, &submission.application).await? => Ok(Some(submission)),
        _ => Ok(None),
    }
}

/// The submissions of an application the caller may read, newest first; `NotFound` for
/// another team's application.
pub async fn list_for(db: &Database, caller: &Principal, application: &str) -> Result<Vec<Submission>, DbError> {
    if !may_read(db, caller, application).await? {
        return Err(DbError::NotFound(format!("there is no application named {application:?}")));
    }
    list(db, application).await
}

/// One submission with its objects in apply order.
pub async fn get(db: &Database, id: i64) -> Result<Option<Submission>, DbError> {
    let Some(row) = sqlx::query(&format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let mut submission = submission_from(&row)?;
    let rows = sqlx::query(
        "SELECT api_version, kind, namespace, name, state, message, answer FROM submission_objects \
         WHERE submission_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    submission.objects = rows.iter().map(object_from).collect::<Result<_, DbError>>()?;
    Ok(Some(submission))
}

fn object_from(row: &sqlx::any::AnyRow) -> Result<SubmissionObject, DbError> {
    Ok(SubmissionObject {
        api_version: row.try_get("api_version")?,
        kind: row.try_get("kind")?,
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        state: row.try_get("state")?,
        message: row.try_get("message")?,
        answer: row.try_get("answer")?,
    })
}

/// The latest submission of every application (or of those in `only`) and environment, with
/// its objects, keyed by `(application, environment)`: two queries for the applications page,
/// however many applications it lists (not two per application and environment).
pub async fn latest_per_target(db: &Database, only: Option<&[&str]>) -> Result<HashMap<(String, String), Submission>, DbError> {
    let latest = match only {
        Some([]) => return Ok(HashMap::new()),
        Some(applications) => {
            let placeholders: Vec<String> = (1..=applications.len()).map(|n| format!("${n}")).collect();
            format!("SELECT MAX(id) FROM submissions WHERE application IN ({}) GROUP BY application, environment", placeholders.join(", "))
        }
        None => "SELECT MAX(id) FROM submissions GROUP BY application, environment".to_owned(),
    };
    let rows_sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id IN ({latest})");
    let objects_sql = format!(
        "SELECT submission_id, api_version, kind, namespace, name, state, message, answer FROM submission_objects \
         WHERE submission_id IN ({latest}) ORDER BY submission_id, position"
    );
    let (mut rows, mut objects) = (sqlx::query(&rows_sql), sqlx::query(&objects_sql));
    for application in only.unwrap_or_default() {
        rows = rows.bind(*application);
        objects = objects.bind(*application);
    }
    let rows = rows.fetch_all(db.pool()).await?;
    let mut by_id: HashMap<i64, Submission> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let submission = submission_from(row)?;
        by_id.insert(submission.id, submission);
    }
    let objects = objects.fetch_all(db.pool()).await?;
    for row in &objects {
        let id: i64 = row.try_get("submission_id")?;
        if let Some(submission) = by_id.get_mut(&id) {
            submission.objects.push(object_from(row)?);
        }
    }
    Ok(by_id.into_values().map(|submission| ((submission.application.clone(), submission.environment.clone()), submission)).collect())
}

/// The submissions waiting for a network admin's approval, oldest first, without their
/// objects and bundles.
pub async fn awaiting_approval(db: &Database) -> Result<Vec<Submission>, DbError> {
    summaries(db, "status = $1 ORDER BY id", status::AWAITING_APPROVAL).await
}

/// The submissions `condition` (with one `$1`, bound to `value`) picks, without their objects
/// and bundles.
async fn summaries(db: &Database, condition: &str, value: &str) -> Result<Vec<Submission>, DbError> {
    let rows = sqlx::query(&format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE {condition}"))
        .bind(value)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let mut submission = submission_from(row)?;
            submission.bundle.clear();
            Ok(submission)
        })
        .collect()
}

/// How many submissions there are of each operation and status: `(operation, status, count)`.
pub async fn counts(db: &Database) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows = sqlx::query("SELECT operation, status, COUNT(*) AS n FROM submissions GROUP BY operation, status")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("operation")?, row.try_get("status")?, row.try_get("n")?)))
        .collect()
}

/// An application's submissions, newest first, without their objects and bundles.
pub async fn list(db: &Database, application: &str) -> Result<Vec<Submission>, DbError> {
    summaries(db, "application = $1 ORDER BY id DESC", application).await
}

/// How a field of the bundle compares with the live object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// `.spec.replicas`, as the API server writes fields.
    pub field: String,
    /// `added`, `changed` or `unchanged`.
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    pub desired: Value,
}

/// One object of a preview: its YAML and its fields against the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewObject {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Whether the object exists in the cluster now.
    pub live: bool,
    /// The YAML Gatehouse would apply (a Secret's values hidden).
    pub yaml: String,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub fields: Vec<FieldChange>,
    /// Why the server-side dry run did not run or failed, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the preview left to the API server at apply time, and why: an object in a
    /// namespace this submission creates cannot be dry-run (a dry run creates nothing, so
    /// the API server answers 404 for the namespace), and is not a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

const HIDDEN: &str = "(hidden)";

fn hide_secret(object: &Value) -> Value {
    let mut object = object.clone();
    if text(&object, "/kind") == "Secret"
        && let Some(data) = object.get_mut("data").and_then(Value::as_object_mut)
    {
        for value in data.values_mut() {
            *value = Value::String(HIDDEN.to_owned());
        }
    }
    object
}

impl Submitter {
    /// Each object's YAML and a field-level diff against the live cluster, computed from a
    /// server-side-apply dry run (so defaults and other managers' fields are as the API server
    /// would leave them). Nothing is written.
    pub async fn preview(&self, caller: &Principal, application: &str, environment: &str) -> Result<Vec<PreviewObject>, SubmitError> {
        let plan = plan::load_from(&self.db).await?;
        self.allowed(caller, &plan, application, environment)?;
        let cluster = self.cluster_of(&plan, environment)?;
        let plan = self.with_vip(&plan, application, environment, &cluster, Vip::Preview).await?;
        let objects = self.objects(&plan, application, environment).await?;
        let new_namespaces = Self::new_namespaces(&cluster, &objects).await;
        let mut preview = Vec::new();
        for object in &objects {
            let target = identity(object);
            let label = describe(&target.kind, target.namespace.as_deref(), &target.name);
            if let Some(namespace) = target.namespace.as_ref().filter(|ns| new_namespaces.contains(*ns)) {
                let info = format!(
                    "new: its namespace {namespace} is created by this submission; the server checks it when it is applied"
                );
                let live = Live { exists: false, value: None };
                preview.push(preview_object(target, object, live, object, None, Some(info)));
                continue;
            }
            let outcome = async {
                let (resource, capabilities) = cluster.resource(&target.api_version, &target.kind).await?;
                let api = cluster.api(&resource, &capabilities, target.namespace.as_deref());
                let live = api.get_opt(&target.name).await?;
                let mut params = PatchParams::apply(FIELD_MANAGER).dry_run();
                // An adopted object's next apply takes over the fields others hold: so does its preview.
                params.force = matches!(self.pending_adoption(&cluster.name, &target).await, Ok(Some(_)));
                let dry = api.patch(&target.name, &params, &Patch::Apply(object)).await;
                Ok::<_, kube::Error>((live, dry))
            }
            .await;
            let (live, result, note) = match outcome {
                Ok((live, Ok(result))) => (live, serde_json::to_value(result).unwrap_or(Value::Null), None),
                Ok((live, Err(error))) => {
                    (live, object.clone(), Some(format!("the dry run was refused: {}", failure::explain(&error, &label))))
                }
                Err(error) => (None, object.clone(), Some(format!("the cluster could not be asked: {}", failure::explain(&error, &label)))),
            };
            let live_value = live.as_ref().and_then(|live| serde_json::to_value(live).ok());
            let note = match &live_value {
                Some(live) if !is_managed(live) => Some(ownership::refusal(&target, live, application, environment)),
                _ => note,
            };
            let live = Live { exists: live.is_some(), value: live_value.as_ref() };
            preview.push(preview_object(target, object, live, &result, note, None));
        }
        Ok(preview)
    }
}

/// The live object of a preview: whether it exists, and as JSON.
struct Live<'a> {
    exists: bool,
    value: Option<&'a Value>,
}

/// One object of a preview: each field of `object` as `result` (the dry run's answer, or the
/// object itself) would leave it, against the live object.
fn preview_object(
    target: SubmissionObject,
    object: &Value,
    live: Live<'_>,
    result: &Value,
    note: Option<String>,
    info: Option<String>,
) -> PreviewObject {
    let mut fields = Vec::new();
    for path in super::fields::leaves(object) {
        let desired = super::fields::get(result, &path).or_else(|| super::fields::get(object, &path)).cloned().unwrap_or(Value::Null);
        let before = live.value.and_then(|live| super::fields::get(live, &path)).cloned();
        let change = match &before {
            None => "added",
            Some(before) if *before == desired => "unchanged",
            Some(_) => "changed",
        };
        let secret = target.kind == "Secret" && path.first().is_some_and(|p| p == "data");
        let hide = |value: Value| if secret { Value::String(HIDDEN.to_owned()) } else { value };
        fields.push(FieldChange { field: super::fields::display(&path), change, live: before.map(hide), desired: hide(desired) });
    }
    let count = |kind: &str| fields.iter().filter(|f| f.change == kind).count();
    let mut yaml = Bundle::new();
    let _ = yaml.push(&hide_secret(object));
    PreviewObject {
        api_version: target.api_version,
        kind: target.kind,
        namespace: target.namespace,
        name: target.name,
        live: live.exists,
        yaml: yaml.to_yaml().trim_start_matches("---\n").to_owned(),
        added: count("added"),
        changed: count("changed"),
        unchanged: count("unchanged"),
        fields,
        note,
        info,
    }
}

/// One object's row of a submission, in the state and with the message it has.
async fn insert_object<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
    position: usize,
    object: &SubmissionObject,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO submission_objects (submission_id, position, api_version, kind, namespace, name, state, message, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(i64::try_from(position).unwrap_or(i64::MAX))
    .bind(&object.api_version)
    .bind(&object.kind)
    .bind(&object.namespace)
    .bind(&object.name)
    .bind(&object.state)
    .bind(&object.message)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}
