//! Server functions of the Approvals pages: submissions to protected environments waiting for
//! a network admin other than their requester, with the bundle and its diff against the
//! cluster. The same operations are `/api/v1/approvals` and `/api/v1/submissions/{id}/…`.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalSummary {
    pub id: i64,
    pub application: String,
    pub environment: String,
    pub operation: super::cluster::Operation,
    pub requested_by: String,
    pub created_at: String,
    /// Requested by the caller, who therefore cannot approve it.
    pub own: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDetail {
    pub summary: ApprovalSummary,
    pub status: super::cluster::SubmissionStatus,
    pub message: String,
    /// The multi-document YAML that was requested (Secret data left out).
    pub bundle: String,
    /// An apply's objects against the cluster; empty for a teardown.
    pub diff: Vec<super::applications::PreviewItem>,
    /// A teardown's objects, in the order they are deleted.
    pub deletes: Vec<String>,
    /// Why the diff could not be computed (the cluster unreachable, the plan changed…).
    pub diff_failure: Option<String>,
}

#[cfg(feature = "ssr")]
fn summary(
    submission: &crate::backend::cluster::submissions::Submission,
    caller: &crate::backend::auth::Principal,
) -> ApprovalSummary {
    use crate::backend::auth::Principal;
    ApprovalSummary {
        id: submission.id,
        application: submission.application.clone(),
        environment: submission.environment.clone(),
        operation: submission.operation,
        requested_by: submission.requested_by.clone(),
        created_at: submission.created_at.clone(),
        own: Principal::person_of(&submission.requested_by) == caller.name,
    }
}

/// The submissions waiting for approval, oldest first.
#[server]
pub async fn list_approvals() -> Result<Vec<ApprovalSummary>, AppError> {
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    let waiting = crate::backend::cluster::submissions::awaiting_approval(&db).await?;
    Ok(waiting
        .iter()
        .map(|submission| summary(submission, &caller))
        .collect())
}

/// A submission with its bundle and, while it waits, the diff an approval would apply.
#[server]
pub async fn get_approval(id: i64) -> Result<ApprovalDetail, AppError> {
    use crate::backend::cluster::submissions::{self, Operation, SubmissionStatus, Submitter};
    let caller = crate::api::context::current()?;
    let db = crate::api::context::use_database()?;
    let submission = submissions::get(&db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no submission {id}")))?;
    let waiting = submission.status == SubmissionStatus::AwaitingApproval;
    let (mut diff, mut deletes, mut diff_failure) = (Vec::new(), Vec::new(), None);
    if submission.operation == Operation::Teardown {
        deletes = submission
            .objects
            .iter()
            .map(|o| match &o.namespace {
                Some(namespace) => format!("{} {namespace}/{}", o.kind, o.name),
                None => format!("{} {}", o.kind, o.name),
            })
            .collect();
    } else if waiting {
        let submitter = use_context::<Submitter>().ok_or_else(|| {
            tracing::error!("no Submitter in the Leptos context");
            AppError::Internal
        })?;
        match submitter
            .preview(&caller, &submission.application, &submission.environment)
            .await
        {
            Ok(objects) => diff = objects.into_iter().map(Into::into).collect(),
            Err(error) => diff_failure = Some(error.to_string()),
        }
    }
    Ok(ApprovalDetail {
        summary: summary(&submission, &caller),
        status: submission.status,
        message: submission.message.clone(),
        bundle: submission.bundle,
        diff,
        deletes,
        diff_failure,
    })
}

#[server]
pub async fn approve_submission(id: i64) -> Result<(), AppError> {
    let caller = crate::api::context::current()?;
    let submitter = use_context::<crate::backend::cluster::submissions::Submitter>()
        .ok_or(AppError::Internal)?;
    Ok(submitter.approve(&caller, id).await?)
}

#[server]
pub async fn reject_submission(id: i64, reason: String) -> Result<(), AppError> {
    let caller = crate::api::context::current()?;
    let submitter = use_context::<crate::backend::cluster::submissions::Submitter>()
        .ok_or(AppError::Internal)?;
    Ok(submitter.reject(&caller, id, &reason).await?)
}
