//! Server functions of verification (issue 22): run the four checks of an application
//! environment from the portal, and read the latest runs — the same as
//! `/api/v1/applications/{app}/environments/{env}/verifications`. Policy lives in
//! `backend::verify`.
use leptos::prelude::*;
pub use views::verification::{CheckResult, Outcome, Verification, Verifications};

use super::AppError;

/// The latest portal run, the latest client report and the history.
#[server]
pub async fn get_verifications(application: String, environment: String) -> Result<Verifications, AppError> {
    let db = crate::api::context::use_database()?;
    let caller = crate::api::context::current()?;
    Ok(backend::verify::list(&db, &caller, &application, &environment).await?)
}

/// Runs the checks now, from the portal, and records them.
#[server]
pub async fn verify_environment(application: String, environment: String) -> Result<Verification, AppError> {
    use backend::{
        cluster::{label_fix, submissions::Submitter},
        verify::SharedDialer,
    };
    let db = crate::api::context::use_database()?;
    let caller = crate::api::context::current()?;
    let (Some(submitter), Some(dialer)) = (use_context::<Submitter>(), use_context::<SharedDialer>()) else {
        tracing::error!("no Submitter or verification dialer in the Leptos context");
        return Err(AppError::Internal);
    };
    let label_fix_on = label_fix::enabled(&db).await.ok();
    let now = backend::plan::now_unix();
    Ok(backend::verify::verify(&db, Some(&submitter.clusters), dialer.as_ref(), &caller, &application, &environment, label_fix_on, now).await?)
}
