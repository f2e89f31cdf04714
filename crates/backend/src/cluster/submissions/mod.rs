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

pub use views::submissions::{ObjectState, Operation, SubmissionStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmissionObject {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub state: ObjectState,
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
    pub operation: Operation,
    pub dry_run: bool,
    pub status: SubmissionStatus,
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
        state: ObjectState::Pending,
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

mod workflow;
mod executor;
mod readiness;
mod store;
mod preview;

pub use {preview::*, store::*};
use readiness::*;
